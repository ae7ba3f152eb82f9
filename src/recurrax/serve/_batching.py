"""Dynamic batching: requests that arrive within ``max_wait_ms`` run as one model call, padded to buckets.

Every request holds a batch of rows (``B >= 1``). The batcher waits at most ``max_wait_ms`` after the first
request of a batch for more, stacks up to ``max_batch`` rows, pads and makes one call, then hands each caller
its own rows. Padding keeps the number of distinct shapes (each one an XLA compilation) bounded:

- the batch axis (``"B"`` in the schema) is padded to the next bucket ``1, 2, 4, 8, ...`` (capped at
  ``max_batch``) by repeating the first row;
- the time axis (``"T"``) is padded to the next power of two (capped at ``max_time``) by repeating each
  sequence's last step, but only when an input's ``bounds`` refer to ``"T"`` (a ``lengths`` input): the model
  then ignores the steps past each length, so padding never changes a result. Without such an input,
  requests of different ``T`` are not merged.

With ``max_batch = 32`` and ``max_time = 1024`` a function compiles at most 6 x 11 shapes. Outputs with a
``"T"`` axis are cut back to each request's own length. Shapes follow `recurrax.serve.Artifact.schema`.

One request never fails another: when a merged call raises, the batcher runs the requests of that batch one
by one, so each gets its own outputs or the error of its own call.

    >>> bucket(5), bucket(1), bucket(20, cap=24), bucket(8)
    (8, 1, 24, 8)
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np


Outcome = tuple[dict[str, np.ndarray] | None, Exception | None]
"""A request's outputs, or the exception its call raised."""


def bucket(n: int, cap: int | None = None) -> int:
    """The smallest power of two ``>= n`` (``n >= 1``), or ``cap`` when that is smaller (but never below ``n``)."""
    if n < 1:
        raise ValueError(f"a bucket needs n >= 1, got {n}")
    size = 1 << (int(n) - 1).bit_length()
    return size if cap is None else min(size, max(int(cap), int(n)))


def _axis(shape: list[Any], symbol: str) -> int | None:
    return shape.index(symbol) if symbol in shape else None


@dataclasses.dataclass(frozen=True)
class PaddingPlan:
    """Where a function's batch (``"B"``) and time (``"T"``) axes are, read from its schema."""

    batch_in: dict[str, int | None]
    time_in: dict[str, int | None]
    batch_out: dict[str, int | None]
    time_out: dict[str, int | None]
    pad_time: bool

    @classmethod
    def from_schema(cls, schema: dict[str, Any]) -> PaddingPlan:
        """The plan of a schema ``{"inputs": [...], "outputs": [...]}`` (see `recurrax.serve.Artifact`)."""
        ins, outs = schema["inputs"], schema["outputs"]
        pad_time = any("T" in [b for b in spec.get("bounds", ()) if isinstance(b, str)] for spec in ins)
        return cls(
            {s["name"]: _axis(s["shape"], "B") for s in ins},
            {s["name"]: _axis(s["shape"], "T") for s in ins},
            {s["name"]: _axis(s["shape"], "B") for s in outs},
            {s["name"]: _axis(s["shape"], "T") for s in outs},
            pad_time,
        )

    def rows(self, arrays: dict[str, np.ndarray]) -> int:
        """``B`` of one request."""
        return next(np.shape(arrays[k])[a] for k, a in self.batch_in.items() if a is not None)

    def time(self, arrays: dict[str, np.ndarray]) -> int | None:
        """``T`` of one request (None when no input has a time axis)."""
        return next((np.shape(arrays[k])[a] for k, a in self.time_in.items() if a is not None), None)


def _pad_axis(value: np.ndarray, axis: int, size: int, *, first: bool) -> np.ndarray:
    """``value`` grown to ``size`` along ``axis`` by repeating the first (``first``) or last entry."""
    extra = size - value.shape[axis]
    if extra <= 0:
        return value
    index = np.concatenate([np.arange(value.shape[axis]), np.full(extra, 0 if first else value.shape[axis] - 1)])
    return np.take(value, index, axis=axis)


