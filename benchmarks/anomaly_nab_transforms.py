"""Development-only exploration of score transforms for the online NAB detector (issue 15).

The raw errors of one model setting (default: the protocol's earlier pick, joint program, seasonal lags, an
ensemble of 3) are computed once per seed and cached; each transform turns them into [0, 1] scores, and each
half of NAB's files (`nab_halves`, stratified by category) is scored with the threshold that NAB's optimiser
picks on that same half: the protocol's ``split = "dev"`` score. No held-out half is scored here.

A transform is a JSON object of detector settings (`recurrax.tasks.anomaly.nab_protocol_settings`: e.g.
``{"seasonal": 48, "rest": 50}``), or one of four transforms of the error channel tried and not adopted:

- ``{"low": q1, "high": q2}``: the exceedance over the ``q1`` quantile of the last 8640 errors in units of the
  ``q1``-``q2`` quantile spread (an exponential tail's log-probability is affine in it), as ``z / (1 + z)``;
- ``{"also_smooth": k}``: the larger of the errors' novelty and the novelty of their mean over ``k`` points;
- ``{"local": k}``: the novelty of the errors divided by their median over the ``k`` points before;
- ``{"err_power": p}``: the errors' novelty (q = 0.999) to the power ``p``, against the context channels.

All four accept ``rest``, ``seasonal`` and ``level`` too, and ``{"rest_long": L, "margin": m}``: after the rest
period, a score survives only above ``m`` times the largest surviving score of the last ``L`` points.

    RECURRAX_DATA=../shared/data python benchmarks/anomaly_nab_transforms.py --seed 0 --seed 1 --seed 2 \\
        --transforms runs/transforms.json --out runs/nab_transforms.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from recurrax.data import NabSeries, load_nab
from recurrax.metrics import nab_corpus_score
from recurrax.tasks.anomaly import nab_halves
from recurrax.tasks.anomaly._likelihood import novelty_score, rest_period
from recurrax.tasks.anomaly._nab_protocol import DEFAULTS, _settings, anomaly_scores, raw_errors

MODEL = {"program": "joint", "seasonal_lags": True, "ensemble": 3}


def cached_raw(corpus: list[NabSeries], model: dict, seed: int, cache: Path) -> dict[str, np.ndarray]:
    """The raw errors of every file for ``model`` settings and ``seed``, from ``cache`` when there."""
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:12]
    path = cache / f"{digest}-seed{seed}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return {series.name: stored[str(i)] for i, series in enumerate(corpus)}
    settings = _settings(model)
    raw = {series.name: raw_errors(series, settings, seed) for series in corpus}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{str(i): raw[series.name] for i, series in enumerate(corpus)})
    return raw


def untried_scores(raw: np.ndarray, series: NabSeries, extra: dict) -> np.ndarray:
    """The transforms that were tried and not adopted (module docstring), then the library's context channels
    (`anomaly_scores` on a zero error channel) and the rest period."""
    past = pd.Series(raw).shift(1).rolling(8640, min_periods=1)
    if "err_power" in extra:
        scores = novelty_score(raw, quantile=0.999) ** extra.get("err_power", 1.0)
    elif "local" in extra:
        local = pd.Series(raw).shift(1).rolling(extra["local"], min_periods=1).median().to_numpy()
        floor = np.nanmedian(raw[: series.probation]) * 1e-2 + 1e-12
        scores = novelty_score(np.nan_to_num(raw / (np.nan_to_num(local) + floor)), quantile=extra.get("q", 0.999))
    elif "low" in extra:
        low, high = past.quantile(extra["low"]).to_numpy(), past.quantile(extra["high"]).to_numpy()
        z = np.clip((raw - low) / np.maximum(high - low, 1e-12), 0.0, None)
        scores = np.where(np.isfinite(z), z / (1.0 + z), 0.0)
    else:
        smoothed = pd.Series(raw).rolling(extra["also_smooth"], min_periods=1).mean().to_numpy()
        scores = np.maximum(novelty_score(raw, quantile=0.999), novelty_score(smoothed, quantile=0.999))
    if extra.get("seasonal", 0) or extra.get("level", 0):
        context = {key: extra[key] for key in ("seasonal", "level") if key in extra}
        channel = anomaly_scores(np.zeros_like(raw), _settings(context), series)
        scores = np.maximum(scores, channel)
    scores = np.where(np.arange(len(scores)) < series.probation, 0.0, scores)
    scores = rest_period(scores, int(extra.get("rest", 0)))
    if "rest_long" in extra:
        recent = pd.Series(scores).shift(1).rolling(extra["rest_long"], min_periods=1).max().fillna(0.0).to_numpy()
        scores = np.where(scores > extra["margin"] * recent, scores, 0.0)
    return np.array([float(f"{v:.12g}") for v in scores], np.float64)


def dev_scores(scores: dict[str, np.ndarray], corpus: list[NabSeries]) -> tuple[float, float]:
    """The standard-profile score of each half with that half's own best threshold."""
    out = []
    for half in nab_halves([series.name for series in corpus]):
        members = [series for series in corpus if series.name in set(half)]
        out.append(nab_corpus_score({s.name: scores[s.name] for s in members}, members, "standard").score)
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, action="append", default=None, help="repeatable; default 0")
    parser.add_argument("--data-dir", default=None, help="folder holding nab/ (default: $RECURRAX_DATA, cache)")
    parser.add_argument("--model", default=json.dumps(MODEL), help="JSON settings of the raw errors' model")
    parser.add_argument("--cache", type=Path, default=Path("runs/nab_raw_explore"))
    parser.add_argument("--transforms", type=Path, default=None, help="JSON list of transforms (docstring)")
    parser.add_argument("--out", type=Path, default=None, help="write every row to this JSON file")
    args = parser.parse_args()
    corpus = sorted(load_nab(args.data_dir), key=lambda s: s.name)
    model = json.loads(args.model)
    transforms = json.loads(args.transforms.read_text()) if args.transforms else [{}]
    rows = []
    for seed in args.seed or [0]:
        raw = cached_raw(corpus, model, seed, args.cache)
        for extra in transforms:
            if "low" in extra or "also_smooth" in extra or "local" in extra or "err_power" in extra:
                scores = {s.name: untried_scores(raw[s.name], s, extra) for s in corpus}
            else:
                settings = {**DEFAULTS, **_settings({**model, **extra})}
                scores = {s.name: anomaly_scores(raw[s.name], settings, s) for s in corpus}
            fold0, fold1 = dev_scores(scores, corpus)
            rows.append({"seed": seed, "model": model, "transform": extra, "fold0": fold0, "fold1": fold1})
            print(f"seed {seed} {json.dumps(extra)}: {fold0:.2f} / {fold1:.2f} / mean {(fold0 + fold1) / 2:.2f}",
                  flush=True)  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
