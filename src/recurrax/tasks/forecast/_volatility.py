"""Volatility forecasting: one-step-ahead predictive distributions of daily returns from the recurrent
forecaster with a Student-t head, scored on rolling origins (GARCH(1,1), the baseline: `garch_rolling`).

Returns are ``r_t = 100 log(p_t / p_{t-1})`` (percent log returns, `log_returns`), ``N`` series on one date
grid, ``[N, T]``. Rolling origins ``o_1 < ... < o_K`` (indices into ``T``, e.g. the first trading day of each
year: `year_origins`) cut the evaluation span ``[o_1, T)`` into blocks ``[o_k, o_{k+1})``; at each origin a
model is fit on ``r[:, :o_k]`` (an expanding window) and, its parameters then fixed, forecasts every ``r_t`` of
its block from ``r[:, :t]`` alone. No forecast sees a return at or after its target, and no fit sees one at
or after its origin.

Each forecast is a location-scale Student-t, ``r_t ~ loc + scale * T_df`` (`Predictive`; ``df = inf`` is the
normal), scored by `volatility_scores`: the mean negative log-likelihood (per return, in percent units), the
mean pinball loss at the quantile levels, and the coverage of the central interval between the outermost
levels (0.05 and 0.95: the 90% interval); `diebold_mariano` tests two forecasters' daily losses.

The LSTM (`lstm_rolling`): a global `Forecaster` over all ``N`` series (`volatility_config`: recursive, head
``student_t``, horizon 1, each series standardised by the mean and standard deviation of its training
history), trained by `fit_forecast`; its head's outputs ``(mu, sigma, nu)`` in scaled units map back as
``loc = mu s + m``, ``scale = sigma s``, ``df = nu``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import numpy as np
from scipy.special import erfc, gammaln, ndtri, stdtrit

from ...metrics import coverage, quantile_loss
from ...models import MIN_SCALE
from ...train import OptimConfig
from ._config import DataConfig, ForecastConfig, ForecastTrainConfig, ModelConfig
from ._data import SeriesSet
from ._run import fit_forecast

LEVELS = (0.05, 0.95)  # the 90% interval's bounds


@dataclass
class Predictive:
    """Location-scale Student-t forecasts ``r ~ loc + scale * T_df``: ``loc``, ``scale``, ``df`` of one shape
    (``[N, T]``: series, target days); ``df = inf`` is the normal ``N(loc, scale^2)``.

    Example:
        >>> p = Predictive(loc=[0.0, 0.0], scale=[1.0, 1.0], df=[4.0, np.inf])
        >>> p.quantiles([0.95]).round(4).tolist()
        [[2.1318], [1.6449]]
    """

    loc: np.ndarray
    scale: np.ndarray
    df: np.ndarray

    def __post_init__(self):
        self.loc, self.scale, self.df = np.broadcast_arrays(*(np.asarray(a, np.float64)
                                                              for a in (self.loc, self.scale, self.df)))  # fmt: skip
        if np.any(self.scale <= 0) or np.any(self.df <= 0):
            raise ValueError("a predictive distribution needs scale > 0 and df > 0")

    @property
    def std(self) -> np.ndarray:
        """The standard deviation ``scale sqrt(df / (df - 2))`` (``scale`` for the normal; inf for df <= 2)."""
        df = np.where(np.isinf(self.df), 1e300, self.df)
        return np.where(df > 2, self.scale * np.sqrt(df / np.where(df > 2, df - 2, 1.0)), np.inf)

    def nll(self, y: np.ndarray) -> np.ndarray:
        """``-log p(y)`` per entry (the shape of ``loc``)."""
        z = (np.asarray(y, np.float64) - self.loc) / self.scale
        normal = 0.5 * z**2 + 0.5 * np.log(2 * np.pi)
        df = np.where(np.isinf(self.df), 1.0, self.df)
        log_norm = gammaln((df + 1) / 2) - gammaln(df / 2) - 0.5 * np.log(df * np.pi)
        student = (df + 1) / 2 * np.log1p(z**2 / df) - log_norm
        return np.where(np.isinf(self.df), normal, student) + np.log(self.scale)

    def quantiles(self, levels: Sequence[float]) -> np.ndarray:
        """Quantiles ``[..., K]`` at ``levels`` ``[K]`` in (0, 1)."""
        q = np.asarray(levels, np.float64)
        df = self.df[..., None]
        unit = np.where(np.isinf(df), ndtri(q), stdtrit(np.where(np.isinf(df), 1.0, df), q))
        return self.loc[..., None] + self.scale[..., None] * unit

    def __getitem__(self, index) -> Predictive:
        return Predictive(self.loc[index], self.scale[index], self.df[index])

    @classmethod
    def concat(cls, parts: Sequence[Predictive], axis: int = -1) -> Predictive:
        return cls(*(np.concatenate([getattr(p, k) for p in parts], axis=axis) for k in ("loc", "scale", "df")))


def volatility_scores(y: np.ndarray, forecast: Predictive, levels: Sequence[float] = LEVELS) -> dict[str, float]:
    """Scores of ``forecast`` for the actual returns ``y`` (its shape): ``nll`` (mean negative log-likelihood),
    ``pinball`` (mean pinball loss over ``levels``, `recurrax.metrics.quantile_loss`) and ``coverage`` (the
    fraction of ``y`` between the quantiles at the lowest and highest level, `recurrax.metrics.coverage`)."""
    y = np.asarray(y, np.float64)
    if y.shape != forecast.loc.shape:
        raise ValueError(f"y has shape {y.shape} and the forecasts {forecast.loc.shape}")
    levels = sorted(levels)
    q = forecast.quantiles(levels)
    return {"nll": float(np.mean(forecast.nll(y))), "pinball": quantile_loss(y, q, levels),
            "coverage": coverage(y, q[..., 0], q[..., -1])}  # fmt: skip


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, lags: int | None = None) -> dict[str, float]:
    """The Diebold-Mariano test (Diebold & Mariano 1995) of equal expected loss of two forecasters, from their
    losses ``[T]`` on the same days: ``d_t = a_t - b_t``, ``stat = mean(d) / sqrt(S / T)`` with ``S`` the
    Newey-West long-run variance of ``d`` (Bartlett weights ``1 - k / (lags + 1)``, ``lags`` default
    ``floor(T^(1/3))``); ``p`` the two-sided normal p-value. A negative ``stat``: ``a`` has the lower loss."""
    d = np.asarray(loss_a, np.float64) - np.asarray(loss_b, np.float64)
    if d.ndim != 1 or d.size < 3:
        raise ValueError(f"expected two loss series [T] of one length T >= 3, got shape {d.shape}")
    lags = int(d.size ** (1 / 3)) if lags is None else lags
    e = d - d.mean()
    variance = e @ e / d.size
    for k in range(1, lags + 1):
        variance += 2 * (1 - k / (lags + 1)) * (e[k:] @ e[:-k]) / d.size
    stat = d.mean() / np.sqrt(variance / d.size)
    return {"stat": float(stat), "p": float(erfc(abs(stat) / np.sqrt(2))), "lags": lags}


def log_returns(prices: np.ndarray) -> np.ndarray:
    """Percent log returns ``100 log(p_t / p_{t-1})`` along the last axis (``[..., T + 1]`` -> ``[..., T]``)."""
    p = np.asarray(prices, np.float64)
    if p.shape[-1] < 2 or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValueError("prices must be finite, positive and at least 2 along the last axis")
    return 100 * np.diff(np.log(p), axis=-1)


def year_origins(dates: Sequence, years: Sequence[int]) -> list[int]:
    """The index of each year's first date in ``dates`` (sorted, datetime-like): rolling origins, one a year."""
    found = np.asarray(dates, "datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    missing = [y for y in years if y not in found]
    if missing:
        raise ValueError(f"no dates in the years {missing}")
    return [int(np.argmax(found == y)) for y in years]


def check_rolling(returns: np.ndarray, origins: Sequence[int], min_history: int = 1) -> tuple[np.ndarray, list[int]]:
    """``returns`` as float64 ``[N, T]`` and ``origins`` as a strictly increasing list in
    ``[min_history, T)``, or a ValueError."""
    r = np.asarray(returns, np.float64)
    if r.ndim != 2 or not np.all(np.isfinite(r)):
        raise ValueError(f"returns must be a finite [N, T] array, got shape {r.shape}")
    origins = [int(o) for o in origins]
    if not origins or origins != sorted(set(origins)) or origins[0] < min_history or origins[-1] >= r.shape[1]:
        raise ValueError(f"origins must increase strictly within [{min_history}, {r.shape[1]}), got {origins}")
    return r, origins


def blocks(origins: list[int], length: int) -> list[tuple[int, int]]:
    """The ``[start, stop)`` of each origin's block: up to the next origin, the last one up to ``length``."""
    return list(zip(origins, [*origins[1:], length]))


def volatility_config(input_size: int = 60, hidden_size: int = 32, steps: int = 1000, *, seed: int = 0,
                      seeds: int = 1, batch_size: int = 128, lr: float = 2e-3) -> ForecastConfig:  # fmt: skip
    """The LSTM of `lstm_rolling`: recursive, head ``student_t``, horizon 1, ``input_size`` past returns a
    window, series scaling ``standard``, ``steps`` Adam updates at ``lr`` (clipped at norm 5), no validation;
    ``seeds > 1`` trains the seeds ``seed, seed + 1, ...`` as one program (a `ForecastEnsemble` whose members
    end where single runs with those seeds end)."""
    return ForecastConfig(
        model=ModelConfig(kind="recursive", head="student_t", hidden_size=hidden_size, ensemble=seeds),
        data=DataConfig(
            input_size=input_size, horizon=1, scaler="standard", scale_scope="series", batch_size=batch_size
        ),
        optim=OptimConfig(lr=lr),
        train=ForecastTrainConfig(steps=steps, seed=seed, log_every=100, eval_every=0, checkpoint_every=0),
    )


_raw = eqx.filter_jit(lambda model, inputs, lengths: model(inputs, lengths))


def one_step(run, returns: np.ndarray, start: int, stop: int) -> Predictive:
    """The forecasts ``[N, stop - start]`` of a `ForecastRun` with a horizon-1 probabilistic head for the
    targets ``returns[:, start:stop]``, each from the ``data.input_size`` returns before it; a
    `ForecastEnsemble` of ``M`` gives each member's, ``[M, N, stop - start]``."""
    size, model = run.config.data.input_size, run.model
    if model.horizon != 1 or model.head not in ("gaussian", "student_t") or run.scaler is None:
        raise ValueError("one-step forecasts need a horizon-1 gaussian or student_t model with series scaling")
    if start < size:
        raise ValueError(f"the first target {start} has fewer than input_size={size} returns before it")
    loc, scale = run.scaler.loc[:, None], run.scaler.scale[:, None]
    z = (np.asarray(returns, np.float64) - loc) / scale
    windows = np.lib.stride_tricks.sliding_window_view(z[:, start - size : stop - 1], size, axis=1)
    n, days = windows.shape[:2]
    inputs = windows.reshape(n * days, size).astype(np.float32)
    raw = np.asarray(_raw(model, inputs, np.full(n * days, size, np.int32)), np.float64)
    raw = raw.reshape(-1, n, days, raw.shape[-1])[0 if raw.ndim == 3 else slice(None)]
    mu, sigma = raw[..., 0], np.logaddexp(0.0, raw[..., 1]) + MIN_SCALE
    df = np.inf if model.head == "gaussian" else 2.0 + np.logaddexp(0.0, raw[..., 2])
    return Predictive(mu * scale + loc, sigma * scale, df)


def lstm_rolling(returns: np.ndarray, origins: Sequence[int], cfg: ForecastConfig, run_dir: str | Path, *,
                 ids: Sequence[str] | None = None, progress: bool = False) -> Predictive:  # fmt: skip
    """One-step forecasts ``[N, T - origins[0]]`` of returns ``[N, T]`` from a model `fit_forecast` trains
    at each origin on every series' returns before it (``run_dir/origin_<o>``), as the module says
    (``[M, N, T - origins[0]]``, each member's, for an ensemble of ``M``: ``model.ensemble``)."""
    r, origins = check_rolling(returns, origins, cfg.data.input_size)
    if cfg.data.horizon != 1 or cfg.data.scale_scope != "series" or cfg.data.validate:
        raise ValueError("rolling one-step forecasts need data.horizon = 1, series scaling and no validation split")
    parts = []
    for start, stop in blocks(origins, r.shape[1]):
        history = SeriesSet.from_arrays(list(r[:, :start]), ids)
        run = fit_forecast(cfg, history, Path(run_dir) / f"origin_{start}", progress=progress)
        parts.append(one_step(run, r[:, :stop], start, stop))
    return Predictive.concat(parts)
