"""Finance example: one-step-ahead return distributions of two stock indices, an LSTM with a Student-t head
against GARCH(1,1), on the same rolling origins.

Data: daily percent log returns of the S&P 500 and the NASDAQ Composite, 1999-2018 (the adjusted closes that
the ``arch`` package ships in ``arch.data``: no download). Rolling origins, one a year (the first trading day):
at each the models are fit on every return before it (an expanding window) and, parameters fixed, forecast
each day of that year from the returns before that day (`recurrax.tasks.forecast.lstm_rolling`,
`garch_rolling`).

Protocol. Development: 1999-2012, the later years cut off before anything runs. The LSTM's settings (input
window, hidden size, steps) are chosen among ``CANDIDATES`` by the mean negative log-likelihood on the
validation years 2011 and 2012 (origins 2011-01-03 and 2012-01-03, seed 0). Test: 2013-2018 (origins at each
year's start), scored once for the chosen settings with seeds 0, 1, 2 (trained as one program, each member
equal to its single run) and for the two GARCH baselines (Student-t and normal innovations; nothing chosen).
Scores over both series and all test days: NLL, the mean pinball loss at 0.05 and 0.95 and the coverage of
the 90% interval between them.

    python benchmarks/finance_volatility.py --out runs/finance --plot docs/finance_volatility.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from recurrax._host import cpu_name, package_version, usable_cores
from recurrax.tasks import forecast as fc

VALID_YEARS, TEST_YEARS = (2011, 2012), tuple(range(2013, 2019))
CANDIDATES = [  # input window, hidden size, steps
    {"input_size": 20, "hidden_size": 16, "steps": 500},
    {"input_size": 60, "hidden_size": 32, "steps": 500},
    {"input_size": 60, "hidden_size": 32, "steps": 1000},
    {"input_size": 120, "hidden_size": 32, "steps": 500},
]
SEEDS = 3


def scores(y: np.ndarray, forecast: fc.Predictive, names: list[str]) -> dict:
    """Scores over all series and days, and per series."""
    out = fc.volatility_scores(y, forecast)
    out["per_series"] = {name: fc.volatility_scores(y[i], forecast[i]) for i, name in enumerate(names)}
    return out


def garch_both(returns: np.ndarray, origins: list[int], names: list[str]) -> dict:
    y = returns[:, origins[0] :]
    out = {}
    for dist in ("t", "normal"):
        start = time.perf_counter()
        forecast, params = fc.garch_rolling(returns, origins, dist)
        out[f"garch_{dist}"] = {**scores(y, forecast, names), "params": params,
                                "seconds": time.perf_counter() - start, "forecast": forecast}  # fmt: skip
    return out


def mean_sd(rows: list[dict], key: str) -> str:
    values = np.array([row[key] for row in rows])
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}" if len(values) > 1 else f"{values[0]:.4f}"


def plot(path: Path, dates, y: np.ndarray, names: list[str], forecasts: dict[str, fc.Predictive]) -> None:
    """Returns with each model's 90% interval over the test years, one panel per series."""
    fig, axes = plt.subplots(len(names), 1, figsize=(12, 3.2 * len(names)), sharex=True)
    colours = {"LSTM (seed 0)": "tab:blue", "GARCH(1,1)-t": "tab:red"}
    for i, (ax, name) in enumerate(zip(np.atleast_1d(axes), names)):
        ax.plot(dates, y[i], color="0.55", lw=0.5, label="daily log return (%)")
        for label, forecast in forecasts.items():
            q = forecast[i].quantiles((0.05, 0.95))
            ax.plot(dates, q[:, 0], color=colours[label], lw=0.8, label=f"{label} 90% interval")
            ax.plot(dates, q[:, 1], color=colours[label], lw=0.8)
        ax.set_title(f"{name}: one-step-ahead 90% intervals, refit each January")
        ax.set_ylabel("%")
        ax.legend(loc="lower left", fontsize=8, ncol=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/finance"))
    parser.add_argument("--plot", type=Path, default=Path("docs/finance_volatility.png"))
    parser.add_argument("--quick", action="store_true", help="smoke run: two tiny candidates, 20 steps")
    args = parser.parse_args()
    candidates = CANDIDATES
    if args.quick:
        candidates = [
            {"input_size": 10, "hidden_size": 4, "steps": 20},
            {"input_size": 20, "hidden_size": 4, "steps": 20},
        ]
    began = time.perf_counter()
    frame = fc.index_returns()
    names, dates, returns = list(frame.columns), frame.index, frame.to_numpy().T
    test_origins = fc.year_origins(dates, TEST_YEARS)
    dev = returns[:, : test_origins[0]]  # the later years are cut off here
    valid_origins = fc.year_origins(dates, VALID_YEARS)
    y_valid = dev[:, valid_origins[0] :]

    result = {"machine": {"cpu": cpu_name(), "cores": usable_cores(), "jax": package_version("jax"),
                          "arch": package_version("arch")},
              "data": {"series": names, "first": str(dates[0].date()), "last": str(dates[-1].date()),
                       "days": len(dates), "valid_years": VALID_YEARS, "test_years": TEST_YEARS}}  # fmt: skip

    print("development: validation years", VALID_YEARS)
    valid = garch_both(dev, valid_origins, names)
    for c in candidates:
        start = time.perf_counter()
        cfg = fc.volatility_config(**c, seed=0)
        forecast = fc.lstm_rolling(
            dev, valid_origins, cfg, args.out / "valid" / "L{input_size}_H{hidden_size}_S{steps}".format(**c), ids=names
        )
        valid[json.dumps(c)] = {**scores(y_valid, forecast, names), "seconds": time.perf_counter() - start}
        print(
            f"  lstm {c}: " + ", ".join(f"{k} {valid[json.dumps(c)][k]:.4f}" for k in ("nll", "pinball", "coverage")),
            flush=True,
        )
    for dist in ("t", "normal"):
        print(
            f"  garch_{dist}: "
            + ", ".join(f"{k} {valid[f'garch_{dist}'][k]:.4f}" for k in ("nll", "pinball", "coverage"))
        )
    chosen = min(candidates, key=lambda c: valid[json.dumps(c)]["nll"])
    print("chosen on validation NLL:", chosen, flush=True)

    y_test = returns[:, test_origins[0] :]
    test = garch_both(returns, test_origins, names)
    start = time.perf_counter()
    cfg = fc.volatility_config(**chosen, seed=0, seeds=SEEDS)
    members = fc.lstm_rolling(returns, test_origins, cfg, args.out / "test", ids=names)
    seconds = time.perf_counter() - start
    test["lstm"] = {"config": chosen, "seconds": seconds,
                    "seeds": [{"seed": m, **scores(y_test, members[m], names)} for m in range(SEEDS)]}  # fmt: skip

    plot(args.plot, dates[test_origins[0] :], y_test, names,
         {"LSTM (seed 0)": members[0], "GARCH(1,1)-t": test["garch_t"]["forecast"]})  # fmt: skip

    lines = ["| model (test 2013-2018, both series) | NLL | pinball (0.05, 0.95) | coverage of the 90% interval |",
             "|---|---|---|---|"]  # fmt: skip
    rows = test["lstm"]["seeds"]
    lines.append(
        f"| LSTM Student-t {chosen}, seeds 0-{SEEDS - 1} | "
        + " | ".join(mean_sd(rows, k) for k in ("nll", "pinball", "coverage"))
        + " |"
    )
    for row in rows:
        lines.append(
            f"| LSTM seed {row['seed']} | " + " | ".join(f"{row[k]:.4f}" for k in ("nll", "pinball", "coverage")) + " |"
        )
    for dist, label in (("t", "GARCH(1,1), Student-t innovations"), ("normal", "GARCH(1,1), normal innovations")):
        lines.append(
            f"| {label} | "
            + " | ".join(f"{test[f'garch_{dist}'][k]:.4f}" for k in ("nll", "pinball", "coverage"))
            + " |"
        )
    for part in (valid, test):
        for key in ("garch_t", "garch_normal"):
            part[key].pop("forecast")
    result.update(candidates=candidates, valid=valid, chosen=chosen, test=test, table="\n".join(lines),
                  minutes=(time.perf_counter() - began) / 60)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1, default=float))
    print("\n".join(lines))
    print(f"wrote {args.out}/results.json and {args.plot}; {result['minutes']:.1f} minutes on {cpu_name()}")


if __name__ == "__main__":
    main()
