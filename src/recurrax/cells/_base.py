"""The cell interface: one time step of a recurrent network.

A cell is the body of a scan. The sequence engine (`recurrax.scan`) splits every step in two:

1. ``project_input(xs)``: the part of the step that does not depend on the carry (the input projection
   ``x_t @ W_x^T + b`` and anything else that is a function of ``x_t`` alone). The engine calls it once on the
   whole sequence ``[B, T, D] -> [B, T, G]`` as one large matmul, outside the scan.
2. ``step(carry, xp_t) -> (carry, y_t)``: the recurrence proper, fed the projected input ``xp_t`` of one step
   (``[B, G]``); it holds the recurrent matmul and the gate non-linearities.

``cell(carry, x_t)`` composes the two for a single step, so a cell can also be driven by hand.
Cells never loop over time.

Shapes: B batch, D ``input_size``, H ``hidden_size``, G the width of the projected input (``4H`` for an
LSTM), ``output_size`` the width of ``y_t`` (``H``, or the projection size of an LSTMP).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

Carry = Any


class AbstractCell(eqx.Module):
    """Base of every recurrent cell: ``(carry, x_t) -> (carry, y_t)`` plus ``init_carry``.

    Subclasses set ``input_size`` and ``hidden_size`` and implement `project_input`, `step` and
    `init_carry`. The first leaf of every carry is the hidden state ``h`` ``[B, H_rec]`` (usually
    ``output_size`` wide), the short-term memory that the next step's recurrent matmul reads; variational
    recurrent dropout (`recurrent_mask`, shaped like ``h``) multiplies exactly that input of the recurrent
    matmul.
    """

    input_size: eqx.AbstractVar[int]
    hidden_size: eqx.AbstractVar[int]

    @property
    def output_size(self) -> int:
        """Width of ``y_t``; ``hidden_size`` unless the cell projects its output."""
        return self.hidden_size

    @abc.abstractmethod
    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., G]``: the carry-independent part of a step, for any leading dimensions."""

    @abc.abstractmethod
    def step(self, carry: Carry, xp: Array, recurrent_mask: Array | None = None) -> tuple[Carry, Array]:
        """One recurrence step on projected input ``xp`` ``[B, G]``; returns ``(carry, y_t)``.

        ``recurrent_mask`` (shaped like ``h``, the first carry leaf, or None) multiplies ``h_{t-1}`` where it enters the
        recurrent matmuls (Gal & Ghahramani 2016); the carried state itself is not masked.
        """

    @abc.abstractmethod
    def init_carry(self, batch_size: int, dtype: Any = None) -> Carry:
        """The zero state for a batch of ``batch_size`` sequences."""

    def __call__(self, carry: Carry, x: Array) -> tuple[Carry, Array]:
        """One full step from raw input ``x_t`` ``[B, D]``: ``step(carry, project_input(x_t))``."""
        return self.step(carry, self.project_input(x))


NONLINEARITIES = {"tanh": jnp.tanh, "relu": jax.nn.relu}


def check_sizes(input_size: int, hidden_size: int) -> None:
    """Raise a clear error unless both sizes are positive."""
    if input_size <= 0 or hidden_size <= 0:
        raise ValueError(f"sizes must be positive, got input {input_size}, hidden {hidden_size}")


def check_nonlinearity(name: str) -> str:
    """``name`` when it is a key of `NONLINEARITIES`, else a ValueError listing the options."""
    if name not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {', '.join(repr(n) for n in NONLINEARITIES)}, got {name!r}")
    return name


def check_input_size(cell: AbstractCell, x: Array) -> None:
    """Raise a clear error when the last axis of ``x`` is not the cell's ``input_size``."""
    if x.shape[-1] != cell.input_size:
        raise ValueError(
            f"{type(cell).__name__} expects inputs with {cell.input_size} features in the last axis, "
            f"got shape {tuple(x.shape)}"
        )


