"""The exported functions of an anomaly run (`recurrax.tasks.anomaly`): raw anomaly scores, batch and streaming.

For the forecasting scorers (``kind`` ``prediction`` or ``nll``): with ``z = (x - loc) / scale`` (the
training scaler), the score of point ``t`` is the error (`NextStep.errors`) of the forecast made after
``z_0 .. z_{t-1}`` — NaN during the warm-up ``t < window`` — exactly as `score_series` and `StreamingScorer`.

- ``score``: ``values`` ``[B, T, D]`` float32 raw, ``lengths`` ``[B]`` in ``[1, T]`` -> ``scores`` ``[B, T]``
  (NaN in the warm-up and past each length).
- ``score_step`` (streaming): ``x`` ``[B, D]`` (one point per stream) and the state -> ``score`` ``[B]`` and the
  new state: ``state_<i>`` ``[B, L, H]`` (the stack's carry, batch first), ``pending`` ``[B, P * D]`` (the
  forecast of the next point) and ``seen`` ``[B]`` int32 (points seen). Batch axis 0.

``reconstruction`` scorers (windows through an autoencoder) are not exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..tasks.anomaly import load_scorer
from ..tasks.anomaly._models import initial_state
from ..tasks.anomaly._run import REFERENCE_FILE
from ..train import read_meta
from ._export import Function, Input, model_weights


def anomaly(checkpoint: Path) -> dict[str, Any]:
    """`write_artifact`'s keyword arguments for an anomaly scorer checkpoint (see the module docstring)."""
    scorer = load_scorer(checkpoint)
    cfg, model = scorer.config, scorer.model
    if cfg.kind == "reconstruction":
        raise ValueError("exporting a reconstruction scorer is not supported; prediction and nll scorers are")
    weights, rebuild = model_weights(model)
    weights["scaler.loc"] = scorer.loc.astype(np.float32)
    weights["scaler.scale"] = scorer.scale.astype(np.float32)
    features, outputs, window = scorer.num_features, model.out_weight.shape[0], cfg.window
    zero = initial_state(model.rnn, 1)
    leaves, state_def = jax.tree.flatten(zero)
    names = tuple(f"state_{i}" for i in range(len(leaves)))

    def advance(net: Any, w: dict, carry: tuple, x: jax.Array) -> tuple[tuple, jax.Array]:
        """One point per stream: ``carry = (state [L, B, ...], pending [B, P*D], seen [B])`` -> new, score."""
        state, pending, seen = carry
        z = (x - w["scaler.loc"].reshape(1, -1)) / w["scaler.scale"].reshape(1, -1)
        error = net.errors(pending, z)
        out, state = net.step(z, state)
        seen = seen + 1
        return (state, out, seen), jnp.where(seen <= window, jnp.nan, error)

    def score_step(w: dict, inputs: dict) -> dict:
        state = jax.tree.unflatten(state_def, [jnp.swapaxes(inputs[n], 0, 1) for n in names])
        carry = (state, inputs["pending"], inputs["seen"])
        (state, pending, seen), score = advance(rebuild(w), w, carry, inputs["x"])
        flat = {n: jnp.swapaxes(leaf, 0, 1) for n, leaf in zip(names, jax.tree.leaves(state))}
        return {"score": score, **flat, "pending": pending, "seen": seen}

    def score(w: dict, inputs: dict) -> dict:
        net, values, lengths = rebuild(w), inputs["values"], inputs["lengths"]
        batch = values.shape[0]
        state = initial_state(net.rnn, batch)
        carry = (state, jnp.zeros((batch, outputs), values.dtype), jnp.zeros((batch,), jnp.int32))
        _, scores = jax.lax.scan(lambda c, x: advance(net, w, c, x), carry, jnp.swapaxes(values, 0, 1))
        valid = jnp.arange(values.shape[1]).reshape(1, -1) < lengths.reshape(-1, 1)
        return {"scores": jnp.where(valid, jnp.swapaxes(scores, 0, 1), jnp.nan)}

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
    source = {"checkpoint": str(checkpoint.resolve()), "data_fingerprint": meta.get("data_fingerprint")}
    config = meta.get("config", {"scorer": meta["scorer"]})
    return {"task": "anomaly", "functions": functions, "weights": weights, "config": config, "data": data,
            "source": source}  # fmt: skip
