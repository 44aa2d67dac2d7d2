"""The OpenVINO encoder of mean-pooling BERT models (the default all-MiniLM-L6-v2).

Three one-time steps, each cached under ``cache_dir/openvino`` and reused by every process:

1. conversion to OpenVINO IR, with mean pooling and normalisation inside the graph (same
   vectors as sentence-transformers, cosine > 0.9999); this step alone needs torch;
2. for ``int8``, post-training quantisation with NNCF, calibrated on the fixed text bundled
   as ``calibration.txt``, so that every machine with the same NNCF makes the same model
   (twice the speed of fp32 on two cores; cosine to the fp32 vectors about 0.996);
3. compilation, kept in OpenVINO's model cache (``CACHE_DIR``), so that a fresh process
   loads the compiled model instead of compiling it again.

The encoder's identity (``encoder_id``) names the precision and, for int8, the NNCF version
and the calibration recipe: the index records it, so that queries are embedded by exactly the
encoder that embedded the documents (see ``ancre.index.embed``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import shutil
import sys
import threading
from functools import cached_property
from importlib.resources import files
from pathlib import Path

import numpy as np

from .privacy import no_telemetry
from .quiet import quiet_progress_bars, quiet_transformers

log = logging.getLogger(__name__)

PRECISIONS = ("int8", "fp32")
CALIBRATION = "calibration.txt"
RECIPE = "nncf.quantize transformer, all calibration texts one per batch, v1"
"""Changing how the int8 model is made must change this text (and so the encoder id)."""


def calibration_texts() -> list[str]:
    """The bundled calibration samples: blocks separated by blank lines (article chunks,
    paragraphs and questions of the sample corpus, a few English lines)."""
    text = files("ancre.index").joinpath(CALIBRATION).read_text(encoding="utf-8")
    return [block.strip() for block in text.split("\n\n") if block.strip()]


def encoder_id(precision: str) -> str:
    """``fp32``, or ``int8-nncf<version>-<recipe hash>``. Computed without loading anything:
    the writer compares it with the index's manifest before embedding."""
    if precision == "fp32":
        return "fp32"
    if precision != "int8":
        raise ValueError(f"unknown embedding precision {precision!r}: int8 or fp32")
    try:
        version = importlib.metadata.version("nncf")
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            "int8 embeddings need NNCF: pip install nncf (or choose fp32: "
            "--embed-precision fp32 / ANCRE_EMBED_PRECISION=fp32)"
        ) from None
    recipe = files("ancre.index").joinpath(CALIBRATION).read_bytes() + RECIPE.encode()
    return f"int8-nncf{version}-{hashlib.sha256(recipe).hexdigest()[:10]}"


def model_dir(location: str, cache_dir: Path) -> Path:
    """Where the fp32 IR of the model at ``location`` is cached (one folder per model)."""
    key = hashlib.sha1(location.encode()).hexdigest()[:12]
    return cache_dir / "openvino" / f"{Path(location).name}-{key}"


