"""Greedy and beam-search decoding of a `Seq2Seq`, each one `lax.scan` over a fixed maximum length."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._model import BOS, EOS, PAD, Seq2Seq


def token_log_probs(logits: Array) -> Array:
    """Log-probabilities ``[..., V]`` over the tokens a decoder may emit: ``PAD`` and ``BOS`` are excluded
    (``-inf``) and the softmax normalises over the rest. Greedy, beam search and scoring all use this."""
    vocab = jnp.arange(logits.shape[-1])
    allowed = (vocab != PAD) & (vocab != BOS)
    return jax.nn.log_softmax(jnp.where(allowed, logits, -jnp.inf), axis=-1)


@eqx.filter_jit
def sequence_log_prob(model: Seq2Seq, src: Array, src_lengths: Array, tokens: Array) -> Array:
    """``[B]``: ``sum_t log p(y_t | y_<t, x)`` of ``tokens`` ``[B, T]`` (``PAD`` after ``EOS`` adds 0),
    by teacher forcing — what `beam_search` maximises."""
    tgt_in = jnp.concatenate([jnp.full((tokens.shape[0], 1), BOS, tokens.dtype), tokens[:, :-1]], axis=1)
    logits, _ = model(src, src_lengths, tgt_in)
    log_probs = jnp.take_along_axis(token_log_probs(logits), tokens[:, :, None], axis=2)[:, :, 0]
    return jnp.sum(jnp.where(tokens == PAD, 0.0, log_probs), axis=1)


@eqx.filter_jit
def greedy_decode(model: Seq2Seq, src: Array, src_lengths: Array, max_len: int) -> tuple[Array, Array]:
    """The argmax token at every step: ``tokens`` ``[B, max_len]`` (``EOS`` then ``PAD`` once finished) and
    the attention ``weights`` ``[B, max_len, S]``."""
    memory, state = model.encode(src, src_lengths)
    batch = src.shape[0]

    def body(carry: tuple[Any, Array, Array], _: None) -> tuple[tuple[Any, Array, Array], tuple[Array, Array]]:
        state, previous, done = carry
        state, logits, weights = model.decode_step(memory, state, previous)
        token = jnp.where(done, PAD, jnp.argmax(token_log_probs(logits), axis=-1)).astype(jnp.int32)
        return (state, token, done | (token == EOS)), (token, weights)

    start = (state, jnp.full((batch,), BOS, jnp.int32), jnp.zeros((batch,), bool))
    _, (tokens, weights) = jax.lax.scan(body, start, None, length=max_len)
    return tokens.T, jnp.swapaxes(weights, 0, 1)


def gather_beams(tree: Any, index: Array) -> Any:
    """Leaves ``[B, K, ...]`` reordered along the beam axis by ``index`` ``[B, K]``."""

    def pick(leaf: Array) -> Array:
        return jnp.take_along_axis(leaf, index.reshape(index.shape + (1,) * (leaf.ndim - 2)), axis=1)

    return jax.tree.map(pick, tree)


@eqx.filter_jit
def beam_search(model: Seq2Seq, src: Array, src_lengths: Array, max_len: int, beam: int) -> tuple[Array, Array]:
    """Beam search for ``argmax_y sum_t log p(y_t | y_<t, x)`` (no length normalisation) over sequences that
    end with ``EOS`` or stop at ``max_len`` tokens: ``tokens`` ``[B, max_len]`` (``PAD`` after ``EOS``) and
    their ``scores`` ``[B]`` (log-probabilities).

    Every step expands the ``beam`` hypotheses by every token and keeps the ``beam`` best of the
    ``beam * V`` candidates (`lax.top_k`); a finished hypothesis extends only by ``PAD`` at log-probability
    0, so it competes with unfinished ones at its final score. ``beam=1`` is greedy decoding; a beam at least
    as large as the number of candidate sequences is an exact search.
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    memory, state = model.encode(src, src_lengths)
    batch, vocab = src.shape[0], model.target_vocab

    def tile(leaf: Array) -> Array:
        return jnp.repeat(leaf, beam, axis=0)

    memory = jax.tree.map(tile, memory)
    state = jax.tree.map(lambda leaf: tile(leaf).reshape(batch, beam, *leaf.shape[1:]), state)
    pad_only = jnp.where(jnp.arange(vocab) == PAD, 0.0, -jnp.inf)

    def body(carry: tuple, step: Array) -> tuple[tuple, None]:
        state, history, scores, done = carry
        previous = jnp.where(step == 0, BOS, history[:, :, jnp.maximum(step - 1, 0)])
        flat = jax.tree.map(lambda leaf: leaf.reshape(batch * beam, *leaf.shape[2:]), state)
        flat, logits, _ = model.decode_step(memory, flat, previous.reshape(-1))
        state = jax.tree.map(lambda leaf: leaf.reshape(batch, beam, *leaf.shape[1:]), flat)
        log_probs = token_log_probs(logits).reshape(batch, beam, vocab)
        log_probs = jnp.where(done[:, :, None], pad_only.reshape(1, 1, -1), log_probs)
        candidates = (scores[:, :, None] + log_probs).reshape(batch, beam * vocab)
        scores, index = jax.lax.top_k(candidates, beam)
        origin, token = index // vocab, (index % vocab).astype(jnp.int32)
        state, history, done = gather_beams((state, history, done), origin)
        history = history.at[:, :, step].set(token)
        return (state, history, scores, done | (token == EOS)), None

    history = jnp.zeros((batch, beam, max_len), jnp.int32)
    scores = jnp.broadcast_to(jnp.where(jnp.arange(beam) == 0, 0.0, -jnp.inf), (batch, beam))
    done = jnp.zeros((batch, beam), bool)
    (_, history, scores, _), _ = jax.lax.scan(body, (state, history, scores, done), jnp.arange(max_len))
    best = jnp.argmax(scores, axis=1)
    return history[jnp.arange(batch), best], scores[jnp.arange(batch), best]
