"""The contract of a task: its inference as pure JAX functions of ``(weights, inputs)`` and its `TaskSpec`.

A task's inference is written once, as a `Function`: ``fn(weights, inputs) -> outputs`` (dicts of arrays),
the raw inputs in data units and every preprocessing step (scaling, striding, windowing) inside. The library's
own predict runs that function's core, `recurrax.serve.export_run` serialises the same function to
StableHLO (and ONNX), and the HTTP service runs the serialised one: one definition, three callers, compared by
``tests/test_conformance.py``.

The weights are an argument, not a closure constant: ``weights.safetensors`` holds the only copy of the numbers
and a module describes only the computation. ``Input.shape`` uses the symbols ``"B"`` (batch) and ``"T"``
(time), so that one exported module serves every batch size and sequence length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np


@dataclass(frozen=True)
class Input:
    """One input of a `Function`: ``shape`` of ints and symbols (``"B"``, ``"T"``), a NumPy ``dtype`` name,
    optional inclusive ``bounds`` (ints or symbols) and ``allow_nan`` (NaN means missing)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str
    bounds: tuple[int | str, int | str] | None = None
    allow_nan: bool = False

    def schema(self) -> dict[str, Any]:
        """The input's entry in an artifact's ``meta.json`` (`recurrax.serve.load_artifact`)."""
        out: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.bounds is not None:
            out["bounds"] = list(self.bounds)
        if self.allow_nan:
            out["allow_nan"] = True
        return out


@dataclass(frozen=True)
class Function:
    """``fn(weights, inputs) -> outputs`` (dicts of arrays), its `Input` list and, for a streaming function,
    the names of the inputs that it also returns as its new ``state`` (stacked on ``state_batch_axis``)."""

    fn: Callable[[dict[str, jax.Array], dict[str, jax.Array]], dict[str, jax.Array]]
    inputs: tuple[Input, ...]
    state: tuple[str, ...] = ()
    state_batch_axis: int = 0


@dataclass(frozen=True)
class Inference:
    """What a task's inference builder returns for a trained model: the task's name, its ``functions``, the
    ``weights`` they take (model leaves by pytree key path plus preprocessing tables such as ``scaler.loc``),
    the ``data`` description an artifact records (``meta["data"]``: classes, vocabulary, levels...), the run's
    resolved ``config`` (a dict), the ``source`` (checkpoint, data fingerprint) and ``onnx_steps``, the time
    dimension an ONNX export fixes by default (None: the caller must give one, where ``T`` is an input)."""

    task: str
    functions: dict[str, Function]
    weights: dict[str, np.ndarray]
    data: dict[str, Any]
    config: dict[str, Any]
    source: dict[str, Any] = field(default_factory=dict)
    onnx_steps: int | None = None


def model_weights(model: Any, prefix: str = "") -> tuple[dict[str, np.ndarray], Callable[[dict], Any]]:
    """The array leaves of an equinox ``model`` by pytree key path (as checkpoints name them, e.g.
    ``.rnn.layers[0].cell.weight_hh``; ``prefix`` is prepended), and a function that rebuilds the model from
    such a dict (traced arrays allowed)."""
    params, static = eqx.partition(model, eqx.is_array)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = [prefix + jax.tree_util.keystr(path) for path, _ in leaves]
    weights = {name: np.asarray(leaf) for name, (_, leaf) in zip(names, leaves)}

    def rebuild(given: dict) -> Any:
        return eqx.combine(jax.tree_util.tree_unflatten(treedef, [given[n] for n in names]), static)

    return weights, rebuild


def checkpoint_source(checkpoint: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """An `Inference`'s ``source``: the checkpoint's resolved path and its run's data fingerprint."""
    return {"checkpoint": str(Path(checkpoint).resolve()), "data_fingerprint": meta.get("data_fingerprint")}


def _any_config(cfg: Any) -> None:
    """The default `TaskSpec.check_tune`: every config can be tuned."""


@dataclass(frozen=True)
class Holdout:
    """How `recurrax.lifecycle.retrain` challenges a task's production model: the holdout ``metrics`` that may
    decide, the ``default`` one, those where higher is better, and ``challenge(champion_path, new_data,
    holdout, settings, run_dir, trainer, progress) -> (champion scores, challenger scores)``, which trains the
    warm-started challenger into ``run_dir`` and scores both on the same holdout. ``check_metric(metric,
    config)`` raises ValueError for a metric the champion (its config dict) cannot give."""

    metrics: tuple[str, ...]
    default: str
    higher_is_better: tuple[str, ...]
    challenge: Callable[..., tuple[dict[str, float], dict[str, float]]]
    check_metric: Callable[[str, dict[str, Any]], None] = lambda metric, config: None


@dataclass(frozen=True)
class TaskSpec:
    """One task, as everything outside its folder sees it (`register`, `get_task`).

    - ``name``: the name in checkpoints, artifacts, the service and the CLI; ``aliases``: older names that
      checkpoints may still carry.
    - ``config_type``: its config dataclass (`recurrax.config.load_config` reads it).
    - ``fit(cfg, run_dir, data_dir, progress) -> rows``: one training run into ``run_dir``, returning its
      ``metrics.jsonl`` rows (what `recurrax.lifecycle.tune` runs per trial); ``check_tune(cfg)`` raises
      `recurrax.config.ConfigError` for a base config that cannot be tuned.
    - ``inference(checkpoint, **options) -> Inference``: the task's functions built from a checkpoint, the same
      that its library predict runs; ``inference_options``: the option names it takes (e.g. ``levels``);
      ``onnx``: whether its functions convert to ONNX (jax2onnx) as well as to StableHLO.
    - ``serving``: the module (``"package.module"``) whose ``SERVING`` (a `recurrax.serve.Serving`) turns HTTP
      bodies into the functions' inputs and their outputs into answers; imported only by the service.
    - ``holdout``: how `recurrax.lifecycle.retrain` challenges the task's models (None: no re-training).
    """

    name: str
    config_type: type
    fit: Callable[[Any, Path, Path | None, bool], list[dict[str, Any]]] | None = None
    check_tune: Callable[[Any], None] = _any_config
    inference: Callable[..., Inference] | None = None
    inference_options: tuple[str, ...] = ()
    onnx: bool = False
    serving: str | None = None
    holdout: Holdout | None = None
    aliases: tuple[str, ...] = ()