def broadcast_to_rank(vector: Array, like: Array) -> Array:
    """A ``[N]`` parameter reshaped to ``[1, ..., 1, N]`` to meet ``like`` without implicit rank promotion."""
    return vector.reshape((1,) * (like.ndim - 1) + vector.shape)


def matmul_t(x: Array, weight: Array, **dot_options: Any) -> Array:
    """``x W^T``: ``x`` ``[..., K]`` and ``weight`` ``[N, K]`` (the torch layout of every weight here) -> ``[..., N]``.

    A single row (one stream's step, as a served model runs it) is computed as ``W x``: XLA:CPU reads W where it
    lies for that, but for ``x W^T`` it copies W transposed on every call in which W is an argument rather
    than a constant (a served artifact's weights; 1 MB at ``[1024, 256]``): a B1 H256 LSTM step, weights as
    arguments, 249 -> 77 µs on the 2-core Xeon. More rows keep ``x W^T``, where that form was no slower.
    ``dot_options`` go to `jnp.matmul` (e.g. ``preferred_element_type``).
    """
    if math.prod(x.shape[:-1]) == 1:
        row = jnp.matmul(weight, x.reshape(-1), **dot_options)
        return row.reshape(*x.shape[:-1], weight.shape[0])
    project = _SEQUENCE_PROJECTION.get()
    if project is not None and x.ndim == 3 and not dot_options:
        return project(x, weight)
    return jnp.matmul(x, weight.T, **dot_options)


_SEQUENCE_PROJECTION: contextvars.ContextVar[Callable[[Array, Array], Array] | None] = contextvars.ContextVar(
    "sequence_projection", default=None
)


@contextlib.contextmanager
def sequence_projection(project: Callable[[Array, Array], Array]) -> Iterator[None]:
    """While tracing inside it, `matmul_t` of a whole sequence (``x`` ``[T, B, K]``, the input projection that
    ``project_input`` computes) is ``project(x, W)``: how `recurrax.scan._native` gives the cells it runs a weight
    gradient on oneDNN's sgemm without each cell knowing about it."""
    token = _SEQUENCE_PROJECTION.set(project)
    try:
        yield
    finally:
        _SEQUENCE_PROJECTION.reset(token)


def masked(h: Array, mask: Array | None) -> Array:
    """``h * mask`` when a recurrent dropout mask is given, else ``h``."""
    return h if mask is None else h * mask


def glorot_uniform(key: Array, shape: tuple[int, int], dtype: Any) -> Array:
    """Glorot/Xavier uniform for a ``[fan_out, fan_in]`` (torch-layout) weight matrix."""
    return jax.nn.initializers.glorot_uniform(in_axis=1, out_axis=0)(key, shape, dtype)


def orthogonal_blocks(key: Array, num_blocks: int, rows: int, cols: int, dtype: Any) -> Array:
    """``num_blocks`` independent orthogonal ``[rows, cols]`` blocks stacked into ``[num_blocks * rows, cols]``.

    One orthogonal block per gate keeps each gate's recurrent map norm-preserving (Saxe et al. 2014).
    The QR factorisation runs in float32 and is cast afterwards, so bf16 parameters initialise too.
    """
    init = jax.nn.initializers.orthogonal()
    keys = jax.random.split(key, num_blocks)
    blocks = [init(k, (rows, cols), jnp.float32) for k in keys]
    return jnp.concatenate(blocks, axis=0).astype(dtype)


def uniform_bias(key: Array, size: int, fan_in: int, dtype: Any) -> Array:
    """PyTorch's default bias init, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; used where zero is wrong."""
    bound = 1.0 / fan_in**0.5
    return jax.random.uniform(key, (size,), dtype, -bound, bound)


def default_dtype(dtype: Any) -> Any:
    """``float32`` unless a dtype is asked for."""
    return jnp.float32 if dtype is None else dtype
