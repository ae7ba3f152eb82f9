"""``recurrax study volatility``: one-step-ahead return distributions of two stock indices, an LSTM with a
Student-t head against GARCH(1,1), on the same rolling origins (docs/finance.md).

Data: daily percent log returns of the S&P 500 and the NASDAQ Composite, 1999-2018 (the adjusted closes that
the ``arch`` package ships: `recurrax.tasks.forecast.index_returns`, no download). Rolling origins, one a year
(its first trading day): at each the models are fit on every return before it (an expanding window) and,
their parameters then fixed, forecast each day of that year from the returns before that day
(`recurrax.tasks.forecast.lstm_rolling`, `garch_rolling`).

Protocol. Development: the years before ``test_years[0]``, the later years cut off before anything runs. The
LSTM's settings (input window, hidden size, steps) are chosen among the budget's candidates by the mean
negative log-likelihood over the ``valid_years`` (an origin at each, seed 0). Test: an origin at the start
of each test year, scored once for the chosen settings with seeds ``0 .. seeds - 1`` (trained as one
program, each member equal to its single run) and for the baselines (`BASELINES`: GARCH(1,1) with Student-t
and normal innovations, GJR-GARCH(1,1,1) with Student-t; nothing chosen for them). Scores over both series
and all test days (`volatility_scores`): NLL, the mean pinball loss at 0.05 and 0.95 and the coverage of the
90% interval between them; each also per series and per test year; and the Diebold-Mariano test of each
LSTM seed against each baseline on the daily NLL (the mean over the series).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._host import cpu_name, package_version, usable_cores
from ..tasks import forecast as fc

VALID_YEARS, TEST_YEARS = (2011, 2012), tuple(range(2013, 2019))
BUDGETS = {  # candidate LSTM settings (input window, hidden size, steps) and seeds of the test run
    "small": {"candidates": [{"input_size": 20, "hidden_size": 16, "steps": 500},
                             {"input_size": 60, "hidden_size": 32, "steps": 500},
                             {"input_size": 60, "hidden_size": 32, "steps": 1000},
                             {"input_size": 120, "hidden_size": 32, "steps": 500}], "seeds": 3},
    "tiny": {"candidates": [{"input_size": 10, "hidden_size": 4, "steps": 20},
                            {"input_size": 20, "hidden_size": 4, "steps": 20}], "seeds": 3},
}  # fmt: skip
BASELINES = {  # name: (innovations, asymmetric, label)
    "garch_t": ("t", False, "GARCH(1,1), Student-t innovations"),
    "garch_normal": ("normal", False, "GARCH(1,1), normal innovations"),
    "gjr_garch_t": ("t", True, "GJR-GARCH(1,1,1), Student-t innovations"),
}
KEYS = ("nll", "pinball", "coverage")


def _scores(y: np.ndarray, forecast: fc.Predictive, names: list[str]) -> dict:
    """Scores over all series and days, and per series."""
    return {**fc.volatility_scores(y, forecast),
            "per_series": {name: fc.volatility_scores(y[i], forecast[i]) for i, name in enumerate(names)}}  # fmt: skip


def _per_year(y: np.ndarray, forecast: fc.Predictive, origins: list[int], years) -> dict:
    """Scores of each origin's block (``y`` and ``forecast`` start at the first origin)."""
    cuts = [o - origins[0] for o in origins] + [y.shape[1]]
    return {str(year): fc.volatility_scores(y[:, a:b], forecast[:, a:b]) for year, a, b in zip(years, cuts, cuts[1:])}


def _baselines(returns: np.ndarray, origins: list[int], names: list[str], years) -> tuple[dict, dict]:
    """Every baseline's scores (with its parameters and time) and rolling forecasts."""
    y, scores, forecasts = returns[:, origins[0] :], {}, {}
    for name, (dist, asymmetric, _) in BASELINES.items():
        start = time.perf_counter()
        forecasts[name], params = fc.garch_rolling(returns, origins, dist, asymmetric=asymmetric)
        scores[name] = {**_scores(y, forecasts[name], names), "per_year": _per_year(y, forecasts[name], origins, years),
                        "params": params, "seconds": time.perf_counter() - start}  # fmt: skip
    return scores, forecasts


