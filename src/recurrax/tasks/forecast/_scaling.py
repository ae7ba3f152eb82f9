"""Window scaling: each window divided by statistics of its own valid input (``scale_scope = "window"``)."""

from __future__ import annotations

import numpy as np

from ._data import Scaler


def window_stats(inputs: np.ndarray, lengths: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """``loc``, ``scale`` ``[W]`` of each window's first ``lengths[w]`` inputs, as `Scaler` ``method``."""
    rows = [row[:count] for row, count in zip(inputs, lengths)]
    fitted = Scaler.fit(rows, method)
    return fitted.loc, fitted.scale


def scale_rows(values: np.ndarray, lengths: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(values - loc) / scale`` per row; entries at or after ``lengths`` stay 0 (padding)."""
    shape = (-1,) + (1,) * (values.ndim - 1)
    scaled = (values - loc.reshape(shape)) / scale.reshape(shape)
    valid = np.arange(values.shape[1]).reshape(1, -1) < lengths.reshape(-1, 1)
    return np.where(valid, scaled, 0.0)
