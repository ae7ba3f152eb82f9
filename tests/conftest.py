"""A strict harness: strict dtype promotion, rank promotion raises, warnings are errors (pyproject), and
random keys from a fixture whose seed is printed when a test fails.

XLA's CPU backend compiles at optimisation level 0 here (``XLA_FLAGS``, inherited by the subprocesses that
tests start): the suite checks numbers, not speed, and most of its time is compilation, which this cuts by
about 30% (the same HLO runs; benchmarks keep the default level). ``RECURRAX_TEST_XLA_OPT=1`` turns it off.
"""

from __future__ import annotations

import os
import zlib

_flags = os.environ.get("XLA_FLAGS", "")
if os.environ.get("RECURRAX_TEST_XLA_OPT") != "1" and "xla_backend_optimization_level" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_optimization_level=0".strip()

import jax  # noqa: E402 - after XLA_FLAGS, which the backend reads when it starts
import pytest  # noqa: E402

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


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
