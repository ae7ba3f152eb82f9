"""Serving a line recogniser (`recurrax.serve.create_app`): ``POST /v1/predict`` runs ``recognize`` on a batch of
lines, given as column sequences or as grey-scale images, and answers their text: greedy (`collapse` of the
function's ``labels``) or, with ``beam_size > 1``, `prefix_beam_search` on its ``log_probs``."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ...serve.serving import Body, Endpoint, Real, Service, Serving, bad_rows, http_error, not_finite
from ._data import decode, image_columns
from ._decode import collapse, prefix_beam_search


class RecognizeRequest(Body):
    """Give ``columns`` (``B`` lines of ``W_i`` columns of ``height`` ink intensities in ``[0, 255]``, as
    rendered) or ``images`` (``B`` grey-scale images ``[rows, W_i]`` with values in ``[0, 255]``; scaled to the
    model's height and inverted to bright ink when light, as `image_columns`). ``beam_size`` 1 decodes
    greedily; ``return_log_probs`` adds each line's ``[W_i, K]`` frame log-probabilities."""

    columns: list[list[list[Real]]] | None = Field(default=None, min_length=1)
    images: list[list[list[Real]]] | None = Field(default=None, min_length=1)
    beam_size: int = Field(default=1, ge=1, le=64)
    return_log_probs: bool = False


class RecognizeResponse(BaseModel):
    """The recognised ``texts``, each line's ``frames`` (columns read) and, when asked, ``log_probs``."""

    texts: list[str]
    frames: list[int]
    log_probs: list[list[list[float]]] | None = None


def _lines(service: Service, body: RecognizeRequest) -> list[np.ndarray]:
    """The request's lines as ``[W_i, height]`` column arrays."""
    if (body.columns is None) == (body.images is None):
        raise http_error(422, "give columns or images, one of the two")
    height = service.data["height"]
    lines = []
    for i, line in enumerate(body.columns if body.columns is not None else body.images):
        try:
            array = np.asarray(line, np.float64)
        except ValueError:
            raise http_error(422, f"line {i}: every row must have the same length") from None
        if array.ndim != 2 or array.size == 0 or ((array < 0) | (array > 255)).any():
            raise http_error(422, f"line {i}: expected a non-empty 2-D array of values in [0, 255]")
        if body.images is not None:
            array = image_columns(np.round(array).astype(np.uint8), height, service.data["width_scale"])
        elif array.shape[1] != height:
            raise http_error(422, f"line {i} has {array.shape[1]} values per column, the model reads {height}")
        lines.append(array)
    return lines


async def recognize(service: Service, body: RecognizeRequest) -> RecognizeResponse:
    """Pad the lines, run ``recognize``, decode each line's valid frames."""
    lines = _lines(service, body)
    service.limit("the batch", len(lines), service.max_batch, "max_batch")
    lengths = np.array([len(line) for line in lines], np.int32)
    service.limit("the longest line", int(lengths.max()), service.max_length, "max_length")
    columns = np.zeros((len(lines), int(lengths.max()), lines[0].shape[1]), np.float32)
    for row, line in enumerate(lines):
        columns[row, : len(line)] = line
    out = await service.call(service.batcher, service.checked({"columns": columns, "lengths": lengths}))
    log_probs = [out["log_probs"][row, :n] for row, n in enumerate(lengths)]
    if len(bad := bad_rows(out["log_probs"])):
        raise not_finite("lines", bad)
    if body.beam_size == 1:
        paths = [collapse(out["labels"][row, :n]) for row, n in enumerate(lengths)]
    else:
        paths = [prefix_beam_search(lp, beam_size=body.beam_size)[0][0] for lp in log_probs]
    texts = [decode(path) for path in paths]
    kept = [lp.tolist() for lp in log_probs] if body.return_log_probs else None
    return RecognizeResponse(texts=texts, frames=lengths.tolist(), log_probs=kept)


SERVING = Serving("recognize", Endpoint(RecognizeRequest, RecognizeResponse, recognize))
