"""Sampling from a `LanguageModel`: the prime is read once, then one `lax.scan` generates token by token,
carrying the recurrent state (never re-reading the text so far)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._model import LanguageModel


def filter_logits(
    logits: Array, *, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Array:
    """``[..., V]`` logits divided by ``temperature``, with every token outside the ``top_k`` most likely
    and outside the nucleus set to ``-inf``.

    The nucleus (Holtzman et al. 2020) is the smallest set of most likely tokens whose probability reaches
    ``top_p``: a token is kept when the probability of the tokens more likely than it is below ``top_p``, so
    the most likely token always stays. Ties at the ``top_k``-th logit keep all tied tokens.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (use greedy=True for argmax decoding), got {temperature}")
    logits = logits.astype(jnp.float32) / temperature
    neg_inf = jnp.full_like(logits, -jnp.inf)
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        kth = jax.lax.top_k(logits, min(top_k, logits.shape[-1]))[0][..., -1:]
        logits = jnp.where(logits < kth, neg_inf, logits)
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        order = jnp.argsort(-logits, axis=-1)
        sorted_probs = jnp.take_along_axis(jax.nn.softmax(logits, axis=-1), order, axis=-1)
        before = jnp.cumsum(sorted_probs, axis=-1) - sorted_probs
        keep_sorted = before < top_p
        keep = jnp.take_along_axis(keep_sorted, jnp.argsort(order, axis=-1), axis=-1)
        logits = jnp.where(keep, logits, neg_inf)
    return logits


def next_token(
    logits: Array,
    key: Array,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
) -> Array:
    """One token per row of ``[B, V]`` logits: the argmax when ``greedy``, else a draw from the filtered
    distribution (`filter_logits`). Returns ``[B]`` int32."""
    if greedy:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    filtered = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    return jax.random.categorical(key, filtered, axis=-1).astype(jnp.int32)


@eqx.filter_jit
def sample(
    model: LanguageModel,
    prime_tokens: Array,
    length: int,
    key: Array,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
) -> Array:
    """``length`` tokens continuing ``prime_tokens`` (``[P]`` or ``[B, P]``, ``P >= 1``).

    The prime runs through the model once; then a single `jax.lax.scan` of ``length`` steps draws token
    ``i`` from the current logits with ``jax.random.split(key, length)[i]`` and feeds it back with the
    carried recurrent state. Deterministic for a given ``key``; ``greedy`` ignores the key. Returns
    ``[length]`` (or ``[B, length]``) int32 tokens.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = LanguageModel(10, embed_size=8, hidden_size=8, key=jax.random.key(0))
        >>> sample(model, jnp.array([1, 2, 3]), 5, jax.random.key(1)).shape
        (5,)
    """
    tokens = jnp.asarray(prime_tokens, jnp.int32)
    single = tokens.ndim == 1
    tokens = tokens[None] if single else tokens
    if tokens.shape[-1] < 1:
        raise ValueError("sampling needs a prime of at least one token")
    logits, state = model(tokens)
    options = dict(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)

    def step(carry, step_key):
        logits, state = carry
        token = next_token(logits, step_key, **options)
        logits, state = model(token[:, None], state)
        return (logits[:, -1], state), token

    _, generated = jax.lax.scan(step, (logits[:, -1], state), jax.random.split(key, length))
    generated = jnp.swapaxes(generated, 0, 1)
    return generated[0] if single else generated
