"""`class_probabilities`: the classifier's inference from raw sequences, which `predict_classifier` runs and
`classify_inference` exports (as ``predict_proba``).

With the run's training statistics ``mean``, ``std`` ``[D]`` and stride ``s`` (``data.stride``: every
``s``-th step from step 0, ``ceil(n / s)`` of a sequence's ``n`` steps)::

    x' = nan_to_num((x[:, ::s] - mean) / std)   zeroed past each length,     probs = softmax(model(x', lengths'))

so a missing value (NaN) is the training mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._contract import Function, Inference, Input, checkpoint_source, model_weights
from ._run import LoadedClassifier, load_classifier


@eqx.filter_jit
def class_probabilities(
    model: Any, mean: jax.Array, std: jax.Array, x: jax.Array, lengths: jax.Array, stride: int
) -> jax.Array:
    """``probs`` ``[B, C]`` of raw ``x`` ``[B, T, D]`` (NaN = missing) with ``lengths`` ``[B]`` in ``[1, T]``
    (see the module docstring)."""
    x, lengths = x[:, ::stride], (lengths + stride - 1) // stride
    scaled = jnp.nan_to_num((x - mean.reshape(1, 1, -1)) / std.reshape(1, 1, -1), nan=0.0)
    valid = jnp.arange(x.shape[1]).reshape(1, -1, 1) < lengths.reshape(-1, 1, 1)
    return jax.nn.softmax(model(jnp.where(valid, scaled, 0.0), lengths), axis=-1)


def classify_inference(checkpoint: str | Path) -> Inference:
    """``predict_proba``: raw ``x`` ``[B, T, D]`` float32 (NaN = missing) and ``lengths`` ``[B]`` int32 in
    ``[1, T]`` -> ``probs`` ``[B, C]`` float32 (rows sum to 1, classes in ``data["classes"]``), by
    `class_probabilities` with the scaler in the weights (``scaler.mean``, ``scaler.std``)."""
    return loaded_classify_inference(load_classifier(checkpoint))


def loaded_classify_inference(loaded: LoadedClassifier) -> Inference:
    """`classify_inference` of an in-memory `LoadedClassifier`."""
    weights, rebuild = model_weights(loaded.model)
    weights["scaler.mean"], weights["scaler.std"] = loaded.mean, loaded.std
    stride = loaded.config.data.stride

    def predict_proba(w: dict, inputs: dict) -> dict[str, jax.Array]:
        model = rebuild(w)
        probs = class_probabilities(model, w["scaler.mean"], w["scaler.std"], inputs["x"], inputs["lengths"], stride)
        return {"probs": probs}

    size = len(loaded.mean)
    inputs = (Input("x", ("B", "T", size), "float32", allow_nan=True), Input("lengths", ("B",), "int32", (1, "T")))
    data = {
        "classes": list(loaded.classes),
        "input_size": size,
        "scaler": {"mean": loaded.mean.tolist(), "std": loaded.std.tolist()},
        "stride": stride,
    }
    functions = {"predict_proba": Function(predict_proba, inputs)}
    source = checkpoint_source(loaded.checkpoint, loaded.meta)
    return Inference("classify", functions, weights, data, loaded.meta["config"], source)


def predict_classifier(
    path: str | Path, xs: np.ndarray, lengths: np.ndarray | None = None
) -> tuple[list[str], np.ndarray]:
    """Class names and probabilities ``[N, C]`` of raw (unscaled) sequences ``xs`` ``[N, T, D]`` (NaN =
    missing) with ``lengths`` ``[N]`` (None: all ``T`` steps), by `class_probabilities` in chunks of
    ``data.eval_batch_size`` (the last one padded: one compilation per sequence length)."""
    return predict_loaded(load_classifier(path), xs, lengths)


def predict_loaded(
    loaded: LoadedClassifier, xs: np.ndarray, lengths: np.ndarray | None = None
) -> tuple[list[str], np.ndarray]:
    """`predict_classifier` of an in-memory `LoadedClassifier`."""
    xs = np.asarray(xs, np.float32)
    if xs.ndim != 3 or xs.shape[2] != len(loaded.mean):
        raise ValueError(f"expected xs [N, T, {len(loaded.mean)}], got shape {xs.shape}")
    lengths = np.full(len(xs), xs.shape[1], np.int32) if lengths is None else np.asarray(lengths, np.int32)
    if lengths.shape != (len(xs),) or lengths.min() < 1 or lengths.max() > xs.shape[1]:
        raise ValueError(f"lengths must be [N] in [1, T={xs.shape[1]}], got {lengths}")
    size, stride = loaded.config.data.eval_batch_size, loaded.config.data.stride
    parts = []
    for start in range(0, len(xs), size):
        chunk_x, chunk_n = xs[start : start + size], lengths[start : start + size]
        missing = size - len(chunk_x)
        chunk_x = np.concatenate([chunk_x, np.zeros((missing, *xs.shape[1:]), np.float32)])
        chunk_n = np.concatenate([chunk_n, np.ones(missing, np.int32)])
        probs = class_probabilities(loaded.model, loaded.mean, loaded.std, chunk_x, chunk_n, stride)
        parts.append(np.asarray(probs)[: size - missing])
    probabilities = np.concatenate(parts)
    return [loaded.classes[i] for i in probabilities.argmax(axis=-1)], probabilities
