"""`fit_forecast`, `predict`, `load_forecast`: a forecasting run from config to run directory, and its reuse.

A run directory holds ``config.toml``, ``metrics.jsonl``, ``checkpoints/`` (each ``meta.json`` carries the
config, the series scaler and the data fingerprint) and, from `write_forecast_plot`, PNG plots.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...config import from_dict, to_dict, to_toml
from ...train import FitResult, find_checkpoint, fit, load_checkpoint, read_meta
from ...metrics import smape
from ._config import ForecastConfig, ModelConfig
from ._data import Scaler, SeriesSet, Windows, last_inputs, make_windows
from ._heads import head_loss, head_quantiles, point_forecast
from ._model import Forecaster
from ._scaling import scale_rows, window_stats


@dataclass
class Forecast:
    """Forecasts in data units: ``mean`` ``[N, H]`` (the point forecast), ``quantiles`` ``[N, H, K]`` at
    ``levels`` ``[K]`` (None for a point head or when no levels were asked)."""

    mean: np.ndarray
    quantiles: np.ndarray | None = None
    levels: np.ndarray | None = None

    def interval(self, coverage: float) -> tuple[np.ndarray, np.ndarray]:
        """The central interval of ``coverage`` (e.g. 0.8: the 0.1 and 0.9 quantiles), each ``[N, H]``."""
        lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
        if self.levels is None or self.quantiles is None:
            raise ValueError("this forecast holds no quantiles; predict with levels")
        found = [int(np.argmin(np.abs(self.levels - q))) for q in (lo, hi)]
        if not np.allclose(self.levels[found], [lo, hi]):
            raise ValueError(f"levels {self.levels.tolist()} lack {lo} and {hi}")
        return self.quantiles[..., found[0]], self.quantiles[..., found[1]]


@dataclass
class ForecastRun:
    """What `fit_forecast` returns: the chosen ``model`` (best on validation, else final), the series
    ``scaler`` (None for window scaling), the config and the training loop's `FitResult`."""

    run_dir: Path
    model: Forecaster
    scaler: Scaler | None
    config: ForecastConfig
    fit: FitResult | None


def build_model(cfg: ModelConfig, horizon: int, *, key: jax.Array) -> Forecaster:
    """The `Forecaster` that ``cfg`` describes for ``horizon`` steps."""
    return Forecaster(
        horizon, cfg.hidden_size, cfg.num_layers, kind=cfg.kind, head=cfg.head, quantiles=cfg.quantiles,
        cell=cfg.cell, dropout=cfg.dropout, key=key,
    )  # fmt: skip


def scaled_windows(windows: Windows, cfg: ForecastConfig, scaler: Scaler | None) -> dict[str, np.ndarray]:
    """Model inputs of ``windows``: ``inputs``, ``lengths``, ``targets`` scaled, and the ``loc``/``scale`` used."""
    if scaler is None:
        loc, scale = window_stats(windows.inputs, windows.lengths, cfg.data.scaler)
    else:
        loc, scale = scaler.loc[windows.series], scaler.scale[windows.series]
    inputs = scale_rows(windows.inputs, windows.lengths, loc, scale)
    targets = (windows.targets - loc[:, None]) / scale[:, None]
    return {"inputs": inputs, "lengths": windows.lengths, "targets": targets, "loc": loc, "scale": scale}


def forecast_loss(model: Forecaster, batch: dict[str, Any], carry: Any, key: jax.Array) -> tuple[jax.Array, Any]:
    """The mean head loss of a batch (`fit`'s ``loss_fn``). Direct: over the ``H`` targets. Recursive: over
    every one-step-ahead target of input and horizon (teacher forcing)."""
    inputs, lengths, targets = batch["inputs"], batch["lengths"], batch["targets"]
    if model.kind == "direct":
        raw = model(inputs, lengths, key=key)
        loss = jnp.mean(head_loss(model.head, raw, targets, model.quantiles))
        return loss, (carry, {})
    length, horizon = inputs.shape[1], targets.shape[1]
    t = jnp.arange(length + horizon).reshape(1, -1)
    offset = t - lengths.reshape(-1, 1)
    from_targets = jnp.take_along_axis(targets, jnp.clip(offset, 0, horizon - 1), axis=1)
    padded = jnp.concatenate([inputs, jnp.zeros_like(targets)], axis=1)
    seq = jnp.where(offset < 0, padded, jnp.where(offset < horizon, from_targets, 0.0))
    raw, _ = model.step_outputs(seq[:, :-1], lengths + horizon - 1, key=key)
    valid = (t[:, :-1] < (lengths + horizon - 1).reshape(-1, 1)).astype(raw.dtype)
    losses = head_loss(model.head, raw, seq[:, 1:], model.quantiles)
    return jnp.sum(losses * valid) / jnp.sum(valid), (carry, {})


_eval_loss = eqx.filter_jit(lambda model, batch: forecast_loss(model, batch, None, None)[0])


@eqx.filter_jit
def _forward(model: Forecaster, inputs: jax.Array, lengths: jax.Array) -> jax.Array:
    return model(inputs, lengths)


