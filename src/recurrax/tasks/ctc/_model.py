"""`CTCRecognizer` (recurrent stack -> linear read-out over the labels and the blank) and the CTC loss."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array

from ...cells import glorot_uniform
from ...models import RNNStack
from ...scan import check_rate, dropout, valid_mask


class CTCRecognizer(eqx.Module):
    """A recurrent frame labeller for CTC (Graves et al. 2006): per-frame logits over ``K`` labels, label 0
    being the blank.

    ``logits = model(xs, lengths=None, key=None)``: ``xs`` ``[B, T, D]``, ``lengths`` ``[B]`` ints (None: all
    ``T`` steps), ``logits`` ``[B, T, K]``. With ``y_t`` ``[B, T, H']`` the stack's outputs (``H' = 2H``
    bidirectional, as in Graves & Schmidhuber 2009's offline handwriting recogniser)::

        logits_t = dropout(y_t) @ W_out^T + b_out

    Steps past a sequence's length hold the read-out of zeros (the stack zeroes its outputs there); the CTC
    loss and the decoders ignore them. ``cell`` is any registered cell (`RNNStack`); ``key`` turns on dropout
    (training mode).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = CTCRecognizer(3, 5, hidden_size=8, bidirectional=True, key=jax.random.key(0))
        >>> model(jnp.ones((2, 7, 3)), lengths=jnp.array([7, 4])).shape
        (2, 7, 5)
    """

    rnn: RNNStack
    head_weight: Array
    head_bias: Array
    num_labels: int = eqx.field(static=True)
    dropout: float = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        num_labels: int,
        *,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        cell: str = "lstm",
        key: Array,
        **options: Any,
    ):
        if num_labels < 2:
            raise ValueError(f"num_labels must be >= 2 (the blank and one label), got {num_labels}")
        k_rnn, k_head = jax.random.split(key)
        self.num_labels, self.dropout = num_labels, check_rate("dropout", dropout)
        self.rnn = RNNStack(
            input_size, hidden_size, num_layers, bidirectional, dropout, cell=cell, key=k_rnn, **options
        )
        self.head_weight = glorot_uniform(k_head, (num_labels, self.rnn.output_size), jnp.float32)
        self.head_bias = jnp.zeros((num_labels,), jnp.float32)

    def __call__(self, xs: Array, lengths: Array | None = None, key: Array | None = None) -> Array:
        if xs.ndim != 3:
            raise ValueError(f"expected xs [B, T, D], got shape {tuple(xs.shape)}")
        if lengths is None:
            lengths = jnp.full((xs.shape[0],), xs.shape[1], jnp.int32)
        k_rnn, k_out = (None, None) if key is None else jax.random.split(key)
        ys = self.rnn.outputs(xs, lengths, key=k_rnn)
        ys = dropout(ys, self.dropout, k_out)
        return ys @ self.head_weight.T + self.head_bias.reshape(1, 1, -1)


def ctc_nll(logits: Array, lengths: Array, labels: Array, label_lengths: Array) -> Array:
    """``[B]`` negative log-likelihoods ``-log p(labels_b | xs_b)``, summed over every alignment (optax's
    `optax.ctc_loss`; blank 0; ``logits`` ``[B, T, K]`` are log-softmaxed inside).

    ``lengths`` ``[B]`` frames and ``label_lengths`` ``[B]`` labels are valid; ``labels`` ``[B, N]`` ints are
    right-padded. A sequence too short for its labels (fewer frames than labels plus repeats) has no
    alignment: its loss is about ``1e5`` (optax's ``log_epsilon``), not inf.
    """
    logit_paddings = 1.0 - valid_mask(lengths, logits.shape[1]).astype(logits.dtype)
    label_paddings = 1.0 - valid_mask(label_lengths, labels.shape[1]).astype(logits.dtype)
    return optax.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=0)


def ctc_loss(model: Any, batch: dict[str, Array], carry: Any, key: Array) -> tuple[Array, tuple[Any, dict]]:
    """`fit`'s loss: the mean over the batch of each line's CTC negative log-likelihood divided by its label
    length (torch's ``CTCLoss(reduction="mean")``). ``batch`` holds ``xs`` ``[B, T, D]``, ``lengths``
    ``[B]``, ``labels`` ``[B, N]`` and ``label_lengths`` ``[B]``; aux: ``nll_per_line``, the plain mean."""
    logits = model(batch["xs"], batch["lengths"], key=key)
    nll = ctc_nll(logits, batch["lengths"], batch["labels"], batch["label_lengths"])
    per_label = nll / jnp.maximum(batch["label_lengths"], 1).astype(nll.dtype)
    return jnp.mean(per_label), (carry, {"nll_per_line": jnp.mean(nll)})