def run_volatility_study(out: str | Path, budget: str = "small", *, valid_years=VALID_YEARS, test_years=TEST_YEARS,
                         log: Callable[[str], None] = print) -> tuple[dict, dict]:  # fmt: skip
    """Run the protocol of the module with the ``budget``'s candidates (`BUDGETS`), training runs under
    ``out``; the results (JSON-able: machine, data, validation and test scores of every model, the chosen
    settings, how many configurations saw the test years, minutes) and the test forecasts (``lstm`` ``[M, N, T]`` each seed's, and each baseline's) with
    the ``actual`` returns ``[N, T]``."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; expected one of {', '.join(BUDGETS)}")
    candidates, seeds = BUDGETS[budget]["candidates"], BUDGETS[budget]["seeds"]
    began, out = time.perf_counter(), Path(out)
    frame = fc.index_returns()
    names, dates, returns = list(frame.columns), frame.index, frame.to_numpy().T
    test_origins, valid_origins = fc.year_origins(dates, test_years), fc.year_origins(dates, valid_years)
    dev = returns[:, : test_origins[0]]  # the later years are cut off here
    y_valid = dev[:, valid_origins[0] :]

    log(f"development: validation years {list(valid_years)}")
    valid, _ = _baselines(dev, valid_origins, names, valid_years)
    for c in candidates:
        start, key = time.perf_counter(), json.dumps(c)
        folder = out / "valid" / "L{input_size}_H{hidden_size}_S{steps}".format(**c)
        forecast = fc.lstm_rolling(dev, valid_origins, fc.volatility_config(**c, seed=0), folder, ids=names)
        valid[key] = {**_scores(y_valid, forecast, names), "seconds": time.perf_counter() - start}
        log(f"  lstm {c}: " + ", ".join(f"{k} {valid[key][k]:.4f}" for k in KEYS))
    for name in BASELINES:
        log(f"  {name}: " + ", ".join(f"{k} {valid[name][k]:.4f}" for k in KEYS))
    chosen = min(candidates, key=lambda c: valid[json.dumps(c)]["nll"])
    log(f"chosen on validation NLL: {chosen}")

    y_test = returns[:, test_origins[0] :]
    test, forecasts = _baselines(returns, test_origins, names, test_years)
    start = time.perf_counter()
    cfg = fc.volatility_config(**chosen, seed=0, seeds=seeds)
    forecasts["lstm"] = fc.lstm_rolling(returns, test_origins, cfg, out / "test", ids=names)
    forecasts["actual"] = y_test
    daily = {name: forecasts[name].nll(y_test).mean(axis=0) for name in BASELINES}  # [T]: mean over series
    members = [{"seed": m, **_scores(y_test, forecasts["lstm"][m], names),
                "per_year": _per_year(y_test, forecasts["lstm"][m], test_origins, test_years),
                "diebold_mariano": {name: fc.diebold_mariano(forecasts["lstm"][m].nll(y_test).mean(axis=0), loss)
                                    for name, loss in daily.items()}}
               for m in range(seeds)]  # fmt: skip
    test["lstm"] = {"config": chosen, "seconds": time.perf_counter() - start, "seeds": members}
    result = {
        "machine": {"cpu": cpu_name(), "cores": usable_cores(), "jax": package_version("jax"),
                    "arch": package_version("arch")},
        "data": {"series": names, "first": str(dates[0].date()), "last": str(dates[-1].date()), "days": len(dates),
                 "valid_years": list(valid_years), "test_years": list(test_years),
                 "test_dates": [str(d.date()) for d in dates[test_origins[0] :]]},
        "budget": budget, "candidates": candidates, "valid": valid, "chosen": chosen, "test": test,
        "configs_on_test": 1 + len(BASELINES),
        "minutes": (time.perf_counter() - began) / 60,
    }  # fmt: skip
    return result, forecasts


def volatility_markdown(result: dict) -> str:
    """The test table (the LSTM's mean ± sd over seeds, every seed, the baselines), the NLL by test year and the
    Diebold-Mariano statistics (negative: the LSTM's NLL is lower)."""

    def row(label: str, cells) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    test, years, chosen = result["test"], result["data"]["test_years"], result["chosen"]
    seeds = test["lstm"]["seeds"]
    spread = {k: np.array([s[k] for s in seeds]) for k in KEYS}
    label = f"LSTM Student-t, input {chosen['input_size']}, hidden {chosen['hidden_size']}, {chosen['steps']} steps"
    lines = [f"| model (test {years[0]}-{years[-1]}, all series) | NLL | pinball (0.05, 0.95) | coverage (90%) |",
             "|---|---|---|---|",
             row(f"{label}, seeds 0-{len(seeds) - 1}",
                 (f"{v.mean():.4f} ± {v.std(ddof=1) if v.size > 1 else 0.0:.4f}" for v in spread.values()))]  # fmt: skip
    lines += [row(f"LSTM seed {s['seed']}", (f"{s[k]:.4f}" for k in KEYS)) for s in seeds]
    lines += [row(BASELINES[name][2], (f"{test[name][k]:.4f}" for k in KEYS)) for name in BASELINES]
    lines += ["", "| NLL by test year | " + " | ".join(map(str, years)) + " |", "|---" * (len(years) + 1) + "|"]
    lines.append(row("LSTM, mean of seeds", (f"{np.mean([s['per_year'][str(y)]['nll'] for s in seeds]):.4f}"
                                              for y in years)))  # fmt: skip
    lines += [row(BASELINES[name][2], (f"{test[name]['per_year'][str(y)]['nll']:.4f}" for y in years))
              for name in BASELINES]  # fmt: skip
    lines += ["", "| Diebold-Mariano, daily NLL of the LSTM against | " + " | ".join(f"seed {s['seed']}" for s in seeds)
              + " |", "|---" * (len(seeds) + 1) + "|"]  # fmt: skip
    lines += [row(BASELINES[name][2], (f"{s['diebold_mariano'][name]['stat']:.2f} (p {s['diebold_mariano'][name]['p']:.3f})"
                                       for s in seeds)) for name in BASELINES]  # fmt: skip
    return "\n".join(lines)


def write_volatility_plot(path: str | Path, result: dict, forecasts: dict) -> None:
    """The test returns with the 90% intervals of the LSTM (seed 0) and GARCH(1,1)-t: one panel
    per series over the test years, then the first series over the last test year."""
    y, dates, names = forecasts["actual"], pd.DatetimeIndex(result["data"]["test_dates"]), result["data"]["series"]
    last = dates.year == dates.year.max()
    panels = [(i, np.ones(len(dates), bool), f"{name}, test years") for i, name in enumerate(names)]
    panels.append((0, last, f"{names[0]}, {dates.year.max()}"))
    shown = {"LSTM (seed 0)": (forecasts["lstm"][0], "tab:blue"), "GARCH(1,1)-t": (forecasts["garch_t"], "tab:red")}
    fig = Figure(figsize=(12, 3.1 * len(panels)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1)
    for ax, (i, keep, title) in zip(axes, panels):
        ax.plot(dates[keep], y[i, keep], color="0.55", lw=0.5, label="daily log return (%)")
        for label, (forecast, colour) in shown.items():
            q = forecast[i].quantiles((0.05, 0.95))[keep]
            ax.plot(dates[keep], q[:, 0], color=colour, lw=0.8, label=f"{label} 90% interval")
            ax.plot(dates[keep], q[:, 1], color=colour, lw=0.8)
        ax.set_title(f"{title}: one-step-ahead 90% intervals, models refit each January")
        ax.set_ylabel("%")
        ax.legend(loc="lower left", fontsize=8, ncol=3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
