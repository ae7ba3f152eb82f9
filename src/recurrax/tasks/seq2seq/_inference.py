"""`seq2seq_inference`: a trained translator's one exported function, ``translate`` (greedy decoding).

``tokens, weights = greedy_decode(model, src, src_lengths, max_len)`` — the decoding that `translate` and
`evaluate_seq2seq` run with ``beam = 1``: ``src`` ``[B, S]`` source ids (``PAD`` past each length),
``src_lengths`` ``[B]``; ``tokens`` ``[B, max_len]`` target ids (``EOS`` then ``PAD`` once a row finishes,
``max_len`` the run's longest target plus one) and the attention ``weights`` ``[B, max_len, S]``. Beam search
(`beam_search`) is not exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...train import find_checkpoint
from .._contract import Function, Inference, Input, checkpoint_source, model_weights
from ._decode import greedy_decode
from ._run import load_seq2seq


def seq2seq_inference(checkpoint: str | Path) -> Inference:
    """``translate``: ``src`` ``[B, S]`` int32 in ``[0, V_src)`` and ``src_lengths`` ``[B]`` int32 in ``[1, S]`` ->
    ``tokens`` ``[B, max_len]`` int32 and ``attention`` ``[B, max_len, S]`` float32; ``data``: both
    vocabularies (``source_vocab``, ``target_vocab``: id ``i`` is token ``vocab[i]``), the ``dataset`` (how
    sentences are tokenized) and ``max_len``."""
    model, source, target, meta = load_seq2seq(checkpoint)
    weights, rebuild = model_weights(model)
    max_len = int(meta["lengths"][1])

    def translate(w: dict, inputs: dict) -> dict[str, Any]:
        tokens, attention = greedy_decode(rebuild(w), inputs["src"], inputs["src_lengths"], max_len)
        return {"tokens": tokens, "attention": attention}

    inputs = (
        Input("src", ("B", "T"), "int32", bounds=(0, len(source) - 1)),
        Input("src_lengths", ("B",), "int32", bounds=(1, "T")),
    )
    data = {"source_vocab": list(source.tokens), "target_vocab": list(target.tokens),
            "dataset": meta["config"]["data"]["dataset"], "max_len": max_len}  # fmt: skip
    source_info = checkpoint_source(find_checkpoint(checkpoint), meta)
    return Inference("seq2seq", {"translate": Function(translate, inputs)}, weights, data, meta["config"], source_info)
