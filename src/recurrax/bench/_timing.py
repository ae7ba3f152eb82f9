"""Timing: a first (compiling) call, warm-up, then interleaved timed rounds; each result is the median.

Every implementation is a zero-argument callable that runs one step and waits for it (JAX:
``jax.block_until_ready``, CUDA: ``torch.cuda.synchronize``). Within a config the implementations are timed
round by round, one call each per round, so drifting load on a shared machine hits all of them alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._configs import Plan


class Unavailable(Exception):
    """An implementation that does not exist here (shown as ``n/a``, not as a failure)."""


@dataclass
class Entry:
    """One implementation in one mode: its callable, then its timings (seconds) or why it has none."""

    impl: str
    mode: str  # "fwd_bwd" or "fwd"
    run: Callable[[], Any] | None = None
    error: str | None = None
    first_s: float | None = None
    times: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """``ms`` (median of the timed rounds), ``first_call_s``, ``repeats`` and ``error``."""
        ms = 1e3 * statistics.median(self.times) if self.times else None
        return {"ms": ms, "first_call_s": self.first_s, "repeats": len(self.times), "error": self.error}


def describe(err: BaseException) -> str:
    """One table cell for a failure: ``n/a: ...`` for `Unavailable`, else ``fails: Type: first line``."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0] if lines else ''}"
    text = text if len(text) <= 130 else text[:127] + "..."
    return ("n/a: " if isinstance(err, Unavailable) else "fails: ") + text.replace("Unavailable: ", "")


def entries_for(name: str, build: Callable[[], tuple[Callable, Callable]], modes=("fwd_bwd", "fwd")) -> list[Entry]:
    """Entries of ``name`` from ``build() -> (fwd_bwd, fwd)``; a failing build becomes their error."""
    try:
        runs = dict(zip(("fwd_bwd", "fwd"), build()))
        return [Entry(name, mode, run=runs[mode]) for mode in modes]
    except Exception as err:  # noqa: BLE001 - a failing implementation becomes a table cell
        return [Entry(name, mode, error=describe(err)) for mode in modes]


def measure(entries: list[Entry], plan: Plan, clock: Callable[[], float] = time.perf_counter) -> list[Entry]:
    """First call (compile), ``plan.warmup`` untimed calls, then interleaved rounds until ``plan.rounds``.

    After ``plan.min_rounds`` rounds it stops early once the rounds took ``plan.budget_s`` seconds or the
    clock passed ``plan.deadline``. ``clock`` returns seconds (injectable for tests). A call that raises
    turns its entry into an error; the callables are dropped at the end to free their compiled programs.
    """
    live = []
    for entry in entries:
        if entry.run is None:
            continue
        try:
            start = clock()
            entry.run()
            entry.first_s = clock() - start
            for _ in range(plan.warmup):
                entry.run()
            live.append(entry)
        except Exception as err:  # noqa: BLE001
            entry.error, entry.run = describe(err), None
    start = clock()
    for index in range(plan.rounds):
        for entry in list(live):
            try:
                t0 = clock()
                entry.run()
                entry.times.append(clock() - t0)
            except Exception as err:  # noqa: BLE001
                entry.error, entry.times = describe(err), []
                live.remove(entry)
        now = clock()
        if index + 1 >= plan.min_rounds and (now - start > plan.budget_s or now > plan.deadline):
            break
    for entry in entries:
        entry.run = None  # release the compiled functions and their buffers
    return entries
