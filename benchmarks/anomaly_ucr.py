"""UCR anomaly archive series #135 (InternalBleeding16): an LSTM prediction scorer + Telemanom's threshold.

    python benchmarks/anomaly_ucr.py [--seeds 0 1 2] [--steps 1500] [--out F.json] [--plot F.png]

Per seed: `recurrax.tasks.anomaly.fit_anomaly` trains the ``prediction`` scorer (a one-layer LSTM forecasting
the next point, Hundman et al. 2018) on the 1200-point normal training part; `detect_anomaly` scores the
6301-point test part and labels it with Telemanom's nonparametric dynamic threshold (the reference's
defaults: windows of 30 x 70 errors, EWMA span 105, buffer 100, p = 0.13). Reported:

- ``ucr_hit``: the UCR archive's test (Wu & Keogh 2021; KDD Cup 2021): the location of the largest raw score
  lies within max(100, anomaly length) points of the labelled anomaly (points 4187..4198); also
  ``ucr_hit_smoothed`` for the largest EWMA-smoothed score, and ``peak``, the location of the largest score;
- event precision / recall / F1 (Telemanom's: a labelled anomaly is found when a detected sequence overlaps
  it; each detected sequence overlapping none is a false positive) and the detected sequences;
- the same for two other detectors on the same scores (`OTHER_DETECTORS`: a static threshold at the 99.9%
  quantile of the training part's scores, and a rolling 99.9% quantile of the last 1000 scores), without
  retraining.

The data come from the registry (the ``aeon`` wheel; set ``RECURRAX_CACHE`` / ``RECURRAX_DATA`` to reuse a
copy). Bounded by step counts: about a minute per seed on two busy CPU cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import recurrax.data as rd
from recurrax import metrics
from recurrax.config import from_dict
from recurrax.tasks import anomaly

SETTINGS = {
    "scorer": {"kind": "prediction", "hidden_size": 32, "window": 64, "batch_size": 64},
    "data": {"timestamp": "timestamp", "values": ["value"], "label": "is_anomaly"},
    "optim": {"lr": 3e-3},
    "train": {"log_every": 100, "eval_every": 0, "checkpoint_every": 0},
}
OTHER_DETECTORS = {
    "static": anomaly.DetectorConfig(kind="static", quantile=0.999),
    "quantile": anomaly.DetectorConfig(kind="quantile", quantile=0.999, history=1000, min_history=500),
}


def run(series: rd.UCRAnomalySeries, seed: int, steps: int, root: Path) -> tuple[dict, object]:
    settings = {section: dict(values) for section, values in SETTINGS.items()}
    settings["train"] |= {"seed": seed, "steps": steps}
    cfg = from_dict(anomaly.AnomalyConfig, settings)
    began = time.perf_counter()
    fitted = anomaly.fit_anomaly(cfg, series.train, root / f"seed{seed}")
    scores, detected = anomaly.evaluate_anomaly(fitted, series.test)
    labels = series.test["is_anomaly"].to_numpy(bool)
    stamps = series.test["timestamp"].to_numpy()
    sequences = anomaly.sequences_of(detected["is_anomaly"].to_numpy(bool))
    row = {
        "seed": seed,
        "steps": steps,
        "train_loss": fitted.scorer.fit.history[-1]["loss"],
        "peak": int(stamps[np.nanargmax(detected["score"].to_numpy())]),
        "ucr_hit": scores["ucr_hit"],
        "ucr_hit_smoothed": anomaly.ucr_hit(detected["smoothed"].to_numpy(), labels),
        **{k: scores[k] for k in ("event_precision", "event_recall", "event_f1", "point_f1")},
        "sequences": [(int(stamps[s]), int(stamps[e])) for s, e in sequences],
        "seconds": time.perf_counter() - began,
    }
    for name, detector in OTHER_DETECTORS.items():
        other = anomaly.detect_anomaly(fitted, series.test, detector)["is_anomaly"].to_numpy(bool)
        row[f"{name}_event_prf"] = metrics.event_prf(labels, other)
        row[f"{name}_sequences"] = len(anomaly.sequences_of(other))
    return row, detected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", type=Path, help="write every row as JSON here")
    parser.add_argument("--plot", type=Path, help="PNG of the first seed's detection")
    args = parser.parse_args()
    series = rd.load_ucr_anomaly()
    print(f"{series.name}: train {len(series.train)}, test {len(series.test)}, anomaly {series.anomaly}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            row, detected = run(series, seed, args.steps, Path(folder))
            rows.append(row)
            print(json.dumps(row))
            if args.plot is not None and seed == args.seeds[0]:
                anomaly.write_anomaly_plot(args.plot, detected, ["value"], title=f"UCR #135, seed {seed}",
                                           labels=series.test["is_anomaly"].to_numpy(bool))  # fmt: skip
    hits = sum(r["ucr_hit"] for r in rows)
    f1 = [r["event_f1"] for r in rows]
    print(f"ucr_hit {hits}/{len(rows)} seeds; event F1 mean {np.mean(f1):.3f} (min {min(f1):.3f}, max {max(f1):.3f})")
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
