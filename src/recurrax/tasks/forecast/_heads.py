"""Output heads of the forecasters: the raw outputs per step -> a distribution's parameters, its negative
log-likelihood or pinball loss, and its quantiles (for prediction intervals).

Raw outputs ``[..., P]`` per forecast step, with ``P`` = `num_params`:

- ``point``: ``mu`` (loss: `point_loss`, mean absolute error by default, which suits sMAPE/MASE-type scores);
- ``gaussian``: ``mu``, ``sigma = softplus(.) + 1e-3`` (loss: Gaussian NLL);
- ``student_t``: ``mu``, ``sigma``, ``nu = 2 + softplus(.)`` (loss: Student-t NLL, Salinas et al. 2020);
- ``quantile``: one output per level of ``quantiles``, sorted (loss: mean pinball loss, Wen et al. 2017).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
from jaxtyping import Array

from ...cells._base import broadcast_to_rank

HEADS = ("point", "gaussian", "student_t", "quantile")
POINT_LOSSES = ("mae", "mse", "smape")
MIN_SCALE = 1e-3


def num_params(head: str, quantiles: tuple[float, ...]) -> int:
    sizes = {"point": 1, "gaussian": 2, "student_t": 3, "quantile": len(quantiles)}
    if head not in sizes:
        raise ValueError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")
    return sizes[head]


def head_loss(head: str, raw: Array, y: Array, quantiles: tuple[float, ...]) -> Array:
    """The loss of raw outputs ``[..., P]`` for each target ``[...]`` (scaled units), shape ``[...]``."""
    mu = raw[..., 0]
    if head == "point":
        return jnp.abs(y - mu)
    sigma = jax.nn.softplus(raw[..., 1]) + MIN_SCALE
    z = (y - mu) / sigma
    if head == "gaussian":
        return 0.5 * z**2 + jnp.log(sigma) + 0.5 * jnp.log(2 * jnp.pi)
    if head == "student_t":
        nu = 2.0 + jax.nn.softplus(raw[..., 2])
        log_norm = jsp.gammaln((nu + 1) / 2) - jsp.gammaln(nu / 2) - 0.5 * jnp.log(nu * jnp.pi) - jnp.log(sigma)
        return -(log_norm - (nu + 1) / 2 * jnp.log1p(z**2 / nu))
    q = broadcast_to_rank(jnp.asarray(quantiles, raw.dtype), raw)
    diff = y[..., None] - jnp.sort(raw, axis=-1)
    return jnp.mean(jnp.maximum(q * diff, (q - 1) * diff), axis=-1)


def point_loss(name: str, mu: Array, y: Array, loc: Array, scale: Array) -> Array:
    """The loss of point forecasts ``mu`` for targets ``y`` (both scaled, ``[B, ...]``; ``loc``, ``scale``
    ``[B]`` map them back to data units, ``y_d = y scale + loc``), shape ``[B, ...]``:

    - ``mae``: ``|y - mu|``; ``mse``: ``(y - mu)^2`` (scaled units);
    - ``smape``: the M3 sMAPE term in data units as a fraction, ``2 |y_d - mu_d| / (|y_d| + |mu_d|)`` (0 where
      both are 0), the loss N-BEATS trains on (Oreshkin et al. 2020): the score itself, whatever the scaling.
    """
    if name == "mae":
        return jnp.abs(y - mu)
    if name == "mse":
        return (y - mu) ** 2
    if name != "smape":
        raise ValueError(f"unknown point loss {name!r}; expected one of {', '.join(POINT_LOSSES)}")
    rows = (-1,) + (1,) * (y.ndim - 1)
    loc, scale = loc.reshape(rows), scale.reshape(rows)
    denominator = jnp.abs(y * scale + loc) + jnp.abs(mu * scale + loc)
    positive = denominator > 0
    return jnp.where(positive, 2 * scale * jnp.abs(y - mu) / jnp.where(positive, denominator, 1.0), 0.0)


def point_forecast(head: str, raw: Array, quantiles: tuple[float, ...]) -> Array:
    """The point forecast ``[...]``: ``mu``, or the median quantile (the level nearest 0.5)."""
    if head == "quantile":
        return jnp.sort(raw, axis=-1)[..., int(np.argmin(np.abs(np.asarray(quantiles) - 0.5)))]
    return raw[..., 0]


def head_quantiles(head: str, raw: np.ndarray, levels: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """Quantiles ``[..., K]`` of the predictive distribution at ``levels`` ``[K]`` (scaled units).

    ``quantile`` heads interpolate linearly between their own levels (clamped at the outermost);
    ``point`` heads have no interval and raise.
    """
    from scipy import stats

    levels = np.asarray(levels, np.float64)
    mu = raw[..., :1].astype(np.float64)
    if head == "point":
        raise ValueError("a point head gives no prediction intervals; use a gaussian, student_t or quantile head")
    if head == "quantile":
        own = np.sort(raw, axis=-1)
        flat = own.reshape(-1, own.shape[-1])
        out = np.stack([np.interp(levels, quantiles, row) for row in flat])
        return out.reshape(own.shape[:-1] + (levels.size,))
    sigma = np.logaddexp(0.0, raw[..., 1:2].astype(np.float64)) + MIN_SCALE
    if head == "gaussian":
        return mu + sigma * stats.norm.ppf(levels)
    nu = 2.0 + np.logaddexp(0.0, raw[..., 2:3].astype(np.float64))
    return mu + sigma * stats.t.ppf(levels, nu)
