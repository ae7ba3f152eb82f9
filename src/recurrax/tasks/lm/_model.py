"""`LanguageModel`: token embedding -> recurrent stack of any cell -> linear read-out over the vocabulary."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...models import RNNStack
from ...scan import check_rate, dropout


class LanguageModel(eqx.Module):
    """A recurrent language model (Mikolov et al. 2010; the regularised LSTM of Zaremba et al. 2014).

    ``logits, state = model(tokens, state=None, key=None)``::

        e_t = E[x_t]                                  E: [V, embed_size]
        h_t = RNNStack(dropout(e))_t                  any registered cell, num_layers layers
        logits_t = dropout(h_t) @ W^T + b             W: [V, H], or W = E when tie_weights (Press & Wolf 2017)

    - ``tokens`` ``[B, T]`` int ids; ``logits`` ``[B, T, V]``.
    - ``state``: the stack's state (every carry leaf ``[L, B, ...]``, e.g. ``(h_n, c_n)`` for an LSTM); None
      starts from `init_state`. Pass the returned state back in to continue the same streams.
    - ``key``: training mode — dropout (rate ``dropout``) on the embeddings, between layers and before the
      read-out (Zaremba et al.'s non-recurrent connections), plus any ``recurrent_dropout`` / ``zoneout``
      given as options. Without a key the model is deterministic.

    ``tie_weights`` shares the embedding with the read-out, which needs ``embed_size`` equal to the stack's
    output size (``hidden_size``, or ``proj_size`` for an LSTMP). Extra keyword options go to `RNNStack`
    (``recurrent_dropout``, ``zoneout``, ``unroll``, ``fused``) and to its cells (e.g. ``proj_size``).
    Embedding and read-out start ``U(-0.1, 0.1)``, the read-out bias at zero.

    Weights: ``embedding`` ``E`` ``[V, embed_size]``; ``rnn`` the `RNNStack`; ``head_weight`` ``W`` ``[V, H]``
    (``H`` the stack's output size; None when ``tie_weights``, which reads out with ``E``); ``head_bias``
    ``b`` ``[V]``.

    Args:
        vocab_size: vocabulary size ``V`` (at least 1).
        embed_size: embedding width (keyword-only, required).
        hidden_size: hidden units per layer (keyword-only, required).
        num_layers: stacked recurrent layers ``L``, default 1.
        cell: registered cell name, default ``"lstm"``.
        dropout: dropout rate on the embeddings, between layers and before the read-out, default 0.0.
        tie_weights: read out with the embedding matrix (needs ``embed_size`` = output size), default False.
        key: PRNG key for the initial weights (required).
        **options: further `RNNStack` / cell options (``recurrent_dropout``, ``zoneout``, ``proj_size``, ...).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = LanguageModel(50, embed_size=16, hidden_size=32, num_layers=2, key=jax.random.key(0))
        >>> logits, (h, c) = model(jnp.zeros((4, 10), jnp.int32))
        >>> logits.shape, h.shape
        ((4, 10, 50), (2, 4, 32))
    """

    embedding: Array
    rnn: RNNStack
    head_weight: Array | None
    head_bias: Array
    vocab_size: int = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    tie_weights: bool = eqx.field(static=True)

    def __init__(
        self,
        vocab_size: int,
        *,
        embed_size: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        tie_weights: bool = False,
        key: Array,
        **options: Any,
    ):
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        k_embed, k_rnn, k_head = jax.random.split(key, 3)
        self.vocab_size, self.dropout, self.tie_weights = vocab_size, check_rate("dropout", dropout), tie_weights
        self.embedding = jax.random.uniform(k_embed, (vocab_size, embed_size), jnp.float32, -0.1, 0.1)
        self.rnn = RNNStack(embed_size, hidden_size, num_layers, dropout=dropout, cell=cell, key=k_rnn, **options)
        out = self.rnn.output_size
        if tie_weights and embed_size != out:
            raise ValueError(
                f"tie_weights needs embed_size == the recurrent stack's output size, got embed_size={embed_size} "
                f"and output size {out} (hidden_size, or proj_size with a projection)"
            )
        head = None if tie_weights else jax.random.uniform(k_head, (vocab_size, out), jnp.float32, -0.1, 0.1)
        self.head_weight = head
        self.head_bias = jnp.zeros((vocab_size,), jnp.float32)

    def init_state(self, batch_size: int) -> Any:
        """The zero state for ``batch_size`` streams (every carry leaf ``[L, B, ...]``)."""
        carries = [layer.cell.init_carry(batch_size) for layer in self.rnn.layers]
        return jax.tree.map(lambda *leaves: jnp.stack(leaves), *carries)

    def __call__(self, tokens: Array, state: Any = None, key: Array | None = None) -> tuple[Array, Any]:
        if tokens.ndim != 2:
            raise ValueError(f"expected token ids [B, T], got shape {tuple(tokens.shape)}")
        k_in, k_rnn, k_out = (None, None, None) if key is None else jax.random.split(key, 3)
        xs = dropout(self.embedding[tokens], self.dropout, k_in)
        ys, state = self.rnn(xs, state=state, key=k_rnn)
        ys = dropout(ys, self.dropout, k_out)
        weight = self.embedding if self.head_weight is None else self.head_weight
        logits = ys @ weight.T + self.head_bias.reshape(1, 1, -1)
        return logits, state


def reset_state(state: Any, reset: Array, zero: Any) -> Any:
    """``state`` with the streams flagged in ``reset`` (``[B]`` bool) set to ``zero`` (leaves ``[L, B, ...]``)."""

    def pick(leaf: Array, zero_leaf: Array) -> Array:
        flags = reset.reshape((1, -1) + (1,) * (leaf.ndim - 2))
        return jnp.where(flags, zero_leaf, leaf)

    return jax.tree.map(pick, state, zero)
