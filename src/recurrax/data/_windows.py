"""Windows of univariate series for sequence models: every (input, target) pair of a series (`make_windows`,
`Windows`), and the last input of each series or padded row to predict from (`last_inputs` in NumPy,
`last_values` in JAX: the same rows).

Inputs are left-aligned: a window's ``lengths[w]`` valid steps come first, zeros after (the `recurrax.scan`
``lengths`` convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass
class Windows:
    """Training windows: ``inputs`` ``[W, L]`` (the last ``lengths[w] <= L`` history values, left-aligned,
    zero after ``lengths``), ``lengths`` ``[W]``, ``targets`` ``[W, H]`` (the next ``H`` values),
    ``series`` ``[W]`` (the index of the series each window comes from) and, with covariates, ``past``
    ``[W, L, K]`` (those of the input steps, aligned as ``inputs``) and ``future`` ``[W, H, K]`` (those of
    the target steps)."""

    inputs: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    series: np.ndarray
    past: np.ndarray | None = None
    future: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lengths)


def left_aligned(history: np.ndarray, input_size: int) -> tuple[np.ndarray, int]:
    """The last ``input_size`` values of ``history`` ``[n, ...]`` left-aligned in a zero row ``[input_size, ...]``,
    and their count."""
    tail = history[-input_size:]
    row = np.zeros((input_size, *history.shape[1:]))
    row[: len(tail)] = tail
    return row, len(tail)


def make_windows(
    values: Sequence[np.ndarray],
    input_size: int,
    horizon: int,
    *,
    stride: int = 1,
    min_input: int = 1,
    max_windows: int | None = None,
    covariates: Sequence[np.ndarray] | None = None,
) -> Windows:
    """Every window of each series whose ``horizon`` targets are observed, at forecast origins ``t`` (the
    first target index) from ``n - horizon`` backwards every ``stride`` steps while ``t >= min_input``, at
    most ``max_windows`` of them per series (the latest); the input is ``y[max(0, t - input_size):t]``
    (shorter near the start: see `Windows`). ``covariates`` (``[n_i, K]`` per series) give the windows'
    ``past`` and ``future``. The windows of a series are consecutive, latest first."""
    if input_size < 1 or horizon < 1 or stride < 1 or min_input < 1 or (max_windows is not None and max_windows < 1):
        raise ValueError("input_size, horizon, stride, min_input and max_windows must be >= 1")
    if covariates is not None:
        check_covariates(values, covariates)
    inputs, lengths, targets, series, past, future = [], [], [], [], [], []
    for index, y in enumerate(values):
        for t in list(range(y.size - horizon, min_input - 1, -stride))[:max_windows]:
            row, count = left_aligned(y[:t], input_size)
            inputs.append(row)
            lengths.append(count)
            targets.append(y[t : t + horizon])
            series.append(index)
            if covariates is not None:
                past.append(left_aligned(covariates[index][:t], input_size)[0])
                future.append(covariates[index][t : t + horizon])
    if not inputs:
        raise ValueError(f"no series is long enough for a window (min_input={min_input}, horizon={horizon})")
    extra = {} if covariates is None else {"past": np.stack(past), "future": np.stack(future)}
    return Windows(np.stack(inputs), np.asarray(lengths), np.stack(targets), np.asarray(series), **extra)


def check_covariates(values: Sequence[np.ndarray], covariates: Sequence[np.ndarray]) -> None:
    """A clear error unless ``covariates`` are ``N`` finite arrays ``[n_i, K]`` (one ``K``) for ``values``."""
    if len(covariates) != len(values):
        raise ValueError(f"got covariates for {len(covariates)} series and {len(values)} series")
    widths = {np.shape(c)[-1] if np.ndim(c) == 2 else -1 for c in covariates}
    for i, (y, c) in enumerate(zip(values, covariates)):
        if np.ndim(c) != 2 or len(c) != len(y) or len(widths) != 1:
            raise ValueError(f"series {i}: covariates must be [n_i, K] with one K for all, got shape {np.shape(c)} "
                             f"for {len(y)} values")  # fmt: skip
        if not np.isfinite(c).all():
            raise ValueError(f"series {i}: covariates hold NaN or inf")


def last_inputs(values: Sequence[np.ndarray], input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The inputs ``[N, L]`` and lengths ``[N]`` to forecast after the end of each series."""
    rows = [left_aligned(y, input_size) for y in values]
    return np.stack([r for r, _ in rows]), np.asarray([c for _, c in rows])


def last_values(history: jax.Array, lengths: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
    """The last ``min(n, size)`` of each row's ``n = lengths`` steps of ``history`` ``[B, T, ...]`` left-aligned
    in ``[B, size, ...]`` (zeros after), and their counts ``[B]`` (`last_inputs` for
    padded rows; a trailing axis, e.g. ``K`` covariates, is carried along)."""
    count = jnp.minimum(lengths, size)
    batch, trailing = history.shape[0], history.shape[2:]
    ones = (1,) * len(trailing)
    index = (lengths - count).reshape(-1, 1, *ones) + jnp.arange(size).reshape(1, -1, *ones)
    padded = jnp.concatenate([history, jnp.zeros((batch, size, *trailing), history.dtype)], axis=1)
    values = jnp.take_along_axis(padded, jnp.broadcast_to(index, (batch, size, *trailing)), axis=1)
    valid = jnp.arange(size).reshape(1, -1, *ones) < count.reshape(-1, 1, *ones)
    return jnp.where(valid, values, 0.0), count
