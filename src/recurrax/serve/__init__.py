"""Deployment: portable exported models (StableHLO + safetensors + JSON), the HTTP service, monitoring.

Exporting needs only the base install; the HTTP service (`create_app`, imported on first use) needs the
``serve`` extra (fastapi, uvicorn, prometheus-client).
"""

from ..metrics import KSResult as KSResult
from ..metrics import ReferenceProfile as ReferenceProfile
from ..metrics import ks_test as ks_test
from ..metrics import psi as psi
from ._artifact import Artifact as Artifact
from ._artifact import load_artifact as load_artifact
from ._batching import DynamicBatcher as DynamicBatcher
from ._drift import DriftMonitor as DriftMonitor
from ._drift import ErrorDriftMonitor as ErrorDriftMonitor
from ._export import export_run as export_run
from ._onnx import export_onnx as export_onnx
from ._sessions import SessionStore as SessionStore


def __getattr__(name: str):
    """`create_app` on first use, so that exporting works without the ``serve`` extra."""
    if name == "create_app":
        from .._extras import require

        require("fastapi", "the HTTP service")
        require("prometheus_client", "the HTTP service")
        from ._app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
