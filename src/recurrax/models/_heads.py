"""Distribution heads: raw outputs per step -> a distribution's parameters, its negative log-likelihood or
pinball loss, its point forecast and its quantiles (prediction intervals). The forecasters read their outputs
through them (`recurrax.tasks.forecast`); any model with a linear read-out of ``P`` = `num_params` outputs can.

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
from scipy.special import ndtri, stdtrit

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
    q = jnp.asarray(quantiles, raw.dtype).reshape((1,) * (raw.ndim - 1) + (-1,))
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
        return mu + sigma * ndtri(levels)
    nu = 2.0 + np.logaddexp(0.0, raw[..., 2:3].astype(np.float64))
    return mu + sigma * stdtrit(nu, levels)


def raw_quantiles(head: str, raw: jax.Array, levels: tuple[float, ...], quantiles: tuple[float, ...]) -> jax.Array:
    """Quantiles ``[B, H, K]`` at ``levels`` of raw head outputs ``[B, H, P]`` in scaled units (as
    `head_quantiles`): a gaussian head ``mu + sigma * Phi^{-1}(level)``, a
    quantile head its sorted outputs interpolated linearly at ``levels`` (clamped at the outermost), a
    student_t head ``mu + sigma * t_nu^{-1}(level)`` (`t_quantile`)."""
    if head == "gaussian":
        sigma = jax.nn.softplus(raw[..., 1:2]) + MIN_SCALE
        return raw[..., :1] + sigma * jnp.asarray(ndtri(levels), raw.dtype).reshape(
            (1,) * (raw.ndim - 1) + (-1,)
        )
    if head == "student_t":
        sigma = jax.nn.softplus(raw[..., 1]) + MIN_SCALE
        nu = 2.0 + jax.nn.softplus(raw[..., 2])
        return jnp.stack([raw[..., 0] + sigma * t_quantile(level, nu) for level in levels], axis=-1)
    own = jnp.sort(raw, axis=-1)
    return own @ jnp.asarray(interpolation_matrix(levels, quantiles), raw.dtype)


def interpolation_matrix(levels: tuple[float, ...], quantiles: tuple[float, ...]) -> np.ndarray:
    """``M`` ``[P, K]`` with ``values @ M == np.interp(levels, quantiles, values)`` for any ``values`` ``[P]``
    (`np.interp` is linear in its ``fp``, so column ``k`` holds the weights of level ``k``)."""
    basis = np.eye(len(quantiles))
    return np.stack([np.interp(levels, quantiles, row) for row in basis]).astype(np.float32)


def t_quantile(level: float, nu: jax.Array, iterations: int = 40) -> jax.Array:
    """The ``level`` quantile of Student's t with ``nu >= 2`` degrees of freedom (any shape), by bisection on
    ``P(T > x) = I_{nu / (nu + x^2)}(nu / 2, 1 / 2) / 2`` (the regularised incomplete beta function).

    The bracket is ``[0, t_2]``, ``t_2`` the quantile at ``nu = 2`` (closed form ``(2q - 1) / sqrt(2q(1 - q))``),
    which bounds it for every ``nu >= 2``; 40 halvings leave the float32 ``betainc`` as the error (about 2e-5
    relative against `scipy.stats.t.ppf`). JAX has no t quantile function, hence this.
    """
    upper = max(level, 1.0 - level)
    bound = (2 * upper - 1) / np.sqrt(2 * upper * (1 - upper)) * 1.01 + 1e-3

    def halve(_: int, bracket: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        lo, hi, dof = bracket  # dof rides in the carry: jax2onnx's Loop takes no traced closure
        mid = 0.5 * (lo + hi)
        tail = 0.5 * jax.scipy.special.betainc(dof / 2, jnp.full_like(dof, 0.5), dof / (dof + mid * mid))
        above = tail > 1.0 - upper  # the quantile lies above mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid), dof

    lo, hi, _ = jax.lax.fori_loop(0, iterations, halve, (jnp.zeros_like(nu), jnp.full_like(nu, bound), nu))
    return 0.5 * (lo + hi) if level >= 0.5 else -0.5 * (lo + hi)
