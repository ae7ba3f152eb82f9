"""Serving a forecaster (`recurrax.serve.create_app`): ``POST /v1/predict`` runs ``forecast`` on ragged
histories (with series indices and covariates where the model takes them) and answers the mean, the quantiles
and the central intervals that pairs of levels ``(q, 1 - q)`` form."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from ...serve.serving import Body, Endpoint, Real, Service, Serving, bad_rows, http_error, not_finite, pad_ragged


class ForecastRequest(Body):
    """``history``: ``B`` series of observed values, oldest first (ragged lengths allowed; ``null`` marks a
    missing value where the model accepts them); ``series``: each row's series index in the training set (the
    order of the artifact's ``data.scaler.loc``), needed by a model that scales per series. A model with ``K``
    covariates (the artifact's ``data.covariates``) needs ``past`` ``[B][n_i][K]`` (one ``K``-vector per
    history value) and ``future`` ``[B][H][K]`` (those of the ``H`` forecast steps), in data units."""

    history: list[list[Real | None]] = Field(min_length=1, examples=[[[1.0, 2.0, 3.0, 4.0]]])
    series: list[int] | None = None
    past: list[list[list[Real]]] | None = None
    future: list[list[list[Real]]] | None = None


class Interval(BaseModel):
    """A central prediction interval of nominal ``coverage`` (e.g. 0.8 from the 0.1 and 0.9 quantiles)."""

    coverage: float
    lower: list[list[float]]
    upper: list[list[float]]


class ForecastResponse(BaseModel):
    """``mean`` ``[B, H]``; ``quantiles`` ``[B, H, K]`` at ``levels`` ``[K]`` and the central ``intervals``
    they form (empty for a point forecaster)."""

    mean: list[list[float]]
    levels: list[float]
    quantiles: list[list[list[float]]] | None = None
    intervals: list[Interval] = []


async def forecast(service: Service, body: ForecastRequest) -> ForecastResponse:
    """``mean`` ``[B, H]`` and ``quantiles`` ``[B, H, K]`` of the padded histories -> the answer."""
    try:
        history, lengths = pad_ragged(body.history, "history")
    except ValueError as error:
        raise http_error(422, str(error)) from None
    service.limit("the batch", len(history), service.max_batch, "max_batch")
    service.limit("the longest history", history.shape[1], service.max_length, "max_length")
    service.no_missing(history, "history", "history")
    arrays: dict[str, Any] = {"history": history, "lengths": lengths}
    scaled_by_series = "series" in service.specs
    if scaled_by_series != (body.series is not None):
        raise http_error(422, "series (each row's training-series index) is needed by, and only by, a model that "
                              f"scales per series; this one {'does' if scaled_by_series else 'does not'}")  # fmt: skip
    if body.series is not None:
        if len(body.series) != len(history):
            raise http_error(422, f"series must hold one index per history row ({len(history)}), got {len(body.series)}")
        arrays["series"] = np.asarray(body.series)
    arrays |= _covariates(service, body, lengths)
    out = await service.call(service.batcher, service.checked(arrays))
    if len(bad := bad_rows(*out.values())):
        raise not_finite("history", bad)
    if service.drift is not None:
        values = np.concatenate([history[i, : lengths[i]] for i in range(len(history))])
        service.drift.observe(values[np.isfinite(values)])
    levels = [float(q) for q in service.data.get("levels") or ()] if "quantiles" in out else []
    if not levels:
        return ForecastResponse(mean=out["mean"].tolist(), levels=[])
    q = out["quantiles"]
    pairs = [(i, levels.index(round(1 - lv, 10))) for i, lv in enumerate(levels)
             if lv < 0.5 and round(1 - lv, 10) in levels]  # fmt: skip
    intervals = [Interval(coverage=round(1 - 2 * levels[i], 10), lower=q[..., i].tolist(), upper=q[..., j].tolist())
                 for i, j in pairs]  # fmt: skip
    return ForecastResponse(mean=out["mean"].tolist(), levels=levels, quantiles=q.tolist(), intervals=intervals)


def _covariates(service: Service, body: ForecastRequest, lengths: np.ndarray) -> dict[str, np.ndarray]:
    """``past`` ``[B, T, K]`` (padded as ``history``) and ``future`` ``[B, H, K]`` of a request for a model with
    covariates (none for a model without, which refuses them); 422 naming the expected shapes and the
    covariate names otherwise."""
    given = body.past is not None or body.future is not None
    if "past" not in service.specs:
        if given:
            raise http_error(422, "this model takes no covariates; drop past and future")
        return {}
    horizon, count = service.specs["future"]["shape"][1:]
    names = service.data.get("covariates")
    expected = (f"past [B][n_i][{count}] (one {count}-vector per history value) and future [B][{horizon}]"
                f"[{count}] (the {horizon} forecast steps'), covariates {names}")  # fmt: skip
    if body.past is None or body.future is None:
        raise http_error(422, f"this model takes {count} covariates: give {expected}")
    steps = [len(rows) for rows in body.past]
    if steps != lengths.tolist():
        raise http_error(422, f"past must hold one {count}-vector per history value, {lengths.tolist()} per "
                              f"series, got {steps}; expected {expected}")  # fmt: skip
    try:
        past, _ = pad_ragged(body.past, "past", features=count)
        future = np.array(body.future, np.float64)
    except ValueError as error:
        raise http_error(422, f"{error}; expected {expected}") from None
    if future.shape != (len(lengths), horizon, count):
        raise http_error(422, f"future must have shape [B, H, K] = {[len(lengths), horizon, count]}, got "
                              f"{list(future.shape)}; expected {expected}")  # fmt: skip
    return {"past": past, "future": future}


SERVING = Serving(
    "forecast", Endpoint(ForecastRequest, ForecastResponse, forecast), drift_input="history",
    drift_features=lambda shape: 1,
)  # fmt: skip
