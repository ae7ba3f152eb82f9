"""``report.md`` of a forecasting run fitted with a holdout: the set-up, and the holdout scores of the model
beside those of the naive baselines on the same holdout (does the LSTM beat "the last value"?)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._backtest import point_scores
from ._baselines import forecast_baseline
from ._config import ForecastConfig
from ._data import SeriesSet
from ._select import Selection

COLUMNS = ("mae", "rmse", "smape", "mase", "coverage_80", "quantile_loss")


def baseline_scores(history: SeriesSet, actual: np.ndarray, horizon: int, period: int) -> dict[str, dict[str, float]]:
    """`point_scores` of ``naive`` (and ``seasonal_naive`` when ``period > 1``) forecasts of the ``horizon``
    steps after ``history``, against ``actual`` ``[N, H]``."""
    names = ["naive"] + (["seasonal_naive"] if period > 1 else [])
    return {
        name: point_scores(actual, forecast_baseline(name, history.values, horizon, period), history.values, period)
        for name in names
    }


def write_forecast_report(
    path: str | Path,
    cfg: ForecastConfig,
    history: SeriesSet,
    scores: dict[str, float],
    baselines: dict[str, dict[str, float]],
    *,
    selection: Selection | None = None,
    candidates: dict[str, dict[str, float]] | None = None,
    derived: Sequence[str] = (),
) -> Path:
    """Write ``report.md`` at ``path``: model, data and training settings (``derived``: the keys derived from
    the data), then one row of holdout scores for the model and one per baseline (``baselines``:
    `baseline_scores`), and the holdout plot. An auto run (``selection``) adds which forecaster won on
    validation and by how much, the table of every candidate's validation scores and, given ``candidates``
    (``{name: scores}``, with ``caught``), their holdout scores, and how many forecasts the plausibility catch
    replaced."""
    m, d, o, t = cfg.model, cfg.data, cfg.optim, cfg.train
    lengths = [v.size for v in history.values]
    ensemble = f", ensemble of {m.ensemble}" if (m.ensemble or 1) > 1 else ""
    attention = " with attention" if m.kind == "seq2seq" and m.attention else ""
    covariates = ", ".join(d.covariate_names) or "none"
    loss = f" ({m.point_loss} loss)" if m.head == "point" else ""
    columns = [c for c in COLUMNS if c in scores]
    rows = [("model" if selection is None else f"model ({selection.winner})", scores), *baselines.items()]
    kind = "auto (the LSTM: direct" if m.kind == "auto" else m.kind
    model = f"{kind}{attention} {m.num_layers} x {m.cell} ({m.hidden_size} units), head {m.head}{loss}{ensemble}"
    model += ")" if m.kind == "auto" else ""
    data = (
        f"{len(history)} series of {min(lengths)}-{max(lengths)} training values; input {d.input_size}, "
        f"horizon {d.horizon}, period {d.period}; {d.scaler} scaling per {d.scale_scope}; covariates: {covariates}"
    )
    lines = [
        f"# Forecasting run: {d.path or 'series given in memory'}",
        "",
        f"- Model: {model}",
        f"- Data: {data}",
        f"- Training: {t.steps} steps of {d.batch_size} windows, {o.name} lr {o.lr}, clip {o.clip_norm}, seed {t.seed}",
        *([f"- Derived from the data: {', '.join(derived)}"] if derived else []),
        "",
        *([] if selection is None else _auto_section(selection, candidates, d.horizon)),
        f"## Holdout: the last {d.horizon} values of each series",
        "",
        "| forecaster | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
        *(
            f"| {name} | " + " | ".join(f"{row[c]:.4f}" if c in row else "" for c in columns) + " |"
            for name, row in rows
        ),
        "",
        "![holdout](holdout.png)",
        "",
    ]
    path = Path(path)
    path.write_text("\n".join(lines))
    return path


def _auto_section(selection: Selection, candidates: dict[str, dict[str, float]] | None, horizon: int) -> list[str]:
    """The report's account of an auto run's choice: the winner and its margin, the candidates' table, the
    caught forecasts, the notes."""
    caught = selection.validation[selection.winner]["caught"]
    held = None if candidates is None else candidates.get(selection.winner, {}).get("caught")
    count = f"{int(caught)} on validation" + ("" if held is None else f", {int(held)} on the holdout")
    seconds = ", ".join(f"{name} {value:.1f} s" for name, value in selection.seconds.items())
    return [
        "## Forecaster chosen on validation (model.kind auto)",
        "",
        f"Validation: the last {horizon} values of each series' training history; score: the mean MASE over "
        "series (in-sample seasonal naive scale). The LSTM was then refit on the whole training history.",
        "",
        f"**{selection.summary()}.**",
        "",
        *selection.table(candidates),
        "",
        f"- Plausibility catch: forecasts of the chosen forecaster replaced by seasonal naive: {count}.",
        *([f"- Time to fit and forecast the validation window: {seconds}."] if seconds else []),
        *(f"- {note}" for note in selection.notes),
        "",
    ]
