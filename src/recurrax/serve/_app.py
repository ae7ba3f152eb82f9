"""`create_app`: the HTTP service (FastAPI) of an exported model (`recurrax.serve.load_artifact`).

Endpoints (OpenAPI page at ``/docs``):

- ``GET /health``: ``{"status": "ok", "task", "functions", "sessions"}``; ``GET /metrics``: Prometheus text
  (`recurrax.serve._telemetry`); ``GET /v1/model``: the task, data description and function schemas.
- ``POST /v1/predict``: the body and answer of the artifact's task, as its serving module declares them
  (`recurrax.tasks.TaskSpec.serving`; e.g. ``classify`` ``{"inputs": [B][T][D], "lengths"?}`` -> probabilities
  and labels; ``forecast`` ``{"history": [B][T], "series"?, "past"?, "future"?}`` -> mean, quantiles and
  intervals; ``anomaly`` ``{"values": [B][T][D]}`` -> scores; ``lm`` ``{"prompt", "max_tokens", ...}`` -> text).
- ``POST /v1/sessions`` -> ``{"id"}``; ``POST /v1/sessions/{id}/step`` continues from the session's
  recurrent state (a task whose serving declares a streaming step: a language model feeds ``text`` and
  generates tokens, an anomaly scorer scores the next ``points``); ``DELETE /v1/sessions/{id}``.

Answers: 401 without a bearer token and 403 with a wrong one (when ``token`` is set, every endpoint but
``/health``, which load balancers probe, asks for it: ``/docs``, ``/redoc`` and ``/openapi.json`` too), 422
for a malformed body (schema, shapes, NaN, infinity or a number beyond float32, out-of-range values; the
message names the field) and for outputs that are not finite (`recurrax.serve._service.NOT_FINITE`), 413 for a
body over ``max_body_bytes`` or a batch, sequence or generation over the limits, 404 for an unknown or expired
session, 429 when ``max_sessions`` are open, 504 after ``timeout_s``. Every answer is JSON
(``{"detail": ...}``), an unexpected error too (500, logged), and the connection stays open.

Predictions go through a `DynamicBatcher` per function: concurrent requests become one padded call. Each
streaming step (a token, an anomaly point) is one call of the artifact's streaming function, batched across
concurrent generations and sessions without waiting (the steps that queue while a call runs form the next
batch).

    >>> app = create_app("exported/lm", token="s3cret", max_batch=16)  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ._artifact import Artifact, load_artifact
from ._drift import DriftMonitor
from ._schemas import SessionRequest, SessionResponse, message
from ._service import Service, http_error
from ._sessions import Session, SessionLimitError, SessionStore
from ._telemetry import CONTENT_TYPE, Telemetry

log = logging.getLogger("recurrax.serve")


class _TooLarge(HTTPException):
    """A body over ``max_body_bytes`` (an HTTPException, so that FastAPI's body reader passes it on)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than max_body_bytes = {limit}")


class _Guard:
    """ASGI middleware: refuses bodies over ``max_bytes`` (413), answers an unexpected error as a JSON 500 (and
    logs it) instead of letting it reach the server, which would close the connection, and records every
    answer in `Telemetry`."""

    def __init__(self, app: Any, *, telemetry: Telemetry, max_bytes: int):
        self.app, self.telemetry, self.max_bytes = app, telemetry, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status, received, started = time.perf_counter(), [500], [0], [False]
        declared = dict(scope.get("headers", [])).get(b"content-length")

        async def counted_receive() -> dict:
            message = await receive()
            received[0] += len(message.get("body", b""))
            if received[0] > self.max_bytes:
                raise _TooLarge(self.max_bytes)
            return message

        async def recorded_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0], started[0] = message["status"], True
            await send(message)

        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise _TooLarge(self.max_bytes)
            await self.app(scope, counted_receive, recorded_send)
        except _TooLarge as error:
            await JSONResponse({"detail": error.detail}, status_code=413)(scope, receive, recorded_send)
        except Exception as error:  # noqa: BLE001 — any other failure: a JSON 500, the server keeps the connection
            log.exception("unexpected error on %s %s", scope["method"], scope.get("path"))
            if not started[0]:
                detail = f"internal error: {type(error).__name__} (logged by the server)"
                await JSONResponse({"detail": detail}, status_code=500)(scope, receive, recorded_send)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.telemetry.observe_request(endpoint, scope["method"], status[0], time.perf_counter() - start)


def _readable(errors: list[dict[str, Any]]) -> str:
    """pydantic errors as one line: ``body.inputs.0.1: Input should be a finite number; ...``."""
    return "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in errors)


