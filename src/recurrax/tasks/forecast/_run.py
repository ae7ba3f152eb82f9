"""`fit_forecast`, `load_forecast`: a forecasting run from config to run directory, and its reuse (forecasts:
`recurrax.tasks.forecast._predict.predict`).

A run directory holds ``config.toml``, ``metrics.jsonl``, ``checkpoints/`` (each ``meta.json`` carries the
config, the series scaler, the covariate scaler and the data fingerprint), ``reference_profile.json`` (the
`recurrax.metrics.ReferenceProfile` of the training history values, feature ``y``, for drift monitoring)
and, from `write_forecast_plot`, PNG plots.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...config import from_dict, to_dict, to_toml
from ...data import Scaler, make_windows
from ...metrics import REFERENCE_PROFILE_FILE, ReferenceProfile, smape
from ...models import head_loss, point_loss
from ...train import FitResult, find_checkpoint, fit, load_checkpoint, read_meta, same_architecture
from ._config import ForecastConfig, ModelConfig
from ._covariate_scaling import CovariateScaler
from ._data import SeriesSet
from ._derive import resolve_config
from ._ensemble import ForecastEnsemble, ensemble_loss
from ._model import Forecaster
from ._predict import device_batch, predict, scaled_windows, scales_covariates
from ._select import Selection
from ._seq2seq import Seq2SeqForecaster


@dataclass
class ForecastRun:
    """What `fit_forecast` returns: the chosen ``model`` (best on validation, else final), the series
    ``scaler`` (None for window scaling), the config, the training loop's `FitResult` and the
    ``covariate_scaler`` of exogenous and static covariates (None without them or with
    ``data.covariate_scaler = "none"``). ``model`` is a `ForecastEnsemble` when ``model.ensemble > 1``.
    ``selection``: for a run of `fit_auto`, the forecaster chosen on validation and every candidate's
    scores (`Selection`; `predict_series` forecasts with the chosen one), else None."""

    run_dir: Path
    model: Forecaster | Seq2SeqForecaster | ForecastEnsemble
    scaler: Scaler | None
    config: ForecastConfig
    fit: FitResult | None
    covariate_scaler: CovariateScaler | None = None
    selection: Selection | None = None


def build_model(
    cfg: ModelConfig, horizon: int, *, key: jax.Array, covariates: int = 0
) -> Forecaster | Seq2SeqForecaster | ForecastEnsemble:
    """The forecaster that ``cfg`` describes for ``horizon`` steps and ``covariates`` covariate channels
    (`Forecaster`, or `Seq2SeqForecaster` for kind ``seq2seq``; kind ``auto``: its LSTM, the direct
    `Forecaster`); with ``cfg.ensemble = M > 1`` a `ForecastEnsemble` of ``M`` of them (``key``: one key,
    split in ``M``, or ``[M]`` keys, one per member; ``ensemble`` None: one model)."""

    def one(k: jax.Array) -> Forecaster | Seq2SeqForecaster:
        common = {"head": cfg.head, "quantiles": cfg.quantiles, "cell": cfg.cell, "dropout": cfg.dropout,
                  "covariates": covariates, "key": k}  # fmt: skip
        if cfg.kind == "seq2seq":
            return Seq2SeqForecaster(horizon, cfg.hidden_size, cfg.num_layers, attention=cfg.attention, **common)
        return Forecaster(horizon, cfg.hidden_size, cfg.num_layers, kind=lstm_kind(cfg.kind), **common)

    members = cfg.ensemble or 1
    return one(key) if members == 1 else ForecastEnsemble.create(members, one, key=key)


def lstm_kind(kind: str) -> str:
    """The `Forecaster` kind of a config's ``model.kind``: ``auto``'s LSTM is the direct forecaster."""
    return "direct" if kind == "auto" else kind


def forecast_loss(
    model: Forecaster | Seq2SeqForecaster | ForecastEnsemble,
    batch: dict[str, Any],
    carry: Any,
    key: jax.Array | None,
    *,
    point_loss: str = "mae",
) -> tuple[jax.Array, Any]:
    """The mean head loss of a batch (`fit`'s ``loss_fn``; a point head's is ``point_loss``, see
    `recurrax.models.point_loss`, which reads the batch's ``loc`` and ``scale`` ``[B]``). Direct
    and seq2seq: over the ``H`` targets (the batch's ``past`` and ``future`` covariates go to the model when
    present). Recursive: over every one-step-ahead target of input and horizon (teacher forcing). A
    `ForecastEnsemble` takes one batch per member (arrays ``[M, B, ...]``) and gives the mean of the member
    losses (`ensemble_loss`, unclipped)."""
    if isinstance(model, ForecastEnsemble):
        return _ensemble_loss(None, point_loss)(model, batch, carry, key)
    return _member_loss(model, batch, key, point_loss), (carry, {})


@functools.cache
def _single_loss(point_loss: str):
    """`fit`'s ``loss_fn`` for one model whose point head trains on ``point_loss``."""
    return functools.partial(forecast_loss, point_loss=point_loss)


@functools.cache
def _ensemble_loss(clip_norm: float | None, point_loss: str):
    """`fit`'s ``loss_fn`` for an ensemble whose members' gradients are clipped at ``clip_norm`` each."""

    def loss_fn(model: ForecastEnsemble, batch: dict[str, Any], carry: Any, key: jax.Array):
        member_loss = functools.partial(_member_loss, point_loss=point_loss)
        loss, losses = ensemble_loss(member_loss, model, batch, key, clip_norm)
        return loss, (carry, {"member_loss_max": jnp.max(losses), "member_loss_min": jnp.min(losses)})

    return loss_fn


def _losses(model: Forecaster | Seq2SeqForecaster, raw: jax.Array, targets: jax.Array, batch: dict[str, Any],
            name: str) -> jax.Array:  # fmt: skip
    """Per-target losses of raw head outputs: the point loss ``name`` for a point head, else the head's."""
    if model.head != "point":
        return head_loss(model.head, raw, targets, model.quantiles)
    if name == "smape" and "loc" not in batch:
        raise ValueError("the smape point loss needs the batch's loc and scale (data units)")
    loc, scale = batch.get("loc", jnp.zeros(targets.shape[:1])), batch.get("scale", jnp.ones(targets.shape[:1]))
    return point_loss(name, raw[..., 0], targets, loc, scale)


def _member_loss(
    model: Forecaster | Seq2SeqForecaster, batch: dict[str, Any], key: jax.Array | None, point_loss: str = "mae"
) -> jax.Array:
    inputs, lengths, targets = batch["inputs"], batch["lengths"], batch["targets"]
    if model.kind != "recursive":
        raw = model(inputs, lengths, key=key, past=batch.get("past"), future=batch.get("future"))
        return jnp.mean(_losses(model, raw, targets, batch, point_loss))
    length, horizon = inputs.shape[1], targets.shape[1]
    t = jnp.arange(length + horizon).reshape(1, -1)
    offset = t - lengths.reshape(-1, 1)
    from_targets = jnp.take_along_axis(targets, jnp.clip(offset, 0, horizon - 1), axis=1)
    padded = jnp.concatenate([inputs, jnp.zeros_like(targets)], axis=1)
    seq = jnp.where(offset < 0, padded, jnp.where(offset < horizon, from_targets, 0.0))
    raw, _ = model.step_outputs(seq[:, :-1], lengths + horizon - 1, key=key)
    valid = (t[:, :-1] < (lengths + horizon - 1).reshape(-1, 1)).astype(raw.dtype)
    losses = _losses(model, raw, seq[:, 1:], batch, point_loss)
    return jnp.sum(losses * valid) / jnp.sum(valid)


_eval_loss = eqx.filter_jit(lambda model, batch, name: forecast_loss(model, batch, None, None, point_loss=name)[0])


def fingerprint(series: SeriesSet) -> str:
    """sha256 of the series ids and values (float64 bytes)."""
    digest = hashlib.sha256()
    for name, y in zip(series.ids, series.values):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(y, np.float64).tobytes())
    return digest.hexdigest()