class DynamicBatcher:
    """Merges concurrent requests to one function into padded batched calls.

    ``call(arrays) -> outputs`` runs the function on a dict of arrays (e.g. ``lambda a: art.call(name, **a)``);
    ``schema`` is its `Artifact.schema`. ``on_batch(rows, requests, shapes)`` is told of every call (rows before
    padding, requests merged, distinct padded shapes so far). Calls run in a worker thread, one at a time, so
    the event loop keeps accepting requests while the model runs; those requests form the next batch. When a
    merged call raises, its requests are run again one at a time (`alone`): the others still get their answer
    and only a request whose own call raises gets that exception.
    """

    def __init__(
        self,
        call: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
        schema: dict[str, Any],
        *,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        max_time: int | None = None,
        on_batch: Callable[[int, int, int], None] | None = None,
    ):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(f"need max_batch >= 1 and max_wait_ms >= 0, got {max_batch} and {max_wait_ms}")
        self.plan = PaddingPlan.from_schema(schema)
        self.max_batch, self.max_wait, self.max_time = max_batch, max_wait_ms / 1000.0, max_time
        self.shapes: set[tuple[int, int | None]] = set()
        self._call, self._on_batch = call, on_batch
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._held: tuple[dict[str, np.ndarray], asyncio.Future] | None = None

    def run(self, requests: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        """One padded call on the rows of all ``requests``; each request's outputs, unpadded (synchronous)."""
        plan = self.plan
        rows = [plan.rows(r) for r in requests]
        times = [plan.time(r) for r in requests]
        total = sum(rows)
        padded_b = bucket(total, self.max_batch)
        padded_t = None
        if times[0] is not None:
            padded_t = bucket(max(times), self.max_time) if plan.pad_time else times[0]
        merged = {}
        for key, b_axis in plan.batch_in.items():
            parts = [r[key] for r in requests]
            t_axis = plan.time_in[key]
            if t_axis is not None:
                parts = [_pad_axis(p, t_axis, padded_t, first=False) for p in parts]
            value = np.concatenate(parts, axis=b_axis) if b_axis is not None else parts[0]
            merged[key] = _pad_axis(value, b_axis, padded_b, first=True) if b_axis is not None else value
        self.shapes.add((padded_b, padded_t))
        outputs = self._call(merged)
        if self._on_batch is not None:
            self._on_batch(total, len(requests), len(self.shapes))
        results, start = [], 0
        for n, t in zip(rows, times):
            result = {}
            for key, value in outputs.items():
                b_axis, t_axis = plan.batch_out.get(key), plan.time_out.get(key)
                if b_axis is not None:
                    value = np.take(value, np.arange(start, start + n), axis=b_axis)
                if t_axis is not None and t is not None:
                    value = np.take(value, np.arange(t), axis=t_axis)
                result[key] = value
            results.append(result)
            start += n
        return results

    def alone(self, requests: list[dict[str, np.ndarray]]) -> list[Outcome]:
        """Each request in its own call (after a merged call failed): ``(outputs, None)`` or ``(None, error)``."""
        outcomes: list[Outcome] = []
        for request in requests:
            try:
                outcomes.append((self.run([request])[0], None))
            except Exception as error:  # noqa: BLE001 — this request's own failure, handed to its caller
                outcomes.append((None, error))
        return outcomes

    def _group(self, arrays: dict[str, np.ndarray]) -> int | None:
        """Requests merge only when equal here: their ``T`` when time is not padded."""
        return None if self.plan.pad_time else self.plan.time(arrays)

    async def submit(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Queue one request (checked arrays with ``1 <= B <= max_batch``) and wait for its outputs."""
        rows = self.plan.rows(arrays)
        if rows > self.max_batch:
            raise ValueError(f"a request holds {rows} rows; the limit is max_batch = {self.max_batch}")
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.get_loop() is not loop or self._worker.done():
            self._queue = asyncio.Queue()
            self._held = None
            self._worker = loop.create_task(self._serve())
        future = loop.create_future()
        await self._queue.put((arrays, future))
        return await future

    async def close(self) -> None:
        """Stop the worker (requests still queued are cancelled)."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    async def _next(self, timeout: float | None) -> tuple[dict[str, np.ndarray], asyncio.Future]:
        if self._held is not None:
            item, self._held = self._held, None
            return item
        if timeout is None:
            return await self._queue.get()
        if timeout <= 0:
            return self._queue.get_nowait()
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._next(None)]
            rows, group = self.plan.rows(batch[0][0]), self._group(batch[0][0])
            deadline = loop.time() + self.max_wait
            while rows < self.max_batch:
                try:
                    item = await self._next(deadline - loop.time())
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                n = self.plan.rows(item[0])
                if rows + n > self.max_batch or self._group(item[0]) != group:
                    self._held = item
                    break
                batch.append(item)
                rows += n
            live = [(a, f) for a, f in batch if not f.done()]
            if not live:
                continue
            requests = [a for a, _ in live]
            try:
                outcomes = [(result, None) for result in await asyncio.to_thread(self.run, requests)]
            except Exception as error:  # noqa: BLE001 — the callers get the error, the worker keeps serving
                outcomes = [(None, error)] if len(live) == 1 else await asyncio.to_thread(self.alone, requests)
            for (_, future), (result, error) in zip(live, outcomes):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
