"""The anomaly task's `TaskSpec` (`recurrax.tasks.get_task("anomaly")`) and `anomaly_inference`, the exported
functions of a forecasting scorer (``kind`` ``prediction`` or ``nll``) around `forecaster_scores` and
`forecaster_step`:

- ``score``: ``values`` ``[B, T, D]`` float32 raw, ``lengths`` ``[B]`` in ``[1, T]`` -> ``scores`` ``[B, T]``
  (NaN in the warm-up and past each length), as `score_series`.
- ``score_step`` (streaming): ``x`` ``[B, D]`` (one point per stream) and the state -> ``score`` ``[B]`` and the
  new state: ``state_<i>`` ``[B, L, H]`` (the stack's carry, batch first), ``pending`` ``[B, P * D]`` (the
  forecast of the next point) and ``seen`` ``[B]`` int32 (points seen). Batch axis 0.

``reconstruction`` scorers (windows through an autoencoder) are not exported.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ...train import find_checkpoint, read_meta
from .._contract import Function, Inference, Input, TaskSpec, checkpoint_source, model_weights
from ._config import AnomalyConfig
from ._inference import forecaster_scores, forecaster_step
from ._models import initial_state
from ._run import REFERENCE_FILE
from ._scorers import LEGACY_TASKS, TASK as NAME, load_scorer


def anomaly_inference(checkpoint: str | Path) -> Inference:
    """``score`` and ``score_step`` of a scorer checkpoint (see the module docstring); ``data``: the number of
    features, kind, window, scaler and the training run's reference scores (when it kept them)."""
    checkpoint = find_checkpoint(checkpoint)
    scorer = load_scorer(checkpoint)
    cfg, model = scorer.config, scorer.model
    if cfg.kind == "reconstruction":
        raise ValueError("exporting a reconstruction scorer is not supported; prediction and nll scorers are")
    weights, rebuild = model_weights(model)
    weights["scaler.loc"] = scorer.loc.astype(np.float32)
    weights["scaler.scale"] = scorer.scale.astype(np.float32)
    features, outputs, window = scorer.num_features, model.out_weight.shape[0], cfg.window
    leaves, state_def = jax.tree.flatten(initial_state(model.rnn, 1))
    names = tuple(f"state_{i}" for i in range(len(leaves)))

    def score_step(w: dict, inputs: dict) -> dict[str, jax.Array]:
        state = jax.tree.unflatten(state_def, [jnp.swapaxes(inputs[n], 0, 1) for n in names])
        carry = (state, inputs["pending"], inputs["seen"])
        (state, pending, seen), score = forecaster_step(
            rebuild(w), w["scaler.loc"], w["scaler.scale"], carry, inputs["x"], window
        )
        flat = {n: jnp.swapaxes(leaf, 0, 1) for n, leaf in zip(names, jax.tree.leaves(state))}
        return {"score": score, **flat, "pending": pending, "seen": seen}

    def score(w: dict, inputs: dict) -> dict[str, jax.Array]:
        net = rebuild(w)
        scores = forecaster_scores(net, w["scaler.loc"], w["scaler.scale"], inputs["values"], inputs["lengths"], window)
        return {"scores": scores}

    state_inputs = [Input(n, ("B", leaf.shape[0], *leaf.shape[2:]), str(leaf.dtype)) for n, leaf in zip(names, leaves)]
    streaming = (
        Input("x", ("B", features), "float32"),
        *state_inputs,
        Input("pending", ("B", outputs), "float32"),
        Input("seen", ("B",), "int32", bounds=(0, np.iinfo(np.int32).max - 1)),
    )
    batch_inputs = (Input("values", ("B", "T", features), "float32"), Input("lengths", ("B",), "int32", (1, "T")))
    functions = {
        "score": Function(score, batch_inputs),
        "score_step": Function(score_step, streaming, state=(*names, "pending", "seen"), state_batch_axis=0),
    }
    meta = read_meta(checkpoint)
    reference_path = checkpoint.parent.parent / REFERENCE_FILE
    reference = np.load(reference_path, allow_pickle=False) if reference_path.is_file() else None
    data = {
        "num_features": features,
        "kind": cfg.kind,
        "window": window,
        "scaler": {"loc": scorer.loc.tolist(), "scale": scorer.scale.tolist()},
        "reference_scores": None if reference is None else [None if np.isnan(v) else float(v) for v in reference],
    }
    config = meta.get("config", {"scorer": meta["scorer"]})
    return Inference(NAME, functions, weights, data, config, checkpoint_source(checkpoint, meta))


TASK = TaskSpec(
    name=NAME,
    config_type=AnomalyConfig,
    inference=anomaly_inference,
    serving="recurrax.tasks.anomaly._serving",
    aliases=LEGACY_TASKS,
)
