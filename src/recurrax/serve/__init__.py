"""Deployment: portable exported models (StableHLO + safetensors + JSON), the HTTP service, monitoring.

Exporting needs only the base install; the HTTP service (`create_app`) needs the ``serve`` extra (fastapi,
uvicorn, prometheus-client). Both are imported on first use: loading and running an artifact imports no task.
"""

from .._dispatch import inline_cpu_dispatch as inline_cpu_dispatch
from ..metrics import KSResult as KSResult
from ..metrics import ReferenceProfile as ReferenceProfile
from ..metrics import ks_test as ks_test
from ..metrics import psi as psi
from ._artifact import Artifact as Artifact
from ._artifact import load_artifact as load_artifact
from ._batching import DynamicBatcher as DynamicBatcher
from ._drift import DriftMonitor as DriftMonitor
from ._drift import ErrorDriftMonitor as ErrorDriftMonitor
from ._onnx import export_onnx as export_onnx
from ._sessions import SessionStore as SessionStore


def __getattr__(name: str):
    """`export_run` and `create_app` on first use: they read the task registry (`recurrax.tasks`), which an
    artifact's user does not need, and `create_app` needs the ``serve`` extra."""
    if name == "export_run":
        from ._export import export_run

        return export_run
    if name == "create_app":
        from .._extras import require

        require("fastapi", "the HTTP service")
        require("prometheus_client", "the HTTP service")
        from ._app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
