"""Kernels compiled on the user's machine: oneDNN's LSTM as XLA FFI custom calls (``onednn_lstm.cc``).

`load_onednn_lstm` compiles the C++ source with the system's C++ compiler against the headers of the
``onednn-devel-cpu-gomp`` wheel (oneDNN 3.2, GNU OpenMP) and JAX's FFI headers, into the recurrax cache under a
name keyed by the source and both versions; it registers the three FFI targets for the CPU platform once per
process and returns the library. When any step fails (not Linux x86-64, no compiler, the wheel missing, or
``RECURRAX_ONEDNN=0``) it returns None and `onednn_unavailable_reason` says why; the caller then runs the XLA
kernel. ``python -m recurrax.native`` builds eagerly and prints the outcome (the Makefile's install step runs it).

Importing this module keeps 64 MiB of freed memory mapped at the top of glibc's heaps (``mallopt(M_TOP_PAD)``,
unless ``MALLOC_TOP_PAD_`` is set or ``RECURRAX_ONEDNN=0``): the training forward's workspace and outputs are
allocated by XLA on every call, and with glibc's default each call returned them to the system and page-faulted
them in again, zeroed (B32 T100 H128 fwd+bwd: 5,200 page faults and 24 ms per call; 560 and 15 ms with the pad,
2-core Xeon). It takes effect only before JAX starts its CPU client, hence at import.
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

SOURCE = Path(__file__).with_name("onednn_lstm.cc")
TARGETS = ("recurrax_onednn_lstm_forward", "recurrax_onednn_lstm_inference", "recurrax_onednn_lstm_backward")
HEADERS_WHEEL, LIBRARY_WHEEL = "onednn-devel-cpu-gomp", "onednn-cpu-gomp"

TOP_PAD_BYTES = 64 << 20
M_TOP_PAD = -2  # glibc's mallopt parameter

_reason: list[str] = []


def _keep_heap_top(size: int) -> None:
    """glibc's ``mallopt(M_TOP_PAD, size)`` (see the module docstring); nothing where the C library has none."""
    try:
        ctypes.CDLL(None).mallopt(M_TOP_PAD, size)
    except (AttributeError, OSError):
        pass


if "MALLOC_TOP_PAD_" not in os.environ and os.environ.get("RECURRAX_ONEDNN", "1") != "0":
    _keep_heap_top(TOP_PAD_BYTES)


def onednn_unavailable_reason() -> str | None:
    """Why `load_onednn_lstm` returned None (after it was called), else None."""
    return _reason[0] if _reason else None


def _wheel_dir(distribution: str, suffix: str) -> Path:
    """The directory holding the file whose path ends with ``suffix`` among those that ``distribution`` installed."""
    for file in importlib.metadata.distribution(distribution).files or []:
        if file.as_posix().endswith(suffix):
            return Path(file.locate()).resolve().parent
    raise FileNotFoundError(f"{distribution} installed no {suffix}")


def _build(out: Path) -> None:
    """Compile `SOURCE` to the shared library ``out`` (written to a temporary name, then renamed)."""
    import jax

    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        raise RuntimeError("no C++ compiler (set CXX or install g++)")
    include = _wheel_dir(HEADERS_WHEEL, "/oneapi/dnnl/dnnl.hpp").parent.parent
    lib = _wheel_dir(LIBRARY_WHEEL, "/libdnnl.so.3")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".so", delete=False) as tmp:
        partial = Path(tmp.name)
    command = [compiler, "-O2", "-std=c++17", "-shared", "-fPIC", "-w", f"-I{jax.ffi.include_dir()}", f"-I{include}",
               str(SOURCE), f"-L{lib}", "-l:libdnnl.so.3", f"-Wl,-rpath,{lib}", "-o", str(partial)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"compiling {SOURCE.name} failed: {done.stderr.strip()[-2000:]}")
    os.replace(partial, out)


def library_path() -> Path:
    """Where the compiled library lives: the recurrax cache, named by a hash of the source and the versions."""
    import jax

    versions = f"{jax.__version__}-{importlib.metadata.version(HEADERS_WHEEL)}"
    digest = hashlib.sha256(SOURCE.read_bytes() + versions.encode()).hexdigest()[:16]
    return cache_root() / "native" / f"onednn_lstm-{digest}.so"


@functools.cache
def load_onednn_lstm() -> ctypes.CDLL | None:
    """The oneDNN LSTM library with its FFI targets registered (built on first use), or None (see the module)."""
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
    library.recurrax_onednn_lstm_workspace_bytes.restype = ctypes.c_int64
    library.recurrax_onednn_lstm_workspace_bytes.argtypes = [ctypes.c_int64] * 4
    _reason.clear()
    return library
