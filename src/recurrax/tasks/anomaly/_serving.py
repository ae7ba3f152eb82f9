"""Serving an anomaly scorer (`recurrax.serve.create_app`): ``POST /v1/predict`` scores whole series with
``score``; a session scores a client's series point by point with ``score_step``, its state kept between
steps."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ...serve.serving import (
    Body,
    Endpoint,
    Real,
    Service,
    Serving,
    Session,
    http_error,
    not_finite,
    nullable,
    pad_ragged,
)


class AnomalyRequest(Body):
    """``values``: ``B`` series of ``T_i`` points of ``D`` features (ragged ``T_i`` allowed), oldest first."""

    values: list[list[list[Real]]] = Field(min_length=1, examples=[[[[0.1, 0.2], [0.3, 0.4]]]])


class AnomalyResponse(BaseModel):
    """``scores`` ``[B][T_i]``: each point's raw anomaly score, ``null`` while the model warms up (the first
    ``window`` points of a series)."""

    scores: list[list[float | None]]


class PointsRequest(Body):
    """One step of an anomaly session: the next ``points`` ``[N][D]`` of the client's series, in order."""

    points: list[list[Real]] = Field(min_length=1, examples=[[[0.1, 0.2]]])


class PointsResponse(BaseModel):
    """Each new point's anomaly score (``null`` during the warm-up) and the session's total ``steps``."""

    scores: list[float | None]
    steps: int


async def score(service: Service, body: AnomalyRequest) -> AnomalyResponse:
    """``scores`` ``[B, T]`` of the padded series -> each series' scores up to its length (NaN -> ``null``)."""
    features = service.specs["values"]["shape"][-1]
    try:
        values, lengths = pad_ragged(body.values, "values", features=features)
    except ValueError as error:
        raise http_error(422, str(error)) from None
    service.limit("the batch", len(values), service.max_batch, "max_batch")
    service.limit("the longest series", values.shape[1], service.max_length, "max_length")
    arrays = service.checked({"values": values, "lengths": lengths})
    scores = (await service.call(service.batcher, arrays))["scores"]
    warm = service.data.get("window", 0)  # NaN (null) before it: the warm-up
    if bad := [i for i, n in enumerate(lengths) if not np.isfinite(scores[i, warm:n]).all()]:
        raise not_finite("values", np.array(bad))
    if service.drift is not None:
        service.drift.observe(np.concatenate([values[i, : lengths[i]] for i in range(len(values))]))
    return AnomalyResponse(scores=[nullable(scores[i, :n]) for i, n in enumerate(lengths)])


async def score_points(service: Service, session: Session, body: PointsRequest) -> PointsResponse:
    """The session's next points through ``score_step``, one call per point; a non-finite score past the
    warm-up is a 422 and the session keeps its state."""
    features = service.artifact.schema(service.stream_function)["inputs"][0]["shape"][-1]
    try:
        points = np.array(body.points, np.float32)
    except ValueError:
        raise http_error(422, "every point must have the same number of features") from None
    if points.shape[1] != features:
        raise http_error(422, f"points have {points.shape[1]} features, the model takes {features}")
    service.limit("the number of points", len(points), service.max_length, "max_length")
    warm = service.data.get("window", 0)
    async with session.lock:
        state, scores = session.state, []
        for i, point in enumerate(points):
            out = await service.call(service.stream, {"x": point[None], **state})
            if session.steps + i >= warm and not np.isfinite(out["score"][0]):
                raise not_finite("points", np.array([i]))
            scores.append(out["score"][0])
            state = {k: out[k] for k in state}
        session.state, session.steps = state, session.steps + len(points)
    if service.drift is not None:
        service.drift.observe(points)
    return PointsResponse(scores=nullable(np.array(scores)), steps=session.steps)


SERVING = Serving(
    "score", Endpoint(AnomalyRequest, AnomalyResponse, score), stream_function="score_step",
    step=Endpoint(PointsRequest, PointsResponse, score_points), drift_input="values",
)  # fmt: skip
