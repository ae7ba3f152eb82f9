"""The language-modelling loss and metrics: cross-entropy, perplexity, bits per character; bzip2's bpc.

For ``N`` valid targets with total negative log-likelihood ``NLL`` (nats) over a text of ``C`` characters:
``loss = NLL / N`` (nats per token), ``perplexity = exp(loss)`` (per character at character level, per word
at word level) and ``bpc = NLL / (C ln 2)`` — at character level ``N = C`` up to the first character of each
document, and ``bpc = loss / ln 2``.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...metrics import bzip2_bpc as bzip2_bpc
from ...metrics import lm_metrics as lm_metrics
from ._batching import TokenWindows
from ._model import LanguageModel, reset_state


def token_nll(logits: Array, targets: Array, mask: Array) -> tuple[Array, Array]:
    """Summed cross-entropy ``-log softmax(logits)[target]`` over the valid targets, and their count.

    ``logits`` ``[B, T, V]``, ``targets`` ``[B, T]`` ints, ``mask`` ``[B, T]`` bool. Computed in float32.
    """
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    picked = jnp.take_along_axis(log_probs, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]
    weights = mask.astype(jnp.float32)
    return -jnp.sum(picked * weights), jnp.sum(weights)


def window_nll(model: LanguageModel, batch: dict[str, Array], state: Any, key: Array | None = None):
    """One window: rows flagged ``batch["reset"]`` restart from the zero state, then the summed
    cross-entropy over the valid targets (``batch["mask"]``). Returns ``(nll, count, state)``."""
    state = reset_state(state, batch["reset"], model.init_state(batch["inputs"].shape[0]))
    logits, state = model(batch["inputs"], state, key=key)
    nll, count = token_nll(logits, batch["targets"], batch["mask"])
    return nll, count, state


def lm_loss(model: LanguageModel, batch: dict[str, Array], state: Any, key: Array | None):
    """The `recurrax.train.fit` loss: the mean cross-entropy over the batch's valid targets, continuing
    ``state`` (see `window_nll`). Returns ``(loss, (state, aux))``."""
    nll, count, state = window_nll(model, batch, state, key)
    return nll / jnp.maximum(count, 1.0), (state, {})


@eqx.filter_jit
def _eval_window(model: LanguageModel, state: Any, batch: dict[str, Array]):
    nll, count, state = window_nll(model, batch, state)
    return state, nll, count


def evaluate_windows(model: LanguageModel, windows: TokenWindows) -> tuple[float, int]:
    """Total negative log-likelihood (nats) and number of targets over one epoch of ``windows``, carrying
    the state from window to window as in training (without dropout)."""
    state = model.init_state(windows.batch_size)
    total, count = 0.0, 0
    for w in range(windows.num_windows):
        state, nll, n = _eval_window(model, state, windows(w))
        total, count = total + float(nll), count + int(n)
    return total, count
