"""Training-time augmentation of padded variable-length sequences: random crop, time warping, magnitude
scaling and jitter (Le Guennec et al. 2016 "window slicing"; Um et al. 2017 "time warping", "scaling",
"jittering"), applied inside the loss with the step's key, so a run stays deterministic in its seed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...scan import valid_mask

WARP_KNOTS = 4


@dataclass(frozen=True)
class Augmentation:
    """What `augment` does; every option at its default is off.

    - ``crop``: keep a window of ``max(1, round(crop * n))`` consecutive valid steps at a uniform random
      offset, moved to the start (``1.0``: off).
    - ``warp``: resample the (cropped) window at a monotone piecewise-linear time map with ``WARP_KNOTS``
      equal segments whose speeds are ``exp(warp * z)``, ``z ~ N(0, 1)``; the first and last steps stay put
      (``0``: off). Values between steps are linear interpolations.
    - ``scale``: multiply each sequence's feature ``d`` by ``1 + scale * z`` (``0``: off).
    - ``noise``: add ``noise * z`` to every valid value (``0``: off); inputs are standardised, so these are
      in standard deviations.
    """

    crop: float = 1.0
    warp: float = 0.0
    scale: float = 0.0
    noise: float = 0.0

    def __post_init__(self):
        if not 0 < self.crop <= 1:
            raise ValueError(f"crop must be in (0, 1], got {self.crop}")
        for name in ("warp", "scale", "noise"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def active(self) -> bool:
        return self.crop < 1 or self.warp > 0 or self.scale > 0 or self.noise > 0


def augment(xs: Array, lengths: Array, key: Array, options: Augmentation) -> tuple[Array, Array]:
    """Augmented ``xs`` ``[B, T, D]`` (zero past the new lengths) and the new ``lengths`` ``[B]``.

    Output step ``t < m`` (``m`` the window length) reads the input at ``start + w(t)`` with ``w`` the warp map
    of ``[0, m - 1]`` onto itself (the identity without ``warp``), by linear interpolation; then scaling and
    jitter. Deterministic in ``key``; shapes never change.
    """
    batch, steps, features = xs.shape
    k_crop, k_warp, k_scale, k_noise = jax.random.split(key, 4)
    lengths = lengths.astype(jnp.int32)
    keep = lengths
    start = jnp.zeros_like(lengths)
    if options.crop < 1:
        keep = jnp.maximum(jnp.round(options.crop * lengths.astype(jnp.float32)).astype(jnp.int32), 1)
        slack = (lengths - keep + 1).astype(jnp.float32)
        start = jnp.floor(jax.random.uniform(k_crop, (batch,)) * slack).astype(jnp.int32)
    t = jnp.arange(steps, dtype=jnp.float32).reshape(1, -1)
    span = jnp.maximum(keep - 1, 0).astype(jnp.float32).reshape(-1, 1)
    offset = jnp.minimum(t, span)
    if options.warp > 0:
        speeds = jnp.exp(options.warp * jax.random.normal(k_warp, (batch, WARP_KNOTS)))
        ends = jnp.cumsum(speeds, axis=1) / jnp.sum(speeds, axis=1, keepdims=True)
        knots_out = jnp.concatenate([jnp.zeros((batch, 1)), ends], axis=1)  # [B, K+1], 0 .. 1
        knots_in = jnp.linspace(0.0, 1.0, WARP_KNOTS + 1)
        fraction = offset / jnp.maximum(span, 1.0)
        warped = jax.vmap(lambda u, k: jnp.interp(u, knots_in, k))(fraction, knots_out)
        offset = jnp.clip(warped * span, 0.0, span)
    position = start.astype(jnp.float32).reshape(-1, 1) + offset  # [B, T]
    low = jnp.floor(position)
    weight = (position - low)[:, :, None]
    low = low.astype(jnp.int32)
    high = jnp.minimum(low + 1, steps - 1)
    gather = jax.vmap(lambda x, i: x[i])
    out = gather(xs, low) * (1.0 - weight) + gather(xs, high) * weight
    if options.scale > 0:
        out = out * (1.0 + options.scale * jax.random.normal(k_scale, (batch, 1, features)))
    if options.noise > 0:
        out = out + options.noise * jax.random.normal(k_noise, out.shape)
    mask = valid_mask(keep, steps).astype(out.dtype)[:, :, None]
    return (out * mask).astype(xs.dtype), keep


@functools.cache
def augmented_loss(loss_fn: Callable[..., Any], options: Augmentation) -> Callable[..., Any]:
    """``loss_fn(model, batch, carry, key)`` on a batch whose ``xs`` and ``lengths`` went through `augment`
    with ``fold_in(key, 1)`` (labels and class weights untouched; the model gets ``fold_in(key, 0)``); with
    ``key`` None (evaluation) or nothing active it is ``loss_fn`` itself."""
    if not options.active:
        return loss_fn

    def loss(model: Any, batch: dict[str, Array], carry: Any, key: Array | None):
        if key is None:
            return loss_fn(model, batch, carry, key)
        xs, lengths = augment(batch["xs"], batch["lengths"], jax.random.fold_in(key, 1), options)
        return loss_fn(model, {**batch, "xs": xs, "lengths": lengths}, carry, jax.random.fold_in(key, 0))

    return loss
