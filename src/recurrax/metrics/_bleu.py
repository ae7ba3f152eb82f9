"""Corpus BLEU (Papineni et al. 2002) for translations, computed by sacrebleu (Post 2018)."""

from __future__ import annotations

from collections.abc import Sequence

from .._extras import require


def bleu(hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = "13a") -> float:
    """Corpus BLEU in ``[0, 100]`` of ``hypotheses`` against one reference each (``references[i]`` for
    ``hypotheses[i]``), with sacrebleu's defaults: 4-grams, ``tokenize`` ``"13a"`` (mteval-v13a; ``"none"``
    for text already split at spaces), case-sensitive, ``"exp"`` smoothing.

    With clipped n-gram matches ``m_n`` and hypothesis n-grams ``t_n`` summed over the corpus, hypothesis and
    reference lengths ``c`` and ``r``: ``BLEU = 100 * BP * exp(sum_{n=1..4} log(p_n) / 4)``,
    ``BP = min(1, exp(1 - r / c))``, ``p_n = m_n / t_n``; "exp" smoothing replaces the k-th zero ``m_n``
    by ``p_n = 1 / (2^k t_n)``. No matching unigram at all gives 0.

    Example:
        >>> round(bleu(["the cat sat on the mat"], ["the cat sat on the mat"]), 10)
        100.0
        >>> round(bleu(["the cat sat on a mat"], ["the cat sat on the mat"]), 4)  # (5/6 * 3/5 * 2/4 * 1/3)^(1/4)
        53.7285
    """
    sacrebleu = require("sacrebleu", "BLEU")
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references; give one reference each")
    if not hypotheses:
        raise ValueError("bleu needs at least one hypothesis")
    if not all(isinstance(text, str) for text in [*hypotheses, *references]):
        raise ValueError("hypotheses and references must be strings (one reference string per hypothesis)")
    # force: text split at spaces on purpose ("tokenize='none'") must not log sacrebleu's detokenize advice
    return float(sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize, force=True).score)
