"""`Seq2Seq`: a bidirectional LSTM encoder and an LSTM decoder with additive, multiplicative or no attention."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...cells import LSTMCell, glorot_uniform
from ...models import RNNStack, masked_softmax
from ...scan import last_valid, valid_mask

ATTENTIONS = ("additive", "general", "none")
PAD, BOS, EOS = 0, 1, 2


class Memory(NamedTuple):
    """The encoded source: ``outputs`` ``[B, S, 2H]``, attention ``keys`` ``[B, S, H]``, ``mask`` ``[B, S]``."""

    outputs: Array
    keys: Array
    mask: Array


class DecoderState(NamedTuple):
    """The decoder's carry: LSTM ``h``, ``c`` ``[B, H]`` and ``feed`` ``[B, H]``, the previous attentional
    vector (Luong's input feeding; zeros and unused for the other variants)."""

    h: Array
    c: Array
    feed: Array


class Seq2Seq(eqx.Module):
    """An encoder-decoder for token sequences (Sutskever et al. 2014) with attention.

    Encoder: embeddings -> bidirectional `RNNStack` of LSTMs, outputs ``m_j`` ``[B, S, 2H]``; the decoder
    starts from ``h_0 = tanh(W_b [h^fwd_last; h^bwd_first] + b_b)``, ``c_0 = 0`` (Bahdanau et al. 2015).
    Decoder step ``t`` with the previous target token's embedding ``e_t``:

    - ``"additive"`` (Bahdanau et al. 2015): ``s_j = v . tanh(W_q h_{t-1} + U m_j)``, ``a = softmax_{j<n}(s)``,
      ``ctx = sum_j a_j m_j``; ``(h_t, c_t) = LSTM([e_t; ctx], (h_{t-1}, c_{t-1}))``;
      ``o_t = tanh(W_o [h_t; ctx])``.
    - ``"general"`` (Luong et al. 2015, multiplicative, with input feeding):
      ``(h_t, c_t) = LSTM([e_t; o_{t-1}], ...)``, ``s_j = h_t . (W_a m_j)``, ``a = softmax_{j<n}(s)``,
      ``o_t = tanh(W_o [ctx; h_t])``.
    - ``"none"``: ``(h_t, c_t) = LSTM(e_t, ...)``, ``o_t = h_t`` (attention weights all 0).

    ``logits_t = o_t W_out^T + b_out``. The softmax runs over the valid source steps only (``j < n``), so the
    weights sum to 1 over them and are exactly 0 on padding. Token ids 0, 1, 2 are ``PAD``, ``BOS``, ``EOS``
    in the target vocabulary; ``PAD`` is 0 in the source one.

    ``logits, weights = model(src, src_lengths, tgt_in)`` (teacher forcing): ``src`` ``[B, S]``,
    ``src_lengths`` ``[B]``, ``tgt_in`` ``[B, T]`` (``BOS`` then the target), ``logits`` ``[B, T, V_tgt]``,
    ``weights`` ``[B, T, S]``. The decoder runs in one `lax.scan`; decoding is in
    `recurrax.tasks.seq2seq.greedy_decode` / `beam_search`.

    Weights (``E = embed_size``, ``H = hidden_size``): ``source_embedding`` ``[V_src, E]``,
    ``target_embedding`` ``[V_tgt, E]``; ``encoder`` a bidirectional LSTM `RNNStack` (``2H`` outputs);
    ``bridge_weight`` ``W_b`` ``[H, 2H]``, ``bridge_bias`` ``b_b`` ``[H]``; ``decoder`` an `LSTMCell` whose
    ``weight_ih`` is ``[4H, E + 2H]`` (additive: ``[e_t; ctx]``), ``[4H, E + H]`` (general: ``[e_t; o_{t-1}]``)
    or ``[4H, E]`` (none), gate blocks i, f, g, o; ``key_weight`` ``U`` / ``W_a`` ``[H, 2H]`` (None for
    ``"none"``); ``query_weight`` ``W_q`` ``[H, H]`` and ``score_vector`` ``v`` ``[H]`` (additive only);
    ``combine_weight`` ``W_o`` ``[H, 3H]`` (columns ``[h_t; ctx]`` additive, ``[ctx; h_t]`` general; None for
    ``"none"``); ``out_weight`` ``W_out`` ``[V_tgt, H]``, ``out_bias`` ``b_out`` ``[V_tgt]``.

    Args:
        source_vocab: source vocabulary size ``V_src`` (at least 2, ``PAD`` = 0).
        target_vocab: target vocabulary size ``V_tgt`` (at least 4: ``PAD``, ``BOS``, ``EOS``, a word).
        embed_size: embedding width ``E`` of both vocabularies (keyword-only, required).
        hidden_size: LSTM units ``H`` per encoder direction and of the decoder (keyword-only, required).
        encoder_layers: stacked bidirectional encoder layers, default 1.
        attention: ``"additive"``, ``"general"`` or ``"none"``, default ``"additive"``.
        key: PRNG key for the initial weights (keyword-only, required).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = Seq2Seq(10, 12, embed_size=8, hidden_size=16, key=jax.random.key(0))
        >>> logits, weights = model(jnp.ones((2, 5), jnp.int32), jnp.array([5, 3]), jnp.ones((2, 4), jnp.int32))
        >>> logits.shape, weights.shape, float(weights[1, 0, 3:].sum())
        ((2, 4, 12), (2, 4, 5), 0.0)
    """

    source_embedding: Array
    target_embedding: Array
    encoder: RNNStack
    bridge_weight: Array
    bridge_bias: Array
    decoder: LSTMCell
    key_weight: Array | None
    query_weight: Array | None
    score_vector: Array | None
    combine_weight: Array | None
    out_weight: Array
    out_bias: Array
    hidden_size: int = eqx.field(static=True)
    attention: str = eqx.field(static=True)

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        *,
        embed_size: int,
        hidden_size: int,
        encoder_layers: int = 1,
        attention: str = "additive",
        key: Array,
    ):
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if target_vocab < 4 or source_vocab < 2:
            raise ValueError(
                f"need target_vocab >= 4 (PAD, BOS, EOS, a word) and source_vocab >= 2, got {target_vocab}, "
                f"{source_vocab}"
            )
        keys = jax.random.split(key, 10)
        H, E = hidden_size, embed_size
        self.hidden_size, self.attention = H, attention
        self.source_embedding = jax.random.uniform(keys[0], (source_vocab, E), jnp.float32, -0.1, 0.1)
        self.target_embedding = jax.random.uniform(keys[1], (target_vocab, E), jnp.float32, -0.1, 0.1)
        self.encoder = RNNStack(E, H, encoder_layers, bidirectional=True, key=keys[2])
        self.bridge_weight = glorot_uniform(keys[3], (H, 2 * H), jnp.float32)
        self.bridge_bias = jnp.zeros((H,), jnp.float32)
        extra = {"additive": 2 * H, "general": H, "none": 0}[attention]
        self.decoder = LSTMCell(E + extra, H, key=keys[4])
        self.key_weight = None if attention == "none" else glorot_uniform(keys[5], (H, 2 * H), jnp.float32)
        self.query_weight = glorot_uniform(keys[6], (H, H), jnp.float32) if attention == "additive" else None
        self.score_vector = (
            jax.random.uniform(keys[7], (H,), jnp.float32, -0.1, 0.1) if attention == "additive" else None
        )
        self.combine_weight = None if attention == "none" else glorot_uniform(keys[8], (H, 3 * H), jnp.float32)
        self.out_weight = jax.random.uniform(keys[9], (target_vocab, H), jnp.float32, -0.1, 0.1)
        self.out_bias = jnp.zeros((target_vocab,), jnp.float32)

    @property
    def target_vocab(self) -> int:
        return self.target_embedding.shape[0]

    def encode(self, src: Array, src_lengths: Array) -> tuple[Memory, DecoderState]:
        """The `Memory` of ``src`` ``[B, S]`` and the decoder's initial `DecoderState`."""
        if src.ndim != 2:
            raise ValueError(f"expected source ids [B, S], got shape {tuple(src.shape)}")
        outputs = self.encoder.outputs(self.source_embedding[src], src_lengths)  # unmasked: oneDNN on CPU
        final = last_valid(outputs, src_lengths, bidirectional=True)  # last layer: forward at n-1, backward at 0
        h0 = jnp.tanh(final @ self.bridge_weight.T + self.bridge_bias.reshape(1, -1))
        keys = outputs if self.key_weight is None else outputs @ self.key_weight.T
        memory = Memory(outputs, keys, valid_mask(src_lengths, src.shape[1]))
        return memory, DecoderState(h0, jnp.zeros_like(h0), jnp.zeros_like(h0))

    def _attend(self, memory: Memory, query: Array) -> tuple[Array, Array]:
        if self.attention == "additive":
            projected = (query @ self.query_weight.T)[:, None, :]
            scores = jnp.tanh(memory.keys + projected) @ self.score_vector
        else:
            scores = jnp.einsum("bsh,bh->bs", memory.keys, query)
        weights = masked_softmax(scores, memory.mask)
        return jnp.einsum("bs,bsd->bd", weights, memory.outputs), weights

    def decode_step(self, memory: Memory, state: DecoderState, tokens: Array) -> tuple[DecoderState, Array, Array]:
        """One decoder step: previous tokens ``[B]`` -> (new state, logits ``[B, V]``, weights ``[B, S]``)."""
        embedded = self.target_embedding[tokens]
        if self.attention == "additive":
            context, weights = self._attend(memory, state.h)
            xp = self.decoder.project_input(jnp.concatenate([embedded, context], -1))
            (h, c), _ = self.decoder.step((state.h, state.c), xp)
            out = jnp.tanh(jnp.concatenate([h, context], -1) @ self.combine_weight.T)
        elif self.attention == "general":
            (h, c), _ = self.decoder.step(
                (state.h, state.c), self.decoder.project_input(jnp.concatenate([embedded, state.feed], -1))
            )
            context, weights = self._attend(memory, h)
            out = jnp.tanh(jnp.concatenate([context, h], -1) @ self.combine_weight.T)
        else:
            (h, c), _ = self.decoder.step((state.h, state.c), self.decoder.project_input(embedded))
            out, weights = h, jnp.zeros(memory.mask.shape, h.dtype)
        logits = out @ self.out_weight.T + self.out_bias.reshape(1, -1)
        return DecoderState(h, c, out), logits, weights

    def __call__(self, src: Array, src_lengths: Array, tgt_in: Array) -> tuple[Array, Array]:
        memory, state = self.encode(src, src_lengths)

        def body(state: DecoderState, tokens: Array) -> tuple[DecoderState, tuple[Array, Array]]:
            state, logits, weights = self.decode_step(memory, state, tokens)
            return state, (logits, weights)

        _, (logits, weights) = jax.lax.scan(body, state, tgt_in.T)
        return jnp.swapaxes(logits, 0, 1), jnp.swapaxes(weights, 0, 1)

