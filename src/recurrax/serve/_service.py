"""`Service`: what the endpoints of `recurrax.serve.create_app` do, task by task.

Each handler turns a validated request body (`recurrax.serve._schemas`) into arrays, checks them against the
artifact's schema (`recurrax.serve._artifact.check_inputs`: a failure is a 422 naming the input), enforces
the size limits (413), runs the model through a `DynamicBatcher` and shapes the answer:

- classify: ``probs`` ``[B, C]`` -> probabilities, most likely labels; forecast: ``mean`` ``[B, H]`` and
  ``quantiles`` ``[B, H, K]`` -> the central intervals that pairs of levels ``(q, 1 - q)`` form;
- anomaly: ``scores`` ``[B, T]`` -> each series' scores up to its length (NaN -> ``null``);
- lm: the prompt fed token by token through ``step`` from the zero state, then ``max_tokens`` tokens drawn
  (`sample_token`) and fed back; sessions continue from their stored state and logits.

An answer is never silent garbage: outputs that are not finite (a forecast's mean or quantiles, a classifier's
probabilities, an anomaly score past the warm-up), as inputs far outside the training range can give, are a
422 naming the rows (`NOT_FINITE`), and an anomaly session then keeps its state. A model call that raises is a
500 for the request whose own call raised (the batcher retries a failed batch request by request), as JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from fastapi import HTTPException

from ._artifact import Artifact, check_inputs
from ._batching import DynamicBatcher
from ._schemas import (
    AnomalyRequest,
    AnomalyResponse,
    ClassifyRequest,
    ClassifyResponse,
    ForecastRequest,
    ForecastResponse,
    GenerateRequest,
    GenerateResponse,
    Interval,
    PointsRequest,
    PointsResponse,
    StepRequest,
    StepResponse,
    pad_ragged,
)
from ._sessions import Session, SessionStore, sample_token
from ._telemetry import Telemetry

PREDICT = {"classify": "predict_proba", "forecast": "forecast", "lm": "step", "anomaly": "score"}
STREAM = {"lm": "step", "anomaly": "score_step"}
DRIFT_INPUT = {"classify": "x", "forecast": "history", "anomaly": "values"}  # the input a drift monitor observes
NOT_FINITE = "the model's output is not finite for {} (inputs far outside the training range?)"


def http_error(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


def not_finite(field: str, rows: np.ndarray) -> HTTPException:
    """The 422 for requests whose outputs are not finite at ``rows`` (indices into ``field``)."""
    return http_error(422, NOT_FINITE.format(", ".join(f"{field}[{int(i)}]" for i in rows)))


def _bad_rows(*outputs: np.ndarray) -> np.ndarray:
    """The indices of the rows (axis 0) where any of ``outputs`` holds a value that is not finite."""
    bad = np.zeros(len(outputs[0]), bool)
    for value in outputs:
        bad |= ~np.isfinite(np.reshape(value, (len(value), -1))).all(axis=1)
    return np.flatnonzero(bad)


def _nullable(values: np.ndarray) -> list[float | None]:
    """A float vector as a JSON-able list, NaN as ``None``."""
    return [None if np.isnan(v) else float(v) for v in values]


class Service:
    """The loaded artifact and what the endpoints share: batchers, limits, telemetry, the drift monitor.

    ``batcher`` batches the prediction function (`PREDICT`); ``stream`` the streaming function (`STREAM`: the
    language model's ``step``, the same batcher, or an anomaly scorer's ``score_step``), without waiting:
    the steps that queue while a call runs form the next batch. Handlers raise `HTTPException` (422 for bad
    content, 413 over a limit).
    """

    def __init__(self, artifact: Artifact, *, max_batch: int, max_wait_ms: float, max_length: int,
                 max_tokens: int, timeout_s: float, sessions: SessionStore, telemetry: Telemetry,
                 drift: Any) -> None:  # fmt: skip
        self.artifact, self.task = artifact, artifact.task
        if self.task not in PREDICT:
            raise ValueError(f"cannot serve a {self.task!r} artifact; servable tasks: {', '.join(PREDICT)}")
        self.function = PREDICT[self.task]
        self.schema = artifact.schema(self.function)
        self.specs = {spec["name"]: spec for spec in self.schema["inputs"]}
        self.max_batch, self.max_length, self.max_tokens, self.timeout_s = max_batch, max_length, max_tokens, timeout_s
        self.sessions, self.telemetry, self.drift = sessions, telemetry, drift
        if drift is not None and self.task in DRIFT_INPUT:
            shape = self.specs[DRIFT_INPUT[self.task]]["shape"]
            features = 1 if self.task == "forecast" else shape[-1]
            if drift.profile.features != features:
                raise ValueError(f"the drift profile has {drift.profile.features} features; the {self.task} "
                                 f"model's inputs have {features}")  # fmt: skip
        data = artifact.meta.get("data", {})
        self.data = data
        if self.task == "lm":
            from ..tasks.lm import tokenizer_from_json  # the vocabulary's tokenizer (NumPy code)

            self.tokenizer = tokenizer_from_json(data["tokenizer"])
        self.batcher = self._batcher(self.function, 0.0 if self.task == "lm" else max_wait_ms, max_batch)
        self.stream_function = STREAM.get(self.task)
        self.stream = self.batcher if self.task == "lm" else None
        if self.task == "anomaly":
            self.stream = self._batcher(self.stream_function, 0.0, max_batch)

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
        if self.stream is not None:
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

    async def classify(self, body: ClassifyRequest) -> ClassifyResponse:
        features = self.specs["x"]["shape"][-1]
        try:
            x, lengths = pad_ragged(body.inputs, "inputs", features=features if isinstance(features, int) else None)
        except ValueError as error:
            raise http_error(422, str(error)) from None
        self.limit("the batch", len(x), self.max_batch, "max_batch")
        self.limit("the longest sequence", x.shape[1], self.max_length, "max_length")
        if body.lengths is not None:
            given = np.asarray(body.lengths)
            if given.shape != lengths.shape or (given < 1).any() or (given > lengths).any():
                raise http_error(
                    422, f"lengths must be {len(x)} values, each in [1, its sequence's steps {lengths.tolist()}]"
                )
            lengths = given
        self.no_missing(x, "x", "inputs")
        arrays = self.checked({"x": x, "lengths": lengths})
        probs = (await self.call(self.batcher, arrays))["probs"]
        if len(bad := _bad_rows(probs)):
            raise not_finite("inputs", bad)
        if self.drift is not None:
            rows = np.concatenate([x[i, : lengths[i]] for i in range(len(x))])
            self.drift.observe(rows[np.isfinite(rows).all(axis=1)])
        classes = [str(c) for c in self.data.get("classes", range(probs.shape[1]))]
        ids = np.argmax(probs, axis=1)
        return ClassifyResponse(probabilities=probs.tolist(), labels=[classes[i] for i in ids],
                                label_ids=ids.tolist(), classes=classes)  # fmt: skip

    async def forecast(self, body: ForecastRequest) -> ForecastResponse:
        try:
            history, lengths = pad_ragged(body.history, "history")
        except ValueError as error:
            raise http_error(422, str(error)) from None
        self.limit("the batch", len(history), self.max_batch, "max_batch")
        self.limit("the longest history", history.shape[1], self.max_length, "max_length")
        self.no_missing(history, "history", "history")
        arrays: dict[str, Any] = {"history": history, "lengths": lengths}
        if ("series" in self.specs) != (body.series is not None):
            raise http_error(
                422,
                "series (each row's training-series index) is needed by, and only by, a model that "
                f"scales per series; this one {'does' if 'series' in self.specs else 'does not'}",
            )
        if body.series is not None:
            if len(body.series) != len(history):
                raise http_error(
                    422, f"series must hold one index per history row ({len(history)}), got {len(body.series)}"
                )
            arrays["series"] = np.asarray(body.series)
        arrays |= self.covariates(body, lengths)
        arrays = self.checked(arrays)
        out = await self.call(self.batcher, arrays)
        if len(bad := _bad_rows(*out.values())):
            raise not_finite("history", bad)
        if self.drift is not None:
            values = np.concatenate([history[i, : lengths[i]] for i in range(len(history))])
            self.drift.observe(values[np.isfinite(values)])
        levels = [float(q) for q in self.data.get("levels") or ()] if "quantiles" in out else []
        if not levels:
            return ForecastResponse(mean=out["mean"].tolist(), levels=[])
        q = out["quantiles"]
        pairs = [(i, levels.index(round(1 - lv, 10))) for i, lv in enumerate(levels)
                 if lv < 0.5 and round(1 - lv, 10) in levels]  # fmt: skip
        intervals = [Interval(coverage=round(1 - 2 * levels[i], 10), lower=q[..., i].tolist(), upper=q[..., j].tolist())
                     for i, j in pairs]  # fmt: skip
        return ForecastResponse(mean=out["mean"].tolist(), levels=levels, quantiles=q.tolist(), intervals=intervals)

    def covariates(self, body: ForecastRequest, lengths: np.ndarray) -> dict[str, np.ndarray]:
        """``past`` ``[B, T, K]`` (padded as ``history``) and ``future`` ``[B, H, K]`` of a forecast request
        for a model with covariates (none for a model without, which refuses them); 422 naming the expected
        shapes and the covariate names otherwise."""
        given = body.past is not None or body.future is not None
        if "past" not in self.specs:
            if given:
                raise http_error(422, "this model takes no covariates; drop past and future")
            return {}
        horizon, count = self.specs["future"]["shape"][1:]
        names = self.data.get("covariates")
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

    async def anomaly(self, body: AnomalyRequest) -> AnomalyResponse:
        features = self.specs["values"]["shape"][-1]
        try:
            values, lengths = pad_ragged(body.values, "values", features=features)
        except ValueError as error:
            raise http_error(422, str(error)) from None
        self.limit("the batch", len(values), self.max_batch, "max_batch")
        self.limit("the longest series", values.shape[1], self.max_length, "max_length")
        arrays = self.checked({"values": values, "lengths": lengths})
        scores = (await self.call(self.batcher, arrays))["scores"]
        warm = self.data.get("window", 0)  # NaN (null) before it: the warm-up
        if bad := [i for i, n in enumerate(lengths) if not np.isfinite(scores[i, warm:n]).all()]:
            raise not_finite("values", np.array(bad))
        if self.drift is not None:
            self.drift.observe(np.concatenate([values[i, : lengths[i]] for i in range(len(values))]))
        return AnomalyResponse(scores=[_nullable(scores[i, :n]) for i, n in enumerate(lengths)])

    async def anomaly_step(self, session: Session, body: PointsRequest) -> PointsResponse:
        features = self.artifact.schema(self.stream_function)["inputs"][0]["shape"][-1]
        try:
            points = np.array(body.points, np.float32)
        except ValueError:
            raise http_error(422, "every point must have the same number of features") from None
        if points.shape[1] != features:
            raise http_error(422, f"points have {points.shape[1]} features, the model takes {features}")
        self.limit("the number of points", len(points), self.max_length, "max_length")
        warm = self.data.get("window", 0)
        async with session.lock:
            state, scores = session.state, []
            for i, point in enumerate(points):
                out = await self.call(self.stream, {"x": point[None], **state})
                if session.steps + i >= warm and not np.isfinite(out["score"][0]):
                    raise not_finite("points", np.array([i]))  # the session keeps its state
                scores.append(out["score"][0])
                state = {k: out[k] for k in state}
            session.state, session.steps = state, session.steps + len(points)
        if self.drift is not None:
            self.drift.observe(points)
        return PointsResponse(scores=_nullable(np.array(scores)), steps=session.steps)

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]

    async def feed(self, tokens: list[int], state: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Run ``step`` on each token in turn from ``state``: the last logits ``[1, V]`` and the new state."""
        logits = None
        for token in tokens:
            out = await self.call(self.stream, {"tokens": np.array([token], np.int32), **state})
            logits, state = out["logits"], {k: out[k] for k in state}
        return logits, state

    async def generate(self, body: GenerateRequest) -> GenerateResponse:
        prompt = self.encode(body.prompt)
        if not prompt:
            raise http_error(422, "the prompt encodes to no tokens")
        self.limit("the prompt", len(prompt), self.max_length, "max_length tokens")
        self.limit("max_tokens", body.max_tokens, self.max_tokens, "max_tokens")
        logits, state = await self.feed(prompt, self.artifact.init_state(1))
        rng, generated = np.random.default_rng(body.seed), []
        for i in range(body.max_tokens):
            generated.append(sample_token(logits[0], rng, temperature=body.temperature, top_k=body.top_k))
            if i + 1 < body.max_tokens:
                logits, state = await self.feed(generated[-1:], state)
        return GenerateResponse(text=self.tokenizer.decode(generated), tokens=generated, prompt_tokens=len(prompt))

    async def step(self, session: Session, body: StepRequest) -> StepResponse:
        if body.text is not None and body.tokens is not None:
            raise http_error(422, "give text or tokens, not both")
        tokens = self.encode(body.text) if body.text is not None else list(body.tokens or ())
        vocab = len(self.tokenizer.vocab)
        if any(not 0 <= t < vocab for t in tokens):
            raise http_error(422, f"tokens must be ids in [0, {vocab - 1}]")
        self.limit("the input", len(tokens), self.max_length, "max_length tokens")
        self.limit("max_tokens", body.max_tokens, self.max_tokens, "max_tokens")
        async with session.lock:
            if not tokens and session.logits is None and body.max_tokens:
                raise http_error(422, "a new session must be fed text (or tokens) before it can generate")
            rng = session.rng if body.seed is None else np.random.default_rng(body.seed)
            logits, state = session.logits, session.state
            if tokens:
                logits, state = await self.feed(tokens, state)
            generated = []
            for _ in range(body.max_tokens):
                generated.append(sample_token(logits[0], rng, temperature=body.temperature, top_k=body.top_k))
                logits, state = await self.feed(generated[-1:], state)
            session.state, session.logits, session.rng = state, logits, rng
            session.steps += len(tokens) + len(generated)
        probabilities = None
        if body.return_probabilities and logits is not None:
            z = logits[0].astype(np.float64)
            probabilities = (np.exp(z - z.max()) / np.exp(z - z.max()).sum()).tolist()
        return StepResponse(tokens=generated, text=self.tokenizer.decode(generated), steps=session.steps,
                            probabilities=probabilities)  # fmt: skip
