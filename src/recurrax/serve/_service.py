"""`Service`: what the endpoints of `recurrax.serve.create_app` share, and `Serving`, what a task adds.

A task's serving module (its `recurrax.tasks.TaskSpec.serving`, e.g. ``recurrax.tasks.classify._serving``)
defines ``SERVING``: the function that predictions run, its request and response bodies and the handler that
turns a validated body into arrays, checks them against the artifact's schema (`Service.checked`: a failure is a
422 naming the input), enforces the size limits (`Service.limit`: 413), runs the model through the service's
`DynamicBatcher` (`Service.call`) and shapes the answer; and, for a task with streaming sessions, the same for
one session step. Nothing here knows a task.

An answer is never silent garbage: outputs that are not finite (a forecast's mean or quantiles, a classifier's
probabilities, an anomaly score past the warm-up), as inputs far outside the training range can give, are a
422 naming the rows (`NOT_FINITE`), and an anomaly session then keeps its state. A model call that raises is a
500 for the request whose own call raised (the batcher retries a failed batch request by request), as JSON.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import HTTPException

from ._artifact import Artifact, check_inputs
from ._batching import DynamicBatcher
from ..tasks import get_task
from ._sessions import SessionStore
from ._telemetry import Telemetry

NOT_FINITE = "the model's output is not finite for {} (inputs far outside the training range?)"


def http_error(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


def not_finite(field: str, rows: np.ndarray) -> HTTPException:
    """The 422 for requests whose outputs are not finite at ``rows`` (indices into ``field``)."""
    return http_error(422, NOT_FINITE.format(", ".join(f"{field}[{int(i)}]" for i in rows)))


def bad_rows(*outputs: np.ndarray) -> np.ndarray:
    """The indices of the rows (axis 0) where any of ``outputs`` holds a value that is not finite."""
    bad = np.zeros(len(outputs[0]), bool)
    for value in outputs:
        bad |= ~np.isfinite(np.reshape(value, (len(value), -1))).all(axis=1)
    return np.flatnonzero(bad)


def nullable(values: np.ndarray) -> list[float | None]:
    """A float vector as a JSON-able list, NaN as ``None``."""
    return [None if np.isnan(v) else float(v) for v in values]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of a task: its pydantic ``request`` and ``response`` bodies and ``handle``: ``(service,
    body)`` for predictions, ``(service, session, body)`` for a session step, returning the response."""

    request: type
    response: type
    handle: Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Serving:
    """What a task's serving module declares (as ``SERVING``).

    - ``function``: the exported function that ``predict`` runs (batched by the service).
    - ``stream_function``, ``step``: the streaming function that a session step runs, and its endpoint
      (None: no sessions). ``shared_stream``: the stream runs through the prediction batcher (when both are
      the same function).
    - ``wait``: whether prediction batches wait ``max_wait_ms`` for company (a token-by-token task does not).
    - ``drift_input``: the input a drift monitor observes and ``drift_features(shape)`` its number of
      features per observation, from the input's schema shape (None: no drift monitoring).
    - ``setup(service)``: what the handlers need beyond the artifact (e.g. a tokenizer), kept as
      ``service.context``.
    """

    function: str
    predict: Endpoint
    stream_function: str | None = None
    step: Endpoint | None = None
    shared_stream: bool = False
    wait: bool = True
    drift_input: str | None = None
    drift_features: Callable[[list], int] = lambda shape: shape[-1]
    setup: Callable[[Any], Any] = lambda service: None


def task_serving(task: str) -> Serving:
    """The `Serving` of task ``task`` (its `recurrax.tasks.TaskSpec.serving` module's ``SERVING``)."""
    spec = get_task(task, having="serving", purpose="serve")
    return importlib.import_module(spec.serving).SERVING


class Service:
    """The loaded artifact and what the endpoints share: batchers, limits, telemetry, the drift monitor.

    ``serving`` is the artifact's task's `Serving`. ``batcher`` batches its prediction function; ``stream``
    its streaming function (the same batcher when ``shared_stream``), without waiting: the steps that queue
    while a call runs form the next batch. Handlers raise `HTTPException` (422 for bad content, 413 over a
    limit).
    """

    def __init__(self, artifact: Artifact, *, max_batch: int, max_wait_ms: float, max_length: int,
                 max_tokens: int, timeout_s: float, sessions: SessionStore, telemetry: Telemetry,
                 drift: Any) -> None:  # fmt: skip
        self.artifact, self.task = artifact, artifact.task
        self.serving = task_serving(self.task)
        self.function = self.serving.function
        self.schema = artifact.schema(self.function)
        self.specs = {spec["name"]: spec for spec in self.schema["inputs"]}
        self.max_batch, self.max_length, self.max_tokens, self.timeout_s = max_batch, max_length, max_tokens, timeout_s
        self.sessions, self.telemetry = sessions, telemetry
        self.drift = drift if self.serving.drift_input is not None else None
        if self.drift is not None:
            features = self.serving.drift_features(self.specs[self.serving.drift_input]["shape"])
            if drift.profile.features != features:
                raise ValueError(f"the drift profile has {drift.profile.features} features; the {self.task} "
                                 f"model's inputs have {features}")  # fmt: skip
        self.data = artifact.meta.get("data", {})
        self.batcher = self._batcher(self.function, max_wait_ms if self.serving.wait else 0.0, max_batch)
        self.stream_function = self.serving.stream_function
        self.stream = None
        if self.stream_function is not None:
            shared = self.serving.shared_stream
            self.stream = self.batcher if shared else self._batcher(self.stream_function, 0.0, max_batch)
        self.context = self.serving.setup(self)

    def _batcher(self, function: str, max_wait_ms: float, max_batch: int) -> DynamicBatcher:
        telemetry = self.telemetry
        return DynamicBatcher(
            lambda arrays: self.artifact.call(function, **arrays), self.artifact.schema(function),
            max_batch=max_batch, max_wait_ms=max_wait_ms, max_time=self.max_length,
            on_batch=lambda rows, n, shapes: telemetry.observe_batch(function, rows, n, shapes),
        )  # fmt: skip

    async def close(self) -> None:
        """Stop the batchers' workers."""
        await self.batcher.close()
        if self.stream is not None and self.stream is not self.batcher:
            await self.stream.close()

    async def timed(self, work: Any) -> Any:
        try:
            return await asyncio.wait_for(work, self.timeout_s)
        except TimeoutError:
            raise http_error(504, f"no answer within timeout_s = {self.timeout_s:g} s") from None

    def limit(self, what: str, value: int, limit: int, name: str) -> None:
        if value > limit:
            raise http_error(413, f"{what} is {value}, over the limit {name} = {limit}")

    async def call(self, batcher: DynamicBatcher, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``batcher.submit(arrays)``; a call that raised for this request is a 500 (JSON) naming the error."""
        try:
            return await batcher.submit(arrays)
        except Exception as error:  # noqa: BLE001 — the request's own model call failed (see DynamicBatcher)
            raise http_error(500, f"the model call failed for this request: {type(error).__name__}: {error}") from None

    def checked(self, arrays: dict[str, Any]) -> dict[str, np.ndarray]:
        try:
            return check_inputs(self.function, self.schema["inputs"], arrays)
        except ValueError as error:
            raise http_error(422, str(error)) from None

    def no_missing(self, values: np.ndarray, key: str, field: str) -> None:
        if not self.specs[key].get("allow_nan", False) and np.isnan(values).any():
            raise http_error(422, f"{field} holds null (missing) values; this model takes none")
