"""``recurrax serve ARTIFACT_DIR``: the HTTP service of an exported model (uvicorn)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

ArtifactDir = Annotated[Path, typer.Argument(help="An exported model directory (recurrax.serve.export_run).",
                                             exists=True, file_okay=False)]  # fmt: skip


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the service on this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    artifact: ArtifactDir,
    host: Annotated[str, typer.Option(help="Address to bind; beyond localhost a --token is required.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    token: Annotated[
        str | None, typer.Option(help="Bearer token that requests must send.", envvar="RECURRAX_SERVE_TOKEN")
    ] = None,
    max_batch: Annotated[int, typer.Option(help="Rows per batched model call.", min=1)] = 32,
    max_wait_ms: Annotated[float, typer.Option(help="Wait this long for more requests to batch.", min=0)] = 5.0,
    timeout_s: Annotated[float, typer.Option(help="Answer 504 after this many seconds.", min=0.001)] = 30.0,
    max_length: Annotated[int, typer.Option(help="Longest sequence (or prompt, in tokens).", min=1)] = 4096,
    max_tokens: Annotated[int, typer.Option(help="Most tokens generated per request.", min=1)] = 1024,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.", min=1)] = 8 * 1024 * 1024,
    max_sessions: Annotated[int, typer.Option(help="Most open streaming sessions.", min=1)] = 1000,
    session_ttl_s: Annotated[float, typer.Option(help="Close sessions unused this long.", min=0.001)] = 600.0,
    drift_profile: Annotated[
        Path | None,
        typer.Option(
            help="Reference profile JSON (ReferenceProfile.to_dict) to monitor input drift against on /metrics "
            "[default: the artifact's drift_profile.json, when it has one].",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    no_drift: Annotated[bool, typer.Option("--no-drift", help="Do not monitor input drift.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve an exported model over HTTP: /v1/predict, streaming /v1/sessions, /health, /metrics, /docs.

    Without --token (or RECURRAX_SERVE_TOKEN) the service binds only to localhost.

    Examples:

      recurrax serve exported/lm --port 8000

      RECURRAX_SERVE_TOKEN=s3cret recurrax serve exported/sales --host 0.0.0.0 --max-batch 64
    """
    if not is_loopback(host) and not token:
        raise typer.BadParameter(f"binding {host} exposes the service beyond this machine: give --token "
                                 "(or set RECURRAX_SERVE_TOKEN)", param_hint="--host")  # fmt: skip
    from .._extras import require

    uvicorn = require("uvicorn", "recurrax serve")

    from ..serve import DriftMonitor, ReferenceProfile, create_app, inline_cpu_dispatch

    inline = inline_cpu_dispatch()  # before the artifact's first computation: a service waits for every answer

    if no_drift and drift_profile is not None:
        raise typer.BadParameter("give --drift-profile or --no-drift, not both", param_hint="--no-drift")
    drift = None if no_drift else "artifact"  # the artifact's drift profile, when it has one
    if drift_profile is not None:
        drift = DriftMonitor(ReferenceProfile.load(drift_profile))
    app = create_app(artifact, token=token, max_batch=max_batch, max_wait_ms=max_wait_ms, timeout_s=timeout_s,
                     max_length=max_length, max_tokens=max_tokens, max_body_bytes=max_body_bytes,
                     max_sessions=max_sessions, session_ttl_s=session_ttl_s, drift=drift)  # fmt: skip
    typer.echo(f"serving {app.state.service.task} model {artifact} on http://{host}:{port} (docs at /docs)")
    monitor = app.state.service.drift
    typer.echo("input drift monitoring: off" if monitor is None else
               f"input drift monitoring: on, {monitor.profile.features} features against "
               f"{drift_profile or 'the artifact drift profile'} (/metrics)")  # fmt: skip
    typer.echo("CPU dispatch: " + ("inline" if inline else "asynchronous (JAX was started before serve)"))
    uvicorn.run(app, host=host, port=port, log_level=log_level)
