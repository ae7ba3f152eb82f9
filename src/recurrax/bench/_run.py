"""One speed run: every config of a `Plan`, then the recurrax cells, the first-call times, and torch.

Method: within a config the JAX implementations are timed in interleaved rounds (`measure`). torch runs on a GPU
in this process, last; on CPU in a fresh process with ``OMP_WAIT_POLICY=ACTIVE`` (`_torch_process`), since its
spinning OpenMP threads and those of recurrax's oneDNN kernel would take each other's cores in one process, twice:
before and after the JAX rows. Its time is the mean of the two medians, so that a shared machine's drift between
the phases (10-25% within minutes on the 2-core Xeon VM) weighs on both sides of the ratio alike; both runs are
kept (``ms_runs``) and printed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from typing import Any

import jax

from ..cells import CELLS
from ._configs import COMPILE_SIZES, Config, Plan
from ._peers import build_cell, build_recurrax, build_torch, builders
from ._report import machine_info
from ._timing import Entry, describe, entries_for, measure
from ._torch_process import time_torch_elsewhere


def prepare_environment() -> None:
    """A setting read when the JAX GPU client starts, so call it first: JAX does not preallocate GPU memory,
    leaving room for torch."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


@contextlib.contextmanager
def jax_settings(plan: Plan) -> Iterator[None]:
    """JAX on the CPU unless the plan runs on a GPU; XLA optimisations off for ``quick`` (fast compiles);
    TF32 matmuls for torch on GPU, as JAX's default fp32 precision there. JAX's settings are restored after."""
    old = jax.config.values["jax_default_device"], jax.config.values["jax_disable_most_optimizations"]
    try:
        if not plan.on_gpu:
            jax.config.update("jax_default_device", jax.devices("cpu")[0])
        else:
            import torch

            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        if plan.quick:
            jax.config.update("jax_disable_most_optimizations", True)
        yield
    finally:
        jax.config.update("jax_default_device", old[0])
        jax.config.update("jax_disable_most_optimizations", old[1])


def stderr_log(started: float) -> Callable[[str], None]:
    """A progress logger: ``[  12.3 s] message`` on stderr, the time counted from ``started``."""

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    return log


def run_all(plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    """``results`` (config label -> impl -> mode -> summary), ``variants`` (cells) and ``compile`` times."""
    key = jax.random.key(0)
    results: dict[str, dict[str, Any]] = {cfg.label: {} for cfg in plan.configs}
    torch_elsewhere = "torch" in plan.impls and not plan.on_gpu
    if torch_elsewhere:
        log("torch, every config, in its own process (before the JAX rows)")
        torch_before = time_torch_elsewhere(plan)

    def store(label: str, entries: list[Entry]) -> None:
        for entry in entries:
            results[label].setdefault(entry.impl, {})[entry.mode] = entry.summary()

    for cfg in plan.configs:
        log(f"JAX implementations at {cfg.label}")
        entries = []
        for name, build in builders(plan).items():
            entries += entries_for(name, lambda build=build, cfg=cfg: build(cfg, key))
        store(cfg.label, measure(entries, plan))

    variants = {}
    for cfg in plan.variant_configs:
        log(f"recurrax cells at {cfg.label}")
        entries = entries_for("lstm (default)", lambda cfg=cfg: build_recurrax(cfg, key), ("fwd_bwd",))
        generic = lambda cfg=cfg: build_recurrax(cfg, key, fused=False)
        entries += entries_for("lstm (generic)", generic, ("fwd_bwd",))
        for name in list(CELLS):
            try:
                runs = build_cell(name, cfg, key)
                entries.append(Entry(name, "fwd_bwd", run=runs[0]))
            except Exception as err:  # noqa: BLE001 - a cell that cannot be built at this size
                entries.append(Entry(name, "fwd_bwd", error=describe(err).replace("fails:", "skipped:", 1)))
        variants[cfg.label] = {entry.impl: entry.summary() for entry in measure(entries, plan)}

    compile_times: dict[str, dict[int, Any]] = {}
    for name, options in (("recurrax", {}), ("recurrax_generic", {"fused": False})):
        for steps in plan.compile_steps:
            cfg = Config(f"T{steps}", steps=steps, layers=1, **COMPILE_SIZES)
            cfg = Config(cfg.name, 4, steps, 8, 16) if plan.quick else cfg
            log(f"first call of {name} at {cfg.label}")
            build = lambda cfg=cfg, options=options: build_recurrax(cfg, key, **options)
            entry = entries_for(name, build, ("fwd_bwd",))
            compile_times.setdefault(name, {})[steps] = measure(entry, replace(plan, rounds=1))[0].summary()

    if "torch" in plan.impls and plan.on_gpu:
        for cfg in plan.configs:
            log(f"torch at {cfg.label}")
            store(cfg.label, measure(entries_for("torch", lambda cfg=cfg: build_torch(cfg, "cuda")), plan))
    elif torch_elsewhere:
        log("torch, every config, in its own process (after the JAX rows)")
        for label, modes in time_torch_elsewhere(plan).items():
            results[label]["torch"] = {mode: bracketed(torch_before[label][mode], after)
                                       for mode, after in modes.items()}  # fmt: skip
    return {"results": results, "variants": variants, "compile": compile_times}


def bracketed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """One torch summary from its runs before and after the JAX rows: ``ms`` the mean of their medians (None if
    either failed), ``ms_runs`` both, ``repeats`` their sum, the first run's first-call time, the first error."""
    runs = [before["ms"], after["ms"]]
    return {"ms": None if None in runs else sum(runs) / 2, "ms_runs": runs, "first_call_s": before["first_call_s"],
            "repeats": before["repeats"] + after["repeats"], "error": before["error"] or after["error"]}  # fmt: skip


def run_benchmark(plan: Plan, started: float, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole run as a JSON-ready report: ``device``, ``on_gpu``, ``quick``, ``machine``, ``results``,
    ``variants``, ``compile``, ``elapsed_s`` and ``configs``; progress goes to ``log`` (default stderr)."""
    log = log or stderr_log(started)
    with jax_settings(plan):
        report: dict[str, Any] = {"device": plan.device, "on_gpu": plan.on_gpu, "quick": plan.quick}
        report["machine"] = machine_info(plan)
        report.update(run_all(plan, log))
    report["elapsed_s"] = time.perf_counter() - started
    report["configs"] = [asdict(c) | {"label": c.label} for c in plan.configs]
    return report
