"""The classification loss (class-weighted cross-entropy), accuracy, macro-F1, the confusion matrix and its plot."""

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


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """``[C, C]`` int64 counts: row = true class, column = predicted class (scikit-learn's layout)."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}")
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """The fraction of ``y_pred`` equal to ``y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(y_true == y_pred))


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> float:
    """The unweighted mean over classes of ``F1_k = 2 TP / (2 TP + FP + FN)``; a class with no true and no
    predicted case scores 0 (scikit-learn's ``f1_score(average="macro", labels=range(C), zero_division=0)``)."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(matrix).astype(np.float64)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean())


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