def _raw_forecast(model: Forecaster, inputs: np.ndarray, lengths: np.ndarray, chunk: int = 1024) -> np.ndarray:
    parts = []
    for start in range(0, len(inputs), chunk):
        x = jnp.asarray(inputs[start : start + chunk], jnp.float32)
        n = jnp.asarray(lengths[start : start + chunk], jnp.int32)
        parts.append(np.asarray(_forward(model, x, n), np.float64))
    return np.concatenate(parts)


def predict(
    model: Forecaster,
    cfg: ForecastConfig,
    values: Sequence[np.ndarray],
    *,
    scaler: Scaler | None = None,
    levels: Sequence[float] | None = None,
) -> Forecast:
    """Forecasts of the next ``horizon`` steps after each history ``values[i]`` (data units).

    ``scaler``: the run's series scaler (series scaling), None for window scaling. ``levels``: quantile
    levels in (0, 1) for prediction intervals (needs a probabilistic head).
    """
    inputs, lengths = last_inputs(values, cfg.data.input_size)
    windows = Windows(inputs, lengths, np.zeros((len(values), model.horizon)), np.arange(len(values)))
    data = scaled_windows(windows, cfg, scaler)
    raw = _raw_forecast(model, data["inputs"], data["lengths"])
    loc, scale = data["loc"][:, None], data["scale"][:, None]
    mean = np.asarray(point_forecast(model.head, jnp.asarray(raw), model.quantiles), np.float64) * scale + loc
    if levels is None:
        return Forecast(mean)
    levels = np.asarray(levels, np.float64)
    q = head_quantiles(model.head, raw, levels, model.quantiles)
    return Forecast(mean, q * scale[..., None] + loc[..., None], levels)


def fingerprint(series: SeriesSet) -> str:
    """sha256 of the series ids and values (float64 bytes)."""
    digest = hashlib.sha256()
    for name, y in zip(series.ids, series.values):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(y, np.float64).tobytes())
    return digest.hexdigest()


def fit_forecast(
    cfg: ForecastConfig, series: SeriesSet, run_dir: str | Path, *, resume: bool = False, progress: bool = True
) -> ForecastRun:
    """Train one global forecaster on all ``series`` as ``cfg`` says; write the run directory ``run_dir``.

    Training windows are `make_windows` of every series (batches of ``data.batch_size`` windows drawn with
    replacement, deterministic in the step). With ``data.validate`` the last ``horizon`` values of each
    series are held out: validation ``loss`` (the head loss) and ``smape`` pick the best checkpoint.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(to_toml(cfg))
    d = cfg.data
    history = series.split_last(d.horizon)[0] if d.validate else series
    scaler = Scaler.fit(history.values, d.scaler) if d.scale_scope == "series" else None
    train = scaled_windows(make_windows(history.values, d.input_size, d.horizon, stride=d.stride,
                                        min_input=d.min_input), cfg, scaler)  # fmt: skip
    arrays = {k: jnp.asarray(train[k], jnp.int32 if k == "lengths" else jnp.float32)
              for k in ("inputs", "lengths", "targets")}  # fmt: skip
    size = len(train["lengths"])

    def get_batch(index: int) -> dict[str, jax.Array]:
        rows = jnp.asarray(np.random.default_rng([cfg.train.seed, index]).integers(0, size, d.batch_size))
        return {k: v[rows] for k, v in arrays.items()}

    evaluate = None
    if d.validate:
        valid = scaled_windows(make_windows(series.values, d.input_size, d.horizon, stride=10**9), cfg, scaler)
        batch = {k: jnp.asarray(valid[k], jnp.int32 if k == "lengths" else jnp.float32)
                 for k in ("inputs", "lengths", "targets")}  # fmt: skip
        actual = np.stack([y[-d.horizon :] for y in series.values])

        def evaluate(model: Forecaster) -> dict[str, float]:
            loss = float(_eval_loss(model, batch))
            mean = predict(model, cfg, history.values, scaler=scaler).mean
            return {"loss": loss, "smape": smape(actual, mean)}

    model = build_model(cfg.model, d.horizon, key=jax.random.split(jax.random.key(cfg.train.seed))[1])
    meta = {
        "task": "forecast",
        "config": to_dict(cfg),
        "scaler": None if scaler is None else scaler.to_json(),
        "data_fingerprint": fingerprint(series),
    }
    result = fit(model, forecast_loss, get_batch, optim=cfg.optim, train=cfg.train, run_dir=run_dir,
                 evaluate=evaluate, meta=meta, resume=resume, progress=progress)  # fmt: skip
    final = result.best_model if result.best_model is not None else result.model
    return ForecastRun(run_dir, final, scaler, cfg, result)


def load_forecast(path: str | Path) -> ForecastRun:
    """The model, scaler and config of a run directory (best or latest checkpoint) or a checkpoint; its
    ``fit`` is None."""
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    if meta.get("task") != "forecast":
        raise ValueError(f"{checkpoint} is not a forecasting checkpoint (task {meta.get('task')!r})")
    cfg = from_dict(ForecastConfig, meta["config"])
    skeleton = build_model(cfg.model, cfg.data.horizon, key=jax.random.key(0))
    model, meta = load_checkpoint(checkpoint, skeleton)
    scaler = None if meta.get("scaler") is None else Scaler.from_json(meta["scaler"])
    return ForecastRun(Path(path), model, scaler, cfg, None)
