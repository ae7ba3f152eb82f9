"""Request and response bodies of the service (pydantic), and their conversion to padded arrays.

Every request model forbids unknown fields and non-finite numbers (``NaN``, ``Infinity``), and every input
value is a `Real`: a number that float32, the models' dtype, holds (``|x| <= 3.4028235e38``; ``1e39`` would
become infinity in the model). A typo, a NaN or ``1e39`` is a 422 answer naming the field, given before the
request joins a batch. Sequences may be ragged; `pad_ragged` turns them into one right-padded array plus
``lengths``, as the exported functions take them.

    >>> PointsRequest.model_validate({"points": [[1.0, 3e38]]}).points
    [[1.0, 3e+38]]
    >>> try:
    ...     PointsRequest.model_validate({"points": [[1.0, 1e39]]})
    ... except ValueError as error:
    ...     print(message(error.errors()[0]))
    Input should be a number that float32 holds (|x| <= 3.4028235e+38)
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

FLOAT32_LIMIT = float(2**128 - 2**103)
"""The float64 values below this in magnitude round to a finite float32 (at most ``3.4028235e38``)."""

Real = Annotated[float, Field(gt=-FLOAT32_LIMIT, lt=FLOAT32_LIMIT)]
"""A request's input value: a float that float32 holds (checked in pydantic-core, fast on large bodies)."""


def message(error: dict[str, Any]) -> str:
    """The message of a pydantic error dict, in words for a value beyond float32 (see `Real`)."""
    limit = error.get("ctx", {}).get("lt", error.get("ctx", {}).get("gt"))
    if error["type"] in ("less_than", "greater_than") and limit is not None and abs(limit) == FLOAT32_LIMIT:
        return f"Input should be a number that float32 holds (|x| <= {np.finfo(np.float32).max!s})"
    return error["msg"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ClassifyRequest(_Body):
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


class ForecastRequest(_Body):
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


class AnomalyRequest(_Body):
    """``values``: ``B`` series of ``T_i`` points of ``D`` features (ragged ``T_i`` allowed), oldest first."""

    values: list[list[list[Real]]] = Field(min_length=1, examples=[[[[0.1, 0.2], [0.3, 0.4]]]])


class AnomalyResponse(BaseModel):
    """``scores`` ``[B][T_i]``: each point's raw anomaly score, ``null`` while the model warms up (the first
    ``window`` points of a series)."""

    scores: list[list[float | None]]


class GenerateRequest(_Body):
    """Continue ``prompt`` by ``max_tokens`` tokens; ``temperature`` 0 is greedy (argmax), else softmax
    sampling at that temperature (from the ``top_k`` most likely tokens when given) with ``seed``."""

    prompt: str = Field(min_length=1, examples=["ROMEO:"])
    max_tokens: int = Field(default=32, ge=1)
    temperature: float = Field(default=1.0, ge=0.0)
    top_k: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)


class GenerateResponse(BaseModel):
    """The generated ``text`` (without the prompt), its ``tokens`` and the prompt's token count."""

    text: str
    tokens: list[int]
    prompt_tokens: int


class SessionRequest(_Body):
    """Open a streaming session; ``seed`` seeds its sampling (default 0)."""

    seed: int = Field(default=0, ge=0)


class SessionResponse(BaseModel):
    """A session's ``id`` (use it in ``/v1/sessions/{id}/step``), expiring after ``ttl_s`` seconds unused."""

    id: str
    ttl_s: float
    task: str


class StepRequest(_Body):
    """One step of a language-model session: feed ``text`` (or token ids ``tokens``), then generate
    ``max_tokens`` tokens (0: only feed), each fed back into the state. ``return_probabilities`` adds the
    next-token distribution after the step. ``temperature`` and ``top_k`` as in `GenerateRequest`; the
    session's random stream continues unless ``seed`` restarts it."""

    text: str | None = None
    tokens: list[int] | None = None
    max_tokens: int = Field(default=1, ge=0)
    temperature: float = Field(default=1.0, ge=0.0)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0)
    return_probabilities: bool = False


class StepResponse(BaseModel):
    """The generated ``tokens`` and ``text``, the session's total ``steps`` (tokens fed) and, when asked,
    ``probabilities`` ``[V]`` of the next token."""

    tokens: list[int]
    text: str
    steps: int
    probabilities: list[float] | None = None


class PointsRequest(_Body):
    """One step of an anomaly session: the next ``points`` ``[N][D]`` of the client's series, in order."""

    points: list[list[Real]] = Field(min_length=1, examples=[[[0.1, 0.2]]])


class PointsResponse(BaseModel):
    """Each new point's anomaly score (``null`` during the warm-up) and the session's total ``steps``."""

    scores: list[float | None]
    steps: int


def pad_ragged(rows: list[Any], name: str, *, features: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``B`` ragged sequences (``[T_i]`` or ``[T_i, D]`` nested lists, ``None`` = NaN) as a right-padded
    float64 ``[B, T]`` or ``[B, T, D]`` array (padding repeats each sequence's last step) and ``lengths``
    ``[B]``. A ValueError names an empty sequence or a step of the wrong width."""
    lengths = np.array([len(row) for row in rows], np.int64)
    if lengths.min() == 0:
        raise ValueError(f"{name}[{int(np.argmin(lengths))}] is empty; every sequence needs at least one step")
    total = int(lengths.max())
    out = []
    for i, row in enumerate(rows):
        try:
            value = np.array(row, np.float64)  # None -> nan
        except ValueError:
            raise ValueError(f"{name}[{i}]: every step must have the same number of features") from None
        if features is not None and value.shape[-1] != features:
            raise ValueError(f"{name}[{i}] has {value.shape[-1]} features per step, the model takes {features}")
        out.append(np.concatenate([value, np.repeat(value[-1:], total - len(value), axis=0)]))
    return np.stack(out), lengths
