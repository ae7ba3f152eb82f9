"""`sample_paths`: ancestral sampling of a recursive forecaster's joint multi-step predictive distribution.

A recursive `Forecaster` models one step ahead, ``p(y_{t+1} | y_{1:t})``. Feeding its point forecast back
gives only one-step intervals around one path; DeepAR (Salinas et al. 2020) instead samples whole paths:
run the history once, then for ``t = 1 .. H`` draw ``y_t ~ p(. | h_{t-1})`` from the head and feed the
*sample* back, ``h_t = rnn(y_t, h_{t-1})``. Quantiles of the ``S`` paths at each step estimate the multi-step
predictive quantiles, accumulated error included.

The draw at step ``t`` uses ``k_t = split(key, H)[t]`` for all paths at once, noise shape ``[S, B]``:

- ``gaussian``: ``y = mu + sigma z``, ``z = normal(k_t)``, ``sigma = softplus(.) + MIN_SCALE``;
- ``student_t``: ``y = mu + sigma z``, ``z = t(k_t, nu)``, ``nu = 2 + softplus(.)``;
- ``quantile``: inverse-CDF sampling, ``u = uniform(k_t)``, ``y = F^{-1}(u)`` with ``F^{-1}`` the piecewise
  linear interpolation between the head's (sorted) quantiles at its levels, clamped at the outermost ones
  (as `head_quantiles`): the tails beyond the outermost levels are cut off (an atom at each of them), so
  paths are too narrow in the far tails.

Direct and seq2seq forecasters read every step out at once: their per-step quantiles are already the
marginals they were trained for (use ``levels``), and they have no sample to feed back.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...models import MIN_SCALE
from ...scan import last_valid
from ._ensemble import ForecastEnsemble
from ._model import Forecaster

SAMPLED_HEADS = ("gaussian", "student_t", "quantile")


def check_sampling(model: Forecaster | ForecastEnsemble | eqx.Module) -> None:
    """Raise a ValueError unless ``model`` is a recursive forecaster (or ensemble) with a sampled head."""
    kind, head = getattr(model, "kind", None), getattr(model, "head", None)
    if kind != "recursive":
        raise ValueError(
            f"sampled paths need a recursive forecaster, got kind {kind!r}: a direct or seq2seq model reads all "
            "steps out at once, so its per-step quantiles are already its multi-step marginals (use levels)"
        )
    if head not in SAMPLED_HEADS:
        raise ValueError(f"sampled paths need a gaussian, student_t or quantile head, got head {head!r}")


def draw(head: str, raw: Array, key: Array, quantiles: tuple[float, ...]) -> Array:
    """One draw per row of raw head outputs ``[..., P]`` from the head's distribution, shape ``[...]``."""
    shape = raw.shape[:-1]
    if head == "quantile":
        u = jax.random.uniform(key, shape, raw.dtype)
        levels = [float(q) for q in np.sort(np.asarray(quantiles, np.float64))]
        values = jnp.sort(raw, axis=-1)
        out = values[..., 0]
        for k in range(len(levels) - 1):
            weight = jnp.clip((u - levels[k]) / (levels[k + 1] - levels[k]), 0.0, 1.0).astype(raw.dtype)
            out = out + weight * (values[..., k + 1] - values[..., k])
        return out
    mu, sigma = raw[..., 0], jax.nn.softplus(raw[..., 1]) + MIN_SCALE
    if head == "gaussian":
        return mu + sigma * jax.random.normal(key, shape, raw.dtype)
    nu = 2.0 + jax.nn.softplus(raw[..., 2])
    return mu + sigma * jax.random.t(key, nu, shape, raw.dtype)


def sample_paths(
    model: Forecaster | ForecastEnsemble, inputs: Array, lengths: Array, num_samples: int, *, key: Array
) -> Array:
    """``paths = sample_paths(model, inputs, lengths, S, key=key)``: ``S`` sampled paths of the next ``H``
    steps after each history, ``[S, B, H]`` in the model's (scaled) units.

    ``inputs`` ``[B, L]`` scaled histories left-aligned with ``lengths`` ``[B]`` (as the model takes them).
    The history runs once; its state is copied to the ``S B`` paths, which one ``lax.scan`` over the ``H``
    steps advances together (module docstring). A `ForecastEnsemble` of ``M`` recursive members samples ``S``
    paths from each member (member ``m`` with ``split(key, M)[m]``) and pools them, ``[M S, B, H]`` (member
    ``m`` in rows ``m S .. (m + 1) S - 1``): samples of the equal-weight mixture of the members.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = Forecaster(3, 8, kind="recursive", head="gaussian", key=jax.random.key(0))
        >>> sample_paths(model, jnp.ones((2, 5)), jnp.array([5, 3]), 10, key=jax.random.key(1)).shape
        (10, 2, 3)
    """
    check_sampling(model)
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if inputs.ndim != 2 or lengths.shape != inputs.shape[:1]:
        raise ValueError(f"expected inputs [B, L] and lengths [B], got {tuple(inputs.shape)}, {tuple(lengths.shape)}")
    if isinstance(model, ForecastEnsemble):
        keys = jax.random.split(key, model.size)
        run = eqx.filter_vmap(_member_paths, in_axes=(eqx.if_array(0), None, None, None, 0))
        paths = run(model.members, inputs, lengths, num_samples, keys)
        return paths.reshape(-1, *paths.shape[2:])
    return _member_paths(model, inputs, lengths, num_samples, key)


_jit_sample_paths = eqx.filter_jit(sample_paths)


def sample_in_chunks(
    model: Forecaster | ForecastEnsemble, inputs: np.ndarray, lengths: np.ndarray, num_samples: int, *,
    key: Array, budget: int = 2**16,
) -> np.ndarray:  # fmt: skip
    """`sample_paths` (compiled) of NumPy ``inputs`` ``[N, L]``, ``lengths`` ``[N]``, as float64 ``[S, N, H]``,
    in chunks of ``max(1, budget // S)`` rows (chunk ``c`` with ``fold_in(key, c)``)."""
    rows, parts = max(1, budget // num_samples), []
    for index, start in enumerate(range(0, len(inputs), rows)):
        x = jnp.asarray(inputs[start : start + rows], jnp.float32)
        n = jnp.asarray(lengths[start : start + rows], jnp.int32)
        paths = _jit_sample_paths(model, x, n, num_samples, key=jax.random.fold_in(key, index))
        parts.append(np.asarray(paths, np.float64))
    return np.concatenate(parts, axis=-2)


def _member_paths(model: Forecaster, inputs: Array, lengths: Array, num_samples: int, key: Array) -> Array:
    """`sample_paths` of one recursive `Forecaster`, ``[S, B, H]``."""
    batch, paths = inputs.shape[0], num_samples * inputs.shape[0]
    ys, state = model.rnn(inputs[..., None], lengths)
    last = last_valid(ys, lengths)
    first = jnp.tile(model.read_out(last), (num_samples, 1))  # [S B, P], sample-major
    state = jax.tree.map(lambda leaf: jnp.tile(leaf, (1, num_samples) + (1,) * (leaf.ndim - 2)), state)

    def step(carry, step_key):
        state, raw = carry
        value = draw(model.head, raw.reshape(num_samples, batch, -1), step_key, model.quantiles)
        ys, state = model.rnn(value.reshape(paths, 1, 1), state=state)
        return (state, model.read_out(ys[:, 0])), value

    _, values = jax.lax.scan(step, (state, first), jax.random.split(key, model.horizon))
    return jnp.moveaxis(values, 0, -1)
