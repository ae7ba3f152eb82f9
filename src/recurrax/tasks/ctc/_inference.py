"""`ctc_inference`: a trained line recogniser's one exported function, ``recognize``.

Raw input is what `image_columns` (or the renderer) gives: ``columns`` ``[B, T, height]`` ink intensities in
``[0, 255]`` (zero past each line's width) and ``lengths`` ``[B]``. Inside, as `predict_ctc` computes it::

    log_probs, labels = frame_scores(model, columns / 255, lengths)

``log_probs`` ``[B, T, K]`` over the blank (0) and `ALPHABET` (1..K-1); ``labels`` ``[B, T]`` the most likely
label per frame, the blank past each length, so that `collapse` of a row is its greedy decoding. Prefix beam
search (`prefix_beam_search`) runs on ``log_probs`` outside the function, in the caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._contract import Function, Inference, Input, checkpoint_source, model_weights
from ._data import ALPHABET, INK_SCALE
from ._run import LoadedCTC, frame_scores, load_ctc


def ctc_inference(checkpoint: str | Path) -> Inference:
    """``recognize``: ``columns`` ``[B, T, height]`` float32 in ``[0, 255]`` and ``lengths`` ``[B]`` int32 in
    ``[1, T]`` -> ``log_probs`` ``[B, T, K]`` float32 and ``labels`` ``[B, T]`` int32 (see the module
    docstring); ``data``: the ``alphabet`` (label ``k`` is ``alphabet[k - 1]``), ``height``, ``width_scale``."""
    return loaded_ctc_inference(load_ctc(checkpoint))


def loaded_ctc_inference(loaded: LoadedCTC) -> Inference:
    """`ctc_inference` of an in-memory `LoadedCTC`."""
    weights, rebuild = model_weights(loaded.model)
    data_cfg = loaded.config.data

    def recognize(w: dict, inputs: dict) -> dict[str, Any]:
        xs = inputs["columns"] / INK_SCALE
        log_probs, labels = frame_scores(rebuild(w), xs, inputs["lengths"])
        return {"log_probs": log_probs, "labels": labels}

    inputs = (
        Input("columns", ("B", "T", data_cfg.height), "float32"),
        Input("lengths", ("B",), "int32", bounds=(1, "T")),
    )
    data = {"alphabet": ALPHABET, "height": data_cfg.height, "width_scale": data_cfg.width_scale}
    source = checkpoint_source(loaded.checkpoint, loaded.meta)
    return Inference("ctc", {"recognize": Function(recognize, inputs)}, weights, data, loaded.meta["config"], source)
