"""A strict harness: strict dtype promotion, rank promotion raises, warnings are errors (pyproject), and
random keys from a fixture whose seed is printed when a test fails."""

from __future__ import annotations

import os
import zlib

import jax
import pytest

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
