"""`run_protocol` and `benchmark_report`: the benchmark runner over protocols (`recurrax benchmark`).

Two steps, each its own command, so that no choice can see the test split:

1. ``split="dev"``: every candidate of the protocol is evaluated on development data (each fold, each of
   ``dev_seeds``); per fold the candidate with the best mean development score is **picked**. Written to
   ``<results>/<protocol>/dev.json`` (and ``dev.md``).
2. ``split="test"``: the pick of each fold (from ``dev.json``; with a single candidate, that one) is trained
   and scored on the test split for every seed of ``seeds``. A seed's score is the mean over folds. Every
   scored (seed, fold) appends one line to the test-access ledger (`recurrax.lifecycle._ledger`). Written to
   ``<results>/<protocol>/test.json`` and ``test.md``: per seed, mean, sample standard deviation, a 95%
   Student-t interval, the machine, versions, wall time, config hashes and the ledger count.

Each finished (split, config, fold, seed) is kept in ``<results>/<protocol>/units/`` so that a stopped run
continues where it stopped (a kept test unit is not scored again and not logged again); run folders and
caches go to ``<results>/<protocol>/work/`` (not meant to be kept).
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Literal

from .._files import write_atomic
from .._host import cpu_name, package_version, source_revision, usable_cores
from ._ledger import append_test_access, read_ledger, test_access_count
from ._protocol import BenchmarkProtocol, config_hash

VERSIONS = ("jax", "jaxlib", "equinox", "optax", "numpy", "recurrax")


def machine() -> dict[str, Any]:
    """CPU model, usable cores, accelerator, python and package versions of this process, and the source
    revision (git commit and whether the checkout had uncommitted changes)."""
    import jax

    return {
        "cpu": cpu_name(),
        "cores": usable_cores(),
        "device": jax.devices()[0].device_kind,
        "versions": {"python": platform.python_version(), **{name: package_version(name) for name in VERSIONS}},
        "source": source_revision(),
    }


def summary(values: list[float]) -> dict[str, float | int]:
    """``n``, ``mean``, sample ``sd`` (0 for one value) and the 95% Student-t interval ``ci95_low/high``."""
    from scipy import stats

    n, mean = len(values), statistics.fmean(values)
    sd = statistics.stdev(values) if n > 1 else 0.0
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
    return {"n": n, "mean": mean, "sd": sd, "ci95_low": mean - half, "ci95_high": mean + half}


def run_protocol(
    protocol: BenchmarkProtocol,
    split: Literal["dev", "test"],
    results: str | Path,
    *,
    seeds: list[int] | None = None,
    data_dir: str | Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Run ``protocol``'s development selection (``split="dev"``) or its test scoring (``"test"``); returns
    what is written to ``<results>/<protocol>/<split>.json``. ``seeds`` replaces the protocol's seeds
    (``dev_seeds`` for dev). ``log`` receives one line per finished unit."""
    if split not in ("dev", "test"):
        raise ValueError(f"split must be 'dev' or 'test', got {split!r}")
    results = Path(results)
    folder = results / protocol.name
    began = time.perf_counter()
    evaluate = protocol.evaluate_function()
    data_dir = Path(data_dir) if data_dir is not None else None

    def unit(candidate: str, seed: int, fold: int) -> dict[str, float]:
        config = protocol.candidate_config(candidate)
        digest = config_hash(protocol, config)
        kept = folder / "units" / f"{split}-{digest}-fold{fold}-seed{seed}.json"
        if kept.is_file():
            return json.loads(kept.read_text())["metrics"]
        workdir = folder / "work" / f"{split}-{digest}-fold{fold}-seed{seed}"
        workdir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        metrics = evaluate(config, split=split, seed=seed, fold=fold, folds=protocol.folds, workdir=workdir,
                           data_dir=data_dir)  # fmt: skip
        metrics = {k: float(v) for k, v in metrics.items()}
        seconds = time.perf_counter() - start
        if split == "test":  # logged even when the score is unusable: the test split was read
            append_test_access(results, {"protocol": protocol.name, "config_hash": digest, "candidate": candidate,
                                         "seed": seed, "fold": fold, "metric": protocol.metric,
                                         "score": metrics.get(protocol.metric)})  # fmt: skip
        if protocol.metric not in metrics or not math.isfinite(metrics[protocol.metric]):
            raise ValueError(f"{protocol.evaluator} returned no finite {protocol.metric!r}: {metrics}")
        _write_json(kept, {"candidate": candidate, "config_hash": digest, "seed": seed, "fold": fold,
                           "seconds": seconds, "metrics": metrics})  # fmt: skip
        log(f"{protocol.name} {split} {candidate} fold {fold} seed {seed}: {protocol.metric} "
            f"{metrics[protocol.metric]:.4f} ({seconds:.0f} s)")  # fmt: skip
        return metrics

    if split == "dev":
        record = _develop(protocol, unit, seeds or list(protocol.dev_seeds))
    else:
        record = _test(protocol, unit, seeds or list(protocol.seeds), folder)
        record["test_access_count"] = test_access_count(results, protocol.name)
    record.update(
        protocol=protocol.name, split=split, metric=protocol.metric, direction=protocol.direction,
        description=protocol.description, development=protocol.development, test=protocol.test,
        budget=protocol.budget, published=protocol.published, machine=machine(),
        wall_seconds=time.perf_counter() - began, finished=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )  # fmt: skip
    _write_json(folder / f"{split}.json", record)
    write_atomic(folder / f"{split}.md", protocol_markdown(record))
    return record


