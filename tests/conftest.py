"""A strict harness: strict dtype promotion, rank promotion raises, warnings are errors (pyproject), and
random keys from a fixture whose seed is printed when a test fails.

XLA's CPU backend compiles at optimisation level 0 here (``XLA_FLAGS``, inherited by the subprocesses that
tests start): the suite checks numbers, not speed, and most of its time is compilation, which this cuts by
about 30% (the same HLO runs; benchmarks keep the default level). ``RECURRAX_TEST_XLA_OPT=1`` turns it off.

Every compiled program also goes to JAX's persistent compilation cache, in a directory made for the run and shared
by the xdist workers (removed at the end): tests build the same programs under different ``jit`` wrappers, which
the cache, keyed by the program, compiles once (the 2-core Xeon, the cache empty at the start as on CI: four of the
heaviest files, 347 tests, 131 s without, 94 s with; the whole suite 762 s without and 703 s with in the working
tree, 680 and 664 s on clean clones, 3-8% of its CPU time, within this VM's drift). A ``JAX_COMPILATION_CACHE_DIR``
of the user's is kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib

_flags = os.environ.get("XLA_FLAGS", "")
if os.environ.get("RECURRAX_TEST_XLA_OPT") != "1" and "xla_backend_optimization_level" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_optimization_level=0".strip()

import jax  # noqa: E402 - after XLA_FLAGS, which the backend reads when it starts
import pytest  # noqa: E402

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

_CACHE_VARIABLE = "RECURRAX_TEST_COMPILATION_CACHE"  # the run's directory, inherited by the xdist workers
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    if _CACHE_VARIABLE not in os.environ:
        os.environ[_CACHE_VARIABLE] = tempfile.mkdtemp(prefix="recurrax-test-compilations-")
    jax.config.update("jax_compilation_cache_dir", os.environ[_CACHE_VARIABLE])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def pytest_unconfigure(config) -> None:
    """The run's compilation cache goes with the process that made it (the xdist controller, or the only one)."""
    if not hasattr(config, "workerinput") and _CACHE_VARIABLE in os.environ:
        shutil.rmtree(os.environ.pop(_CACHE_VARIABLE), ignore_errors=True)


@pytest.fixture
def seed(request) -> int:
    """A per-test seed: ``RECURRAX_TEST_SEED`` when set, else a hash of the test id (stable across runs)."""
    value = int(os.environ.get("RECURRAX_TEST_SEED", zlib.crc32(request.node.nodeid.encode())))
    request.node.user_properties.append(("seed", value))
    return value


@pytest.fixture
def key(seed: int):
    """A JAX PRNG key from `seed`; rerun a failure with ``RECURRAX_TEST_SEED=<seed>``."""
    return jax.random.key(seed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for name, value in item.user_properties:
            if name == "seed":
                report.sections.append(("random seed", f"RECURRAX_TEST_SEED={value}"))
    return report
