"""`Bidirectional`: a forward and a backward `RNN` over the same sequence, outputs concatenated."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._rnn import RNN


class Bidirectional(eqx.Module):
    """Two layers read the sequence in opposite directions (Schuster & Paliwal 1997).

    ``ys, (carry_fwd, carry_bwd) = layer(xs, lengths=None, carry=None, key=None)`` with ``ys``
    ``[B, T, out_fwd + out_bwd]``, forward features first. The backward layer starts at each sequence's own
    last valid step, and its outputs are aligned with the forward ones (see `recurrax.scan._lengths`); its
    final carry is the state after reading step 0.
    """

    forward: RNN
    backward: RNN

    @property
    def output_size(self) -> int:
        return self.forward.output_size + self.backward.output_size

    def __call__(
        self, xs: Array, lengths: Array | None = None, carry: Any = None, *, key: Array | None = None
    ) -> tuple[Array, tuple[Any, Any]]:
        carry_fwd, carry_bwd = (None, None) if carry is None else carry
        key_fwd, key_bwd = (None, None) if key is None else jax.random.split(key)
        ys_fwd, carry_fwd = self.forward(xs, lengths, carry_fwd, key=key_fwd)
        ys_bwd, carry_bwd = self.backward(xs, lengths, carry_bwd, reverse=True, key=key_bwd)
        return jnp.concatenate([ys_fwd, ys_bwd], axis=-1), (carry_fwd, carry_bwd)

    def outputs(self, xs: Array, lengths: Array | None = None, carry: Any = None, *, key: Array | None = None) -> Array:
        """The outputs of `__call__` without the final carries (`RNN.outputs`: unmasked runs, vendor kernels)."""
        carry_fwd, carry_bwd = (None, None) if carry is None else carry
        key_fwd, key_bwd = (None, None) if key is None else jax.random.split(key)
        ys_fwd = self.forward.outputs(xs, lengths, carry_fwd, key=key_fwd)
        ys_bwd = self.backward.outputs(xs, lengths, carry_bwd, reverse=True, key=key_bwd)
        return jnp.concatenate([ys_fwd, ys_bwd], axis=-1)
