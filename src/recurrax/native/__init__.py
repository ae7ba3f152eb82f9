"""Kernels compiled on the user's machine: oneDNN's LSTM (plain and peephole) and GRU as XLA FFI custom calls
(``onednn_rnn.cc``), and the cells that oneDNN has no primitive for, on its matmul (NIAF, NOAF and the
depth-gated LSTM: ``lstm_variants.cc``; the layer-norm LSTM: ``layernorm_lstm.cc``; MUT1-3: ``mut.cc``; the GRU
for layers too small for oneDNN's: ``gru.cc``).

`load_onednn` compiles the C++ source with the system's C++ compiler against the headers of the
``onednn-devel-cpu-gomp`` wheel (oneDNN 3.2, GNU OpenMP) and JAX's FFI headers, into the recurrax cache under a
name keyed by the sources and both versions; it registers the FFI targets for the CPU platform once per
process and returns the library. When any step fails (not Linux x86-64, no compiler, the wheel missing, or
``RECURRAX_ONEDNN=0``) it returns None and `onednn_unavailable_reason` says why; the caller then runs the XLA
kernel. ``python -m recurrax.native`` builds eagerly and prints the outcome (the Makefile's install step runs it).

Importing recurrax tunes glibc's allocator for XLA's large per-call buffers first (`recurrax._malloc`).

Importing this module also sets ``GOMP_SPINCOUNT`` to `GOMP_SPINCOUNT` (1000) unless ``GOMP_SPINCOUNT`` or
``OMP_WAIT_POLICY`` is set: oneDNN's threads meet at a barrier on every time step, and libgomp's default waits
there spinning for 300,000 rounds. With two such processes on two cores (``pytest -n 2``, two services) a
spinning thread holds the core that its partner needs: a bidirectional LSTM classifier step (B32 T150 H64) took
1,760 ms beside another process against 16 ms alone; with 1,000 rounds 67 ms beside another (each process has
one core) and 16.6 ms alone (c1 fwd+bwd 10.4 against 11.1 ms; ``OMP_WAIT_POLICY=passive``: 44 ms alone).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..data import cache_root

SOURCES = tuple(
    Path(__file__).with_name(name)
    for name in ("onednn_rnn.cc", "lstm_variants.cc", "layernorm_lstm.cc", "mut.cc", "gru.cc", "matmuls.cc")
)
HEADERS = tuple(
    Path(__file__).with_name(name) for name in ("worker.h", "pointwise.h", "recurrence.h", "weight_matmul.h")
)
CELLS = ("lstm", "peephole_lstm", "projection_lstm", "gru", "cho_gru")
NATIVE_CELLS = ("lstm_variant", "layernorm_lstm", "mut", "gru")  # our own steps on oneDNN's matmul
TARGETS = (
    *(f"recurrax_onednn_{cell}_{kind}" for cell in CELLS for kind in ("forward", "inference", "backward")),
    *(f"recurrax_{cell}_{kind}" for cell in NATIVE_CELLS for kind in ("forward", "backward")),
    "recurrax_outer",  # the native kernels' weight gradients
    "recurrax_matmul",  # their input projections and the projections' input gradients
    "recurrax_bf16_matmul",  # their input projections with bfloat16 matmuls
)
HEADERS_WHEEL, LIBRARY_WHEEL = "onednn-devel-cpu-gomp", "onednn-cpu-gomp"

GOMP_SPINCOUNT = 1000

_reason: list[str] = []


if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(os.environ):  # read by the kernel's libgomp when it loads
    os.environ["GOMP_SPINCOUNT"] = str(GOMP_SPINCOUNT)


def onednn_unavailable_reason() -> str | None:
    """Why `load_onednn` returned None (after it was called), else None."""
    return _reason[0] if _reason else None


def _wheel_dir(distribution: str, suffix: str) -> Path:
    """The directory holding the file whose path ends with ``suffix`` among those that ``distribution`` installed."""
    for file in importlib.metadata.distribution(distribution).files or []:
        if file.as_posix().endswith(suffix):
            return Path(file.locate()).resolve().parent
    raise FileNotFoundError(f"{distribution} installed no {suffix}")


def _build(out: Path) -> None:
    """Compile `SOURCES` to the shared library ``out`` (written to a temporary name, then renamed). ``-O3`` without
    errno and floating-point traps lets GCC vectorise the pointwise loops of the native kernels."""
    import jax

    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        raise RuntimeError("no C++ compiler (set CXX or install g++)")
    include = _wheel_dir(HEADERS_WHEEL, "/oneapi/dnnl/dnnl.hpp").parent.parent
    lib = _wheel_dir(LIBRARY_WHEEL, "/libdnnl.so.3")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".so", delete=False) as tmp:
        partial = Path(tmp.name)
    flags = ["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-std=c++17", "-shared", "-fPIC"]
    command = [compiler, *flags, "-w", f"-I{jax.ffi.include_dir()}", f"-I{include}", *map(str, SOURCES), f"-L{lib}",
               "-l:libdnnl.so.3", f"-Wl,-rpath,{lib}", "-o", str(partial)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            names = ", ".join(source.name for source in SOURCES)
            raise RuntimeError(f"compiling {names} failed: {done.stderr.strip()[-2000:]}")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)  # a failed or interrupted build leaves nothing behind


def library_path() -> Path:
    """Where the compiled library lives: the recurrax cache, named by a hash of the source, the versions and the
    oneDNN library it links by absolute path (each environment builds its own)."""
    import jax

    key = f"{jax.__version__}-{importlib.metadata.version(HEADERS_WHEEL)}-{_wheel_dir(LIBRARY_WHEEL, '/libdnnl.so.3')}"
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in (*SOURCES, *HEADERS)) + key.encode()).hexdigest()[:16]
    return cache_root() / "native" / f"onednn_rnn-{digest}.so"


@functools.cache
def bfloat16_matmuls() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (``amx_bf16``: AMX tiles, Intel Sapphire Rapids
    on; ``avx512_bf16``: AVX-512 dot products, e.g. AMD Zen 4), read from ``/proc/cpuinfo``: where it does, a plain
    LSTM with ``matmul_dtype="bfloat16"`` runs the native kernel's bfloat16 matmuls on oneDNN, elsewhere the XLA
    kernel. ``RECURRAX_BF16_NATIVE=0`` opts out."""
    if os.environ.get("RECURRAX_BF16_NATIVE", "1") == "0":
        return False
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return bool({"amx_bf16", "avx512_bf16"} & set(flags.split(":", 1)[1].split()))


@functools.cache
def load_onednn() -> ctypes.CDLL | None:
    """The oneDNN RNN library with its FFI targets registered (built on first use), or None (see the module)."""
    import jax

    try:
        if os.environ.get("RECURRAX_ONEDNN", "1") == "0":
            raise RuntimeError("RECURRAX_ONEDNN=0")
        if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
            raise RuntimeError(
                f"oneDNN kernels are built on Linux x86-64 only, not {platform.system()} {platform.machine()}"
            )
        path = library_path()
        if not path.exists():
            _build(path)
        library = ctypes.CDLL(str(path))
    except (OSError, RuntimeError, importlib.metadata.PackageNotFoundError, FileNotFoundError) as error:
        _reason[:] = [str(error)]
        return None
    for target in TARGETS:
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(library, target)), platform="cpu")
    for cell in CELLS:
        sizes = getattr(library, f"recurrax_onednn_{cell}_workspace_bytes")
        sizes.restype, sizes.argtypes = ctypes.c_int64, [ctypes.c_int64] * 5
    _reason.clear()
    return library
