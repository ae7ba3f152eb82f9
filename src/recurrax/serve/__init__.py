"""Deployment: portable exported models (StableHLO + safetensors + JSON), the HTTP service, monitoring."""

from ..metrics import KSResult as KSResult
from ..metrics import ReferenceProfile as ReferenceProfile
from ..metrics import ks_test as ks_test
from ..metrics import psi as psi
from ._app import create_app as create_app
from ._artifact import Artifact as Artifact
from ._artifact import load_artifact as load_artifact
from ._batching import DynamicBatcher as DynamicBatcher
from ._drift import DriftMonitor as DriftMonitor
from ._drift import ErrorDriftMonitor as ErrorDriftMonitor
from ._export import export_run as export_run
from ._onnx import export_onnx as export_onnx
from ._sessions import SessionStore as SessionStore