def _develop(protocol: BenchmarkProtocol, unit, seeds: list[int]) -> dict[str, Any]:
    scores: dict[str, list[dict[str, Any]]] = {}
    picks = []
    for fold in range(protocol.folds):
        best = None
        for candidate in protocol.candidates:
            values = [unit(candidate, seed, fold)[protocol.metric] for seed in seeds]
            row = {"seeds": seeds, "scores": values, **summary(values)}
            scores.setdefault(candidate, []).append(row)
            if best is None or protocol.better(row["mean"], scores[best][fold]["mean"]):
                best = candidate
        picks.append(best)
    hashes = {c: config_hash(protocol, protocol.candidate_config(c)) for c in protocol.candidates}
    return {"candidates": scores, "config_hashes": hashes, "picks": picks}


def _test(protocol: BenchmarkProtocol, unit, seeds: list[int], folder: Path) -> dict[str, Any]:
    picks = _picks(protocol, folder)
    per_seed, metrics = [], []
    for seed in seeds:
        folds = [unit(picks[fold], seed, fold) for fold in range(protocol.folds)]
        keys = sorted(set.intersection(*(set(f) for f in folds)))
        metrics.append({key: statistics.fmean(f[key] for f in folds) for key in keys})
        per_seed.append({"seed": seed, "folds": folds, **metrics[-1]})
    names = sorted(set.intersection(*(set(m) for m in metrics)))
    return {
        "picks": picks,
        "config_hashes": [config_hash(protocol, protocol.candidate_config(c)) for c in picks],
        "seeds": seeds,
        "per_seed": per_seed,
        "summary": {name: summary([m[name] for m in metrics]) for name in names},
    }


def _picks(protocol: BenchmarkProtocol, folder: Path) -> list[str]:
    """Per fold, the candidate chosen on development data (``dev.json``); the only one when there is one."""
    if len(protocol.candidates) == 1:
        return [next(iter(protocol.candidates))] * protocol.folds
    dev = folder / "dev.json"
    if not dev.is_file():
        raise ValueError(f"protocol {protocol.name!r} has {len(protocol.candidates)} candidates: choose on "
                         f"development data first (recurrax benchmark run {protocol.name} --split dev)")  # fmt: skip
    record = json.loads(dev.read_text())
    expected = {c: config_hash(protocol, protocol.candidate_config(c)) for c in protocol.candidates}
    if record.get("config_hashes") != expected:
        raise ValueError(f"{dev} was made for other candidates or configs than {protocol.name!r} has now: "
                         f"run --split dev again")  # fmt: skip
    return record["picks"]