def create_app(
    artifact_or_path: Artifact | str | Path,
    *,
    token: str | None = None,
    max_batch: int = 32,
    max_wait_ms: float = 5.0,
    timeout_s: float = 30.0,
    max_length: int = 4096,
    max_tokens: int = 1024,
    max_body_bytes: int = 8 * 1024 * 1024,
    max_sessions: int = 1000,
    session_ttl_s: float = 600.0,
    drift: DriftMonitor | str | None = "artifact",
) -> FastAPI:
    """The FastAPI app serving an `Artifact` (or the artifact directory ``artifact_or_path``).

    ``token``: required bearer token (None: no auth) on every endpoint but ``/health``, the OpenAPI schema and
    pages included. Batching: up to ``max_batch`` rows per call, waiting at
    most ``max_wait_ms`` for more. Limits: ``max_length`` steps (or prompt tokens) per sequence,
    ``max_tokens`` generated per request, ``max_body_bytes`` per body, ``timeout_s`` per request,
    ``max_sessions`` open sessions expiring after ``session_ttl_s`` unused. ``drift``: a
    `recurrax.serve.DriftMonitor` fed the served inputs (classify: the valid steps' features; forecast: the
    history values; anomaly: the values), reported on ``/metrics``; by default (``"artifact"``) one against the
    artifact's `Artifact.drift_profile` when it has one, ``None``: no monitoring.
    """
    artifact = artifact_or_path if isinstance(artifact_or_path, Artifact) else load_artifact(artifact_or_path)
    if isinstance(drift, str):
        if drift != "artifact":
            raise ValueError(f"drift must be a DriftMonitor, 'artifact' or None, got {drift!r}")
        profile = artifact.drift_profile
        drift = None if profile is None else DriftMonitor(profile)
    telemetry = Telemetry()
    sessions = SessionStore(max_sessions=max_sessions, ttl_s=session_ttl_s, on_change=lambda active, expired: (
        telemetry.sessions_active.set(active), telemetry.sessions_expired.inc(expired)))  # fmt: skip
    service = Service(artifact, max_batch=max_batch, max_wait_ms=max_wait_ms, max_length=max_length,
                       max_tokens=max_tokens, timeout_s=timeout_s, sessions=sessions, telemetry=telemetry,
                       drift=drift)  # fmt: skip
    if drift is not None:
        telemetry.add_drift(drift.report)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        await service.close()

    pages = {} if token is None else {"openapi_url": None, "docs_url": None, "redoc_url": None}  # added below
    app = FastAPI(title=f"recurrax {artifact.task} model", lifespan=lifespan, **pages,
                  description=f"Serves the exported {artifact.task} model in {artifact.path}.")  # fmt: skip
    app.state.service = service
    app.add_middleware(_Guard, telemetry=telemetry, max_bytes=max_body_bytes)
    bearer = HTTPBearer(auto_error=False)

    async def authorized(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if token is None:
            return
        if credentials is None:
            raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        if not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(403, "wrong bearer token")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": message(e), "type": e["type"]} for e in error.errors()]
        return JSONResponse({"detail": _readable(errors), "errors": errors}, status_code=422)

    if token is not None:  # the schema and its pages behind the token, like the endpoints they describe

        @app.get("/openapi.json", dependencies=[Depends(authorized)], include_in_schema=False)
        async def openapi() -> JSONResponse:
            return JSONResponse(app.openapi())

        @app.get("/docs", dependencies=[Depends(authorized)], include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI")

        @app.get("/redoc", dependencies=[Depends(authorized)], include_in_schema=False)
        async def redoc() -> HTMLResponse:
            return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "task": artifact.task, "functions": list(artifact.functions), "sessions": len(sessions)}

    @app.get("/metrics", dependencies=[Depends(authorized)])
    async def metrics() -> Response:
        len(sessions)  # expire idle sessions so the gauge is current
        return Response(telemetry.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/model", dependencies=[Depends(authorized)])
    async def model() -> dict[str, Any]:
        return {key: artifact.meta.get(key) for key in ("task", "data", "functions", "recurrax_version")}

    endpoint = service.serving.predict

    async def predict(body: Any) -> Any:
        return await service.timed(endpoint.handle(service, body))

    predict.__annotations__ = {"body": endpoint.request, "return": endpoint.response}

    app.post("/v1/predict", response_model=endpoint.response, dependencies=[Depends(authorized)],
             summary=f"Batch prediction of the {artifact.task} model")(predict)  # fmt: skip

    async def streaming() -> None:
        if service.serving.step is None:
            raise http_error(400, f"this {artifact.task} model has no streaming sessions")

    @app.post("/v1/sessions", response_model=SessionResponse, dependencies=[Depends(authorized), Depends(streaming)])
    async def open_session(body: SessionRequest | None = None) -> SessionResponse:
        try:
            session = sessions.create(artifact.init_state(1, service.stream_function))
        except SessionLimitError as error:
            raise http_error(429, str(error)) from None
        session.rng = np.random.default_rng(0 if body is None else body.seed)
        telemetry.sessions_created.inc()
        return SessionResponse(id=session.id, ttl_s=sessions.ttl_s, task=artifact.task)

    def open_one(session_id: str) -> Session:
        try:
            return sessions.get(session_id)
        except KeyError as error:
            raise http_error(404, error.args[0]) from None

    stepping = service.serving.step
    if stepping is not None:

        async def step(session_id: str, body: Any) -> Any:
            return await service.timed(stepping.handle(service, open_one(session_id), body))

        step.__annotations__ = {"session_id": str, "body": stepping.request, "return": stepping.response}
        app.post("/v1/sessions/{session_id}/step", response_model=stepping.response, summary="One step of a session",
                 dependencies=[Depends(authorized)])(step)  # fmt: skip

    @app.delete("/v1/sessions/{session_id}", dependencies=[Depends(authorized)])
    async def close_session(session_id: str) -> dict[str, Any]:
        if not sessions.delete(session_id):
            raise http_error(404, f"no open session {session_id!r}")
        return {"id": session_id, "deleted": True}

    return app