class OpenVINOEncoder:
    """Embeds token batches with the cached IR of ``encoder`` (see the module docstring)."""

    def __init__(self, location: str, cache_dir: Path, encoder: str, tokenizer):
        no_telemetry()
        import openvino as ov

        self.encoder = encoder
        self.tokenizer = tokenizer
        fp32 = model_dir(location, cache_dir) / "model.xml"
        if not fp32.exists():
            _convert(location, fp32, tokenizer)
        xml = fp32
        if encoder != "fp32":
            xml = fp32.parent / encoder / "model.xml"
            if not xml.exists():
                if encoder != encoder_id("int8"):
                    raise RuntimeError(
                        f"the index was embedded by encoder {encoder}, which is not in "
                        f"{xml.parent.parent} and this NNCF makes {encoder_id('int8')}: "
                        "re-embed the index with `ancre index build SOURCE... --index-dir DIR`"
                    )
                _quantize(fp32, xml, tokenizer)
        self._xml = str(xml)
        self._core = ov.Core()
        self._cache = str(cache_dir / "openvino" / "compiled")
        self._lock = threading.Lock()  # one inference at a time: callers take turns

    def _compile(self, hint: str):
        config = {"PERFORMANCE_HINT": hint, "CACHE_DIR": self._cache}
        return self._core.compile_model(self._xml, "CPU", config)

    @cached_property
    def model(self):
        """The model compiled for latency (a query, a few texts), on first use: a build
        only needs the throughput one (``_bulk``), and each compilation costs 0.3-0.6 s."""
        return self._compile("LATENCY")

    @cached_property
    def dim(self) -> int:
        """The vectors' dimension, from whichever model is compiled already."""
        compiled = self.__dict__.get("_bulk_model") or self.model
        return int(compiled.outputs[0].get_partial_shape()[1].get_length())

    @cached_property
    def _bulk_model(self):
        return self._compile("THROUGHPUT")

    @cached_property
    def _bulk(self):
        """The same model compiled for throughput (one stream per core) and its queue of
        requests: 1.4x the chunks/s of the latency model on two busy cores (67 against 48,
        300 PIAF chunks, batch 32). Compiled on the first call with many texts."""
        from openvino import AsyncInferQueue

        model = self._bulk_model
        return AsyncInferQueue(model, model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False):
        """Normalised vectors of ``texts``: one batch on the latency model (a query), more
        on the throughput model, batches of similar lengths in flight together."""
        from tqdm import tqdm

        steps = range(0, len(texts), batch_size)
        with self._lock:  # the models are compiled on first use, here
            if len(texts) <= batch_size:
                out = np.zeros((len(texts), self.dim), dtype="float32")
                out[:] = self.model(self.tokenizer.batch(texts))[0]
                return out
            # similar lengths share a batch: each text tokenised once, batches made by word
            # pieces (on PIAF's chunks as the writer hands them over, padding added 8% to the
            # word pieces encoded when batches were made by characters, 2% now)
            encodings = self.tokenizer.encode(texts)
            if encodings is not None:
                lengths = [len(e.ids) for e in encodings]
            else:
                lengths = [len(t) for t in texts]
            order = np.argsort(lengths, kind="stable")[::-1]
            queue = self._bulk
            out = np.zeros((len(texts), self.dim), dtype="float32")

            def done(request, idx) -> None:
                out[idx] = request.get_output_tensor(0).data

            queue.set_callback(done)
            for i in tqdm(steps, desc="embedding", unit="batch", disable=not progress):
                idx = order[i : i + batch_size]
                if encodings is not None:
                    inputs = self.tokenizer.pad([encodings[j] for j in idx])
                else:
                    inputs = self.tokenizer.batch([texts[j] for j in idx])
                queue.start_async(inputs, idx)
            queue.wait_all()
        return out


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished folder into place; another process may have won the race."""
    try:
        tmp.rename(final)
    except OSError:
        if not (final / "model.xml").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _convert(location: str, xml: Path, tokenizer) -> None:
    no_telemetry()
    import openvino as ov
    import torch
    from transformers import AutoModel

    log.info("converting %s to OpenVINO once, into %s", location, xml.parent)
    quiet_transformers()
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

    example = {k: torch.from_numpy(v) for k, v in tokenizer.batch(["un exemple"]).items()}
    converted = ov.convert_model(Pooled(bert), example_input=example)
    tmp = xml.parent.with_name(xml.parent.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    ov.save_model(converted, str(tmp / xml.name))
    _publish(tmp, xml.parent)


def _quantize(fp32: Path, xml: Path, tokenizer) -> None:
    """int8 post-training quantisation of the fp32 IR, calibrated on ``calibration.txt``."""
    no_telemetry()
    try:
        import nncf
    except ImportError:
        raise RuntimeError(
            "int8 embeddings need NNCF: pip install nncf (or --embed-precision fp32)"
        ) from None
    import openvino as ov

    samples = [tokenizer.batch([text]) for text in calibration_texts()]
    log.warning("preparing the embedding model, once: int8 quantisation (about a minute)")
    log.info("quantising into %s", xml.parent)
    nncf.set_log_level(logging.ERROR)
    with contextlib.redirect_stdout(sys.stderr), quiet_progress_bars():  # stdout stays clean
        quantized = nncf.quantize(
            ov.Core().read_model(str(fp32)),
            nncf.Dataset(samples),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(samples),
        )
    tmp = xml.parent.with_name(xml.parent.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(tmp / xml.name))
    _publish(tmp, xml.parent)
