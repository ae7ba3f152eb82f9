"""What every request body of the service shares (pydantic), the session bodies, and ragged rows to arrays.

Each task's own bodies live in its serving module (`recurrax.tasks.TaskSpec.serving`), built on `Body`.

Every request model forbids unknown fields and non-finite numbers (``NaN``, ``Infinity``), and every input
value is a `Real`: a number that float32, the models' dtype, holds (``|x| <= 3.4028235e38``; ``1e39`` would
become infinity in the model). A typo, a NaN or ``1e39`` is a 422 answer naming the field, given before the
request joins a batch. Sequences may be ragged; `pad_ragged` turns them into one right-padded array plus
``lengths``, as the exported functions take them.

    >>> class Points(Body):
    ...     points: list[list[Real]]
    >>> Points.model_validate({"points": [[1.0, 3e38]]}).points
    [[1.0, 3e+38]]
    >>> try:
    ...     Points.model_validate({"points": [[1.0, 1e39]]})
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


class Body(BaseModel):
    """A request body: unknown fields and non-finite numbers are refused (a 422 naming the field)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SessionRequest(Body):
    """Open a streaming session; ``seed`` seeds its sampling (default 0)."""

    seed: int = Field(default=0, ge=0)


class SessionResponse(BaseModel):
    """A session's ``id`` (use it in ``/v1/sessions/{id}/step``), expiring after ``ttl_s`` seconds unused."""

    id: str
    ttl_s: float
    task: str


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
