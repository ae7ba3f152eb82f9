"""The forecasting task's `TaskSpec` (`recurrax.tasks.get_task("forecast")`) and `forecast_inference`, its
exported function around `forecast_outputs`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax

from ...config import ConfigError
from ...train import find_checkpoint, read_meta
from .._contract import Function, Holdout, Inference, Input, TaskSpec, checkpoint_source, model_weights
from ._config import ForecastConfig
from ._covariate_scaling import CovariateScaler
from ._holdout import fit_holdout
from ._inference import Options, check_levels, forecast_outputs, forecast_tables
from ._retrain import challenge_forecast, check_metric
from ._run import load_forecast


def _fit(cfg: ForecastConfig, run_dir: Path, data_dir: Path | None, progress: bool) -> list[dict[str, Any]]:
    return fit_holdout(cfg, run_dir, progress=progress)[0].fit.history


def _check_tune(cfg: ForecastConfig) -> None:
    if not cfg.data.validate:
        raise ConfigError("forecast tuning needs a validation split: set data.validate = true")
    if cfg.model.kind == "auto":
        raise ConfigError("forecast tuning tunes one LSTM: set model.kind = direct, recursive or seq2seq "
                          "(auto chooses between the LSTM and the baselines itself)")  # fmt: skip


def forecast_inference(checkpoint: str | Path, levels: tuple[float, ...] | None = None) -> Inference:
    """``forecast``: raw ``history`` ``[B, T]`` float32 (each row's first ``lengths[b]`` values, oldest
    first), ``lengths`` ``[B]`` in ``[1, T]`` (and ``series`` ``[B]`` int32 for series scaling: the series'
    index in the training set's order, that of ``data["scaler"]["loc"]``; and, for a model with ``K``
    covariates, ``past`` ``[B, T, K]`` float32, those of the history steps aligned with ``history``, and
    ``future`` ``[B, H, K]`` float32, those of the forecast steps, both in data units, channels in the order
    of ``data["covariates"]``) -> ``mean`` ``[B, H]`` and, for a probabilistic head, ``quantiles``
    ``[B, H, K]`` at ``data["levels"]`` (default: the model's own quantiles), by `forecast_outputs`.

    An auto run exports its LSTM when the LSTM alone was chosen on validation (without the plausibility
    catch), and is refused when a baseline or a combination was."""
    checkpoint = find_checkpoint(checkpoint)
    run = load_forecast(checkpoint)
    if run.selection is not None and run.selection.winner != "lstm":
        raise ValueError(f"{checkpoint}: this auto run forecasts with {run.selection.describe()}, chosen on "
                         "validation, which is not a model to export; refit with --set model.kind=direct to export "
                         "the LSTM")  # fmt: skip
    model, cfg = run.model, run.config
    weights, rebuild = model_weights(model)
    names = list(cfg.data.covariate_names)
    channels = len(names)
    tables = forecast_tables(run.scaler, run.covariate_scaler, channels)
    weights |= tables
    options = Options(cfg.data.input_size, cfg.data.scaler, check_levels(model, levels))

    def forecast(w: dict, inputs: dict) -> dict[str, jax.Array]:
        return forecast_outputs(rebuild(w), {k: w[k] for k in tables}, inputs, options)

    inputs = [Input("history", ("B", "T"), "float32"), Input("lengths", ("B",), "int32", (1, "T"))]
    if run.scaler is not None:
        inputs.append(Input("series", ("B",), "int32", (0, len(run.scaler.loc) - 1)))
    if channels:
        inputs += [Input("past", ("B", "T", channels), "float32"),
                   Input("future", ("B", model.horizon, channels), "float32")]  # fmt: skip
    scaler = {} if run.scaler is None else run.scaler.to_json()
    data = {
        "input_size": options.input_size,
        "horizon": model.horizon,
        "kind": model.kind,
        "head": model.head,
        "levels": list(options.levels) or None,
        "scaler": {"method": options.method, "scope": cfg.data.scale_scope, **scaler},
    }
    if channels:
        covariate_scaler = run.covariate_scaler or CovariateScaler.identity(channels)
        data |= {"covariates": names, "covariate_scaler": covariate_scaler.to_json()}
    meta = read_meta(checkpoint)
    functions = {"forecast": Function(forecast, tuple(inputs))}
    source = checkpoint_source(checkpoint, meta)
    return Inference("forecast", functions, weights, data, meta["config"], source, onnx_steps=options.input_size)


TASK = TaskSpec(
    name="forecast",
    config_type=ForecastConfig,
    fit=_fit,
    check_tune=_check_tune,
    inference=forecast_inference,
    inference_options=("levels",),
    onnx=True,
    serving="recurrax.tasks.forecast._serving",
    holdout=Holdout(("mae", "rmse", "smape", "mase", "quantile_loss"), "smape", (), challenge_forecast, check_metric),
)
