"""The classification loss (class-weighted cross-entropy) and the confusion-matrix plot; accuracy, macro-F1
and the confusion matrix live in `recurrax.metrics` (re-exported here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ...metrics import accuracy as accuracy
from ...metrics import confusion_matrix as confusion_matrix
from ...metrics import macro_f1 as macro_f1


def weighted_cross_entropy(logits: Array, labels: Array, class_weights: Array) -> Array:
    """``sum_i w[y_i] * nll_i / sum_i w[y_i]`` (torch's ``CrossEntropyLoss(weight=w)``, mean reduction).

    ``logits`` ``[B, C]``, ``labels`` ``[B]`` ints, ``class_weights`` ``[C]`` (all ones: the plain mean).
    """
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), labels[:, None], axis=1)[:, 0]
    weights = class_weights[labels]
    return jnp.sum(weights * nll) / jnp.maximum(jnp.sum(weights), 1e-12)


def classify_loss(model: Any, batch: dict[str, Array], carry: Any, key: Array) -> tuple[Array, tuple[Any, dict]]:
    """`fit`'s loss: ``batch`` holds ``xs`` ``[B, T, D]``, ``lengths`` ``[B]``, ``labels`` ``[B]`` and
    ``class_weights`` ``[C]``; aux: the batch ``accuracy``."""
    logits = model(batch["xs"], batch["lengths"], key=key)
    loss = weighted_cross_entropy(logits, batch["labels"], batch["class_weights"])
    accuracy = jnp.mean((jnp.argmax(logits, axis=-1) == batch["labels"]).astype(jnp.float32))
    return loss, (carry, {"accuracy": accuracy})


def write_confusion_png(matrix: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> None:
    """The confusion matrix as an annotated heat map (rows: true class, columns: predicted)."""
    size = max(4.0, 0.5 * len(classes) + 2)
    figure = Figure(figsize=(size, size), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(matrix, cmap="Blues")
    ticks = range(len(classes))
    axes.set_xticks(ticks, [str(c) for c in classes], rotation=45, ha="right")
    axes.set_yticks(ticks, [str(c) for c in classes])
    for (row, col), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        axes.text(col, row, str(count), ha="center", va="center", color=color, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path)
