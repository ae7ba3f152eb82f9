"""Serving a classifier (`recurrax.serve.create_app`): ``POST /v1/predict`` runs ``predict_proba`` on ragged
sequences and answers each one's class probabilities and most likely label."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ...serve.serving import Body, Endpoint, Real, Service, Serving, bad_rows, http_error, not_finite, pad_ragged


class ClassifyRequest(Body):
    """``inputs``: ``B`` sequences of ``T_i`` steps of ``D`` features (ragged ``T_i`` allowed; ``null`` marks a
    missing value where the model accepts them); ``lengths``: optional ``[B]`` valid steps (default ``T_i``)."""

    inputs: list[list[list[Real | None]]] = Field(min_length=1, examples=[[[[0.1, 0.2], [0.3, 0.4]]]])
    lengths: list[int] | None = None


class ClassifyResponse(BaseModel):
    """``probabilities`` ``[B, C]`` over ``classes``; ``labels`` the most likely class per sequence."""

    probabilities: list[list[float]]
    labels: list[str]
    label_ids: list[int]
    classes: list[str]


async def classify(service: Service, body: ClassifyRequest) -> ClassifyResponse:
    """``probs`` ``[B, C]`` of the padded ``inputs`` -> probabilities and the most likely labels."""
    features = service.specs["x"]["shape"][-1]
    try:
        x, lengths = pad_ragged(body.inputs, "inputs", features=features if isinstance(features, int) else None)
    except ValueError as error:
        raise http_error(422, str(error)) from None
    service.limit("the batch", len(x), service.max_batch, "max_batch")
    service.limit("the longest sequence", x.shape[1], service.max_length, "max_length")
    if body.lengths is not None:
        given = np.asarray(body.lengths)
        if given.shape != lengths.shape or (given < 1).any() or (given > lengths).any():
            raise http_error(422, f"lengths must be {len(x)} values, each in [1, its sequence's steps {lengths.tolist()}]")
        lengths = given
    service.no_missing(x, "x", "inputs")
    arrays = service.checked({"x": x, "lengths": lengths})
    probs = (await service.call(service.batcher, arrays))["probs"]
    if len(bad := bad_rows(probs)):
        raise not_finite("inputs", bad)
    if service.drift is not None:
        rows = np.concatenate([x[i, : lengths[i]] for i in range(len(x))])
        service.drift.observe(rows[np.isfinite(rows).all(axis=1)])
    classes = [str(c) for c in service.data.get("classes", range(probs.shape[1]))]
    ids = np.argmax(probs, axis=1)
    return ClassifyResponse(probabilities=probs.tolist(), labels=[classes[i] for i in ids], label_ids=ids.tolist(),
                            classes=classes)  # fmt: skip


SERVING = Serving("predict_proba", Endpoint(ClassifyRequest, ClassifyResponse, classify), drift_input="x")