def protocol_markdown(record: dict[str, Any]) -> str:
    """The markdown page of a dev or test record."""
    metric = record["metric"]
    lines = [f"# {record['protocol']} ({record['split']})", "", record["description"], "",
             f"- development data: {record['development']}", f"- test data: {record['test']}",
             f"- budget: {record['budget']}", f"- metric: {metric} ({record['direction']})"]  # fmt: skip
    info = record["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    source = info.get("source") or {}
    if source.get("commit"):
        versions += f"; source {source['commit'][:10]}{' with uncommitted changes' if source['dirty'] else ''}"
    lines += [f"- machine: {info['cpu']}, {info['cores']} cores, {info['device']}; {versions}",
              f"- wall time: {record['wall_seconds']:.0f} s, finished {record['finished']}", ""]  # fmt: skip
    if record["split"] == "dev":
        folds = len(record["picks"])
        heads = [f"fold {f} {metric}" for f in range(folds)] if folds > 1 else [f"development {metric}"]
        lines += ["| candidate | config | " + " | ".join(heads) + " |", "|---|---|" + "---|" * folds]
        for candidate, folds in record["candidates"].items():
            cells = [f"{_mean_sd(row)} ({', '.join(f'{v:.4f}' for v in row['scores'])})" for row in folds]
            lines.append(f"| {candidate} | {record['config_hashes'][candidate]} | " + " | ".join(cells) + " |")
        lines += ["", f"Picked per fold: {', '.join(record['picks'])}."]
        return "\n".join(lines) + "\n"
    lines += [f"Picked on development data: {', '.join(record['picks'])} (configs "
              f"{', '.join(record['config_hashes'])}); configs that ever saw this test split: "
              f"{record['test_access_count']}.", "", "| seed | " + " | ".join(record["summary"]) + " |",
              "|---|" + "---|" * len(record["summary"])]  # fmt: skip
    for row in record["per_seed"]:
        lines.append(f"| {row['seed']} | " + " | ".join(f"{row[k]:.4f}" for k in record["summary"]) + " |")
    lines.append("| **mean ± sd** | " + " | ".join(_mean_sd(s) for s in record["summary"].values()) + " |")
    lines.append("| 95% interval | " + " | ".join(_interval(s) for s in record["summary"].values()) + " |")
    if record["published"]:
        lines += ["", "Published: " + "; ".join(f"{k} {v:g}" for k, v in record["published"].items()) + "."]
    return "\n".join(lines) + "\n"


def benchmark_report(results: str | Path) -> str:
    """A markdown table of every protocol's test record under ``results``: the headline metric as mean ± sd
    over seeds, its 95% interval, the seeds' values and how many configs ever saw the test split."""
    results = Path(results)
    ledger = read_ledger(results)
    lines = ["| protocol | metric | mean ± sd | 95% interval | seeds | per seed | configs that saw test | machine |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for path in sorted(results.glob("*/test.json")):
        record = json.loads(path.read_text())
        metric, name = record["metric"], record["protocol"]
        row = record["summary"][metric]
        values = ", ".join(f"{s[metric]:.4f}" for s in record["per_seed"])
        seen = len({e["config_hash"] for e in ledger if e.get("protocol") == name})
        info = record["machine"]
        lines.append(f"| {name} | {metric} | {_mean_sd(row)} | {_interval(row)} | {row['n']} | {values} | {seen} "
                     f"| {info['cpu']}, {info['cores']} cores |")  # fmt: skip
    if len(lines) == 2:
        return f"no test results under {results} (recurrax benchmark run NAME)\n"
    return "\n".join(lines) + "\n"


def _mean_sd(row: dict[str, Any]) -> str:
    return f"{row['mean']:.4f} ± {row['sd']:.4f}"


def _interval(row: dict[str, Any]) -> str:
    return "-" if math.isnan(row["ci95_low"]) else f"[{row['ci95_low']:.4f}, {row['ci95_high']:.4f}]"


def _write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