def fit_forecast(
    cfg: ForecastConfig,
    series: SeriesSet,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    init: Forecaster | None = None,
    selection: Selection | None = None,
) -> ForecastRun:
    """Train one global forecaster on all ``series`` as ``cfg`` says; write the run directory ``run_dir``.

    ``data.input_size`` and ``train.steps`` left None (kind ``auto``, whose LSTM is the direct forecaster)
    are derived from the training histories first (`resolve_config`); the run's config (``config.toml``, the
    checkpoints, `ForecastRun.config`) is the resolved one. `fit_auto` chooses between this LSTM and the
    baselines; it passes its ``selection``, which the checkpoints' ``meta.json`` keeps.

    Training windows are `make_windows` of every series (batches of ``data.batch_size`` windows drawn with
    replacement, deterministic in the step). With ``data.validate`` the last ``horizon`` values of each
    series are held out: validation ``loss`` (the head loss) and ``smape`` pick the best checkpoint.

    With ``model.ensemble = M > 1`` the `ForecastEnsemble` trains as one program: member ``m`` starts from
    the weights and draws the batches of a single run with ``train.seed + m``, and its gradient is clipped
    by its own norm (``optim.clip_norm``), so without dropout it ends where that run ends. Validation scores
    the ensemble (mean member loss, sMAPE of the median forecast).

    ``init``: a trained single `Forecaster` of the same architecture to start from instead of fresh weights
    (warm-start re-training, `recurrax.lifecycle.retrain`); the optimiser starts afresh.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    history = series.split_last(cfg.data.horizon)[0] if cfg.data.validate else series
    cfg = resolve_config(cfg, history.values)
    (run_dir / "config.toml").write_text(to_toml(cfg))
    d = cfg.data
    count = _covariate_count(cfg, series)
    scaler = Scaler.fit(history.values, d.scaler) if d.scale_scope == "series" else None
    covariate_scaler = None
    if count and scales_covariates(cfg):
        covariate_scaler = CovariateScaler.fit(history.covariates, 2 * len(d.calendar))
    observed = np.concatenate(history.values)
    ReferenceProfile.from_values(observed[np.isfinite(observed)], names=["y"]).save(run_dir / REFERENCE_PROFILE_FILE)
    windows = make_windows(history.values, d.input_size, d.horizon, stride=d.stride, min_input=d.min_input,
                           max_windows=d.max_windows, covariates=history.covariates)  # fmt: skip
    arrays = device_batch(scaled_windows(windows, cfg, scaler, covariate_scaler))
    draw, members = _window_sampler(windows.series, d.sampling, d.batch_size), cfg.model.ensemble or 1
    seeds = [cfg.train.seed + m for m in range(members)]

    def get_batch(index: int) -> dict[str, jax.Array]:
        rows = [draw(np.random.default_rng([seed, index])) for seed in seeds]
        picked = jnp.asarray(rows[0] if members == 1 else np.stack(rows))
        return {k: v[picked] for k, v in arrays.items()}

    evaluate = None
    if d.validate:
        valid = scaled_windows(make_windows(series.values, d.input_size, d.horizon, stride=10**9,
                                            covariates=series.covariates), cfg, scaler, covariate_scaler)  # fmt: skip
        batch = device_batch(valid)
        actual = np.stack([y[-d.horizon :] for y in series.values])
        known = {"covariates": history.covariates, "future": series.last_covariates(d.horizon)}

        def evaluate(model: Forecaster | ForecastEnsemble) -> dict[str, float]:
            loss = float(_eval_loss(model, _per_member(batch, members), cfg.model.point_loss))
            mean = predict(model, cfg, history.values, scaler=scaler, covariate_scaler=covariate_scaler, **known).mean
            return {"loss": loss, "smape": smape(actual, mean)}

    keys = jnp.stack([jax.random.split(jax.random.key(seed))[1] for seed in seeds])
    model = build_model(cfg.model, d.horizon, key=keys[0] if members == 1 else keys, covariates=count)
    if init is not None:
        if members > 1:
            raise ValueError("init (a warm start) needs a single model; model.ensemble must be 1")
        if not same_architecture(init, model):
            raise ValueError("init does not match the architecture that the config describes")
        model = init
    loss_fn, optim = _single_loss(cfg.model.point_loss), cfg.optim
    if members > 1:  # each member's gradient clipped on its own (a global norm would couple them)
        loss_fn = _ensemble_loss(cfg.optim.clip_norm, cfg.model.point_loss)
        optim = dataclasses.replace(cfg.optim, clip_norm=None)
    meta = {
        "task": "forecast",
        "config": to_dict(cfg),
        "scaler": None if scaler is None else scaler.to_json(),
        "covariate_scaler": None if covariate_scaler is None else covariate_scaler.to_json(),
        "data_fingerprint": fingerprint(series),
        "windows": len(windows),
        **({} if selection is None else {"selection": selection.to_json()}),
    }
    result = fit(model, loss_fn, get_batch, optim=optim, train=cfg.train, run_dir=run_dir,
                 evaluate=evaluate, meta=meta, resume=resume, progress=progress)  # fmt: skip
    final = result.best_model if result.best_model is not None else result.model
    return ForecastRun(run_dir, final, scaler, cfg, result, covariate_scaler, selection)


def _window_sampler(series: np.ndarray, sampling: str, batch_size: int):
    """``draw(rng) -> [batch_size]`` window indices: uniform over windows (``window``), or a series uniformly
    then one of its windows uniformly (``series``; ``series`` ``[W]`` the series of each window, whose
    windows are consecutive as `make_windows` gives them)."""
    size = len(series)
    if sampling == "window":
        return lambda rng: rng.integers(0, size, batch_size)
    starts = np.flatnonzero(np.r_[True, series[1:] != series[:-1]])
    counts = np.diff(np.r_[starts, size])

    def draw(rng: np.random.Generator) -> np.ndarray:
        picked = rng.integers(0, len(starts), batch_size)
        return starts[picked] + rng.integers(0, counts[picked])

    return draw


def _covariate_count(cfg: ForecastConfig, series: SeriesSet) -> int:
    """``K``: the covariate channels of ``series``, which must be those the data config names."""
    names = cfg.data.covariate_names
    got = 0 if series.covariates is None else series.covariates[0].shape[1]
    if got != len(names):
        raise ValueError(f"the data config names {len(names)} covariates {names} and the series carry {got}; "
                         "read the series with the config's calendar, exogenous and static settings")  # fmt: skip
    if got and cfg.model.kind == "recursive":
        raise ValueError("covariates need model.kind 'direct' or 'seq2seq', got 'recursive'")
    return got


def _per_member(batch: dict[str, jax.Array], members: int) -> dict[str, jax.Array]:
    """``batch`` repeated for each of ``members`` (arrays ``[M, ...]``), or itself for a single model."""
    if members == 1:
        return batch
    return {k: jnp.broadcast_to(v, (members, *v.shape)) for k, v in batch.items()}


def load_forecast(path: str | Path) -> ForecastRun:
    """The model, scaler, config and (a run of `fit_auto`) selection of a run directory (best or latest
    checkpoint) or a checkpoint; its ``fit`` is None."""
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    if meta.get("task") != "forecast":
        raise ValueError(f"{checkpoint} is not a forecasting checkpoint (task {meta.get('task')!r})")
    cfg = from_dict(ForecastConfig, meta["config"])
    skeleton = build_model(cfg.model, cfg.data.horizon, key=jax.random.key(0), covariates=len(cfg.data.covariate_names))
    model, meta = load_checkpoint(checkpoint, skeleton)
    scaler = None if meta.get("scaler") is None else Scaler.from_json(meta["scaler"])
    stored = meta.get("covariate_scaler")
    if stored is None and "covariate_scaler" not in meta and cfg.data.covariate_names:  # a run from before scaling
        stored = CovariateScaler.identity(len(cfg.data.covariate_names)).to_json()
    covariate_scaler = None if stored is None else CovariateScaler.from_json(stored)
    selection = None if meta.get("selection") is None else Selection.from_json(meta["selection"])
    return ForecastRun(Path(path), model, scaler, cfg, None, covariate_scaler, selection)
