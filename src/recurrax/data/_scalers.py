"""Per-series affine scaling ``z = (y - loc) / scale``: `Scaler` (NumPy, fitted on whole series and saved with
a model), `window_stats` (JAX: the same statistics of each padded row's valid values, for scaling every
window by its own input) and `scale_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

ScalerName = Literal["standard", "robust", "meanabs", "last", "none"]


@dataclass
class Scaler:
    """Per-series affine scaling ``z = (y - loc) / scale`` with ``loc``, ``scale`` ``[N]`` fitted on history.

    - ``standard``: mean and standard deviation; ``robust``: median and interquartile range;
    - ``meanabs``: ``loc = 0``, ``scale = mean |y|`` (as DeepAR's mean scaling, Salinas et al. 2020);
    - ``last``: ``loc = 0``, ``scale = |y_n|``, the last value (the level that ES-RNN divides by, Smyl 2020:
      forecasts become ratios to the last value, and 1 is the naive forecast);
    - ``none``: ``loc = 0``, ``scale = 1``. A zero scale is replaced by 1.
    """

    loc: np.ndarray
    scale: np.ndarray
    method: str = "standard"

    @classmethod
    def fit(cls, values: Sequence[np.ndarray], method: ScalerName = "standard") -> Scaler:
        if method == "standard":
            loc = np.array([v.mean() for v in values])
            scale = np.array([v.std() for v in values])
        elif method == "robust":
            loc = np.array([np.median(v) for v in values])
            scale = np.array([np.subtract(*np.percentile(v, [75, 25])) for v in values])
        elif method == "meanabs":
            loc = np.zeros(len(values))
            scale = np.array([np.abs(v).mean() for v in values])
        elif method == "last":
            loc = np.zeros(len(values))
            scale = np.array([abs(v[-1]) for v in values])
        elif method == "none":
            loc, scale = np.zeros(len(values)), np.ones(len(values))
        else:
            raise ValueError(f"unknown scaler {method!r}; expected standard, robust, meanabs, last or none")
        return cls(loc, np.where(scale > 0, scale, 1.0), method)

    def transform(self, values: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [(v - m) / s for v, m, s in zip(values, self.loc, self.scale)]

    def inverse(self, scaled: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
        """Scaled values ``[N, ...]`` (rows ``index`` of the fitted series when given) back to data units."""
        loc, scale = (self.loc, self.scale) if index is None else (self.loc[index], self.scale[index])
        shape = (-1,) + (1,) * (np.ndim(scaled) - 1)
        return np.asarray(scaled) * scale.reshape(shape) + loc.reshape(shape)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "loc": self.loc.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scaler:
        return cls(np.asarray(data["loc"], np.float64), np.asarray(data["scale"], np.float64), data["method"])


def window_stats(values: jax.Array, count: jax.Array, method: str) -> tuple[jax.Array, jax.Array]:
    """``loc``, ``scale`` ``[B]`` of each row's first ``count`` values, as `Scaler.fit` ``method`` (a zero
    scale becomes 1; ``robust`` uses NumPy's linear-interpolation percentiles)."""
    valid = jnp.arange(values.shape[1]).reshape(1, -1) < count.reshape(-1, 1)
    n = count.astype(values.dtype)
    zeros = jnp.zeros_like(n)
    if method == "none":
        return zeros, jnp.ones_like(n)
    if method == "meanabs":
        loc, scale = zeros, jnp.sum(jnp.where(valid, jnp.abs(values), 0.0), axis=1) / n
    elif method == "last":
        loc, scale = zeros, jnp.abs(jnp.take_along_axis(values, (count - 1).reshape(-1, 1), axis=1)[:, 0])
    elif method == "standard":
        loc = jnp.sum(jnp.where(valid, values, 0.0), axis=1) / n
        scale = jnp.sqrt(jnp.sum(jnp.where(valid, (values - loc[:, None]) ** 2, 0.0), axis=1) / n)
    elif method == "robust":
        ordered = jnp.sort(jnp.where(valid, values, jnp.inf), axis=1)

        def percentile(p: float) -> jax.Array:
            position = p * (n - 1)
            lo = jnp.floor(position)
            hi = jnp.minimum(lo + 1, n - 1)
            at_lo = jnp.take_along_axis(ordered, lo.astype(jnp.int32)[:, None], axis=1)[:, 0]
            at_hi = jnp.take_along_axis(ordered, hi.astype(jnp.int32)[:, None], axis=1)[:, 0]
            return at_lo + (position - lo) * (at_hi - at_lo)

        loc, scale = percentile(0.5), percentile(0.75) - percentile(0.25)
    else:
        raise ValueError(f"unknown scaler {method!r}; expected standard, robust, meanabs, last or none")
    return loc, jnp.where(scale > 0, scale, 1.0)


def scale_rows(values: np.ndarray, lengths: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(values - loc) / scale`` per row; entries at or after ``lengths`` stay 0 (padding)."""
    shape = (-1,) + (1,) * (values.ndim - 1)
    scaled = (values - loc.reshape(shape)) / scale.reshape(shape)
    valid = np.arange(values.shape[1]).reshape(1, -1) < lengths.reshape(-1, 1)
    return np.where(valid, scaled, 0.0)
