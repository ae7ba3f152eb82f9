"""Language-model scores from totals: loss (nats per token), perplexity, bits per character; bzip2's bpc.

For ``N`` valid targets with total negative log-likelihood ``NLL`` (nats) over a text of ``C`` characters:
``loss = NLL / N``, ``perplexity = exp(loss)`` (per character at character level, per word at word level)
and ``bpc = NLL / (C ln 2)`` — at character level ``bpc = loss / ln 2``.
"""

from __future__ import annotations

import bz2
import math


def lm_metrics(nll: float, num_targets: int, num_chars: int, level: str) -> dict[str, float]:
    """``loss``, ``perplexity`` and ``bpc`` (see the module docstring) from totals."""
    loss = nll / max(num_targets, 1)
    bpc = loss / math.log(2) if level == "char" else nll / math.log(2) / max(num_chars, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "bpc": bpc}


def bzip2_bpc(text: str) -> float:
    """Bits per character of ``text`` compressed by bzip2 at level 9: ``8 * len(compressed) / len(text)``
    (of the UTF-8 bytes, per character) — the classic compressor baseline for character-level models."""
    if not text:
        raise ValueError("bzip2_bpc needs a non-empty text")
    return 8 * len(bz2.compress(text.encode("utf-8"), compresslevel=9)) / len(text)
