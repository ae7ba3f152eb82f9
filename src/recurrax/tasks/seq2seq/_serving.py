"""Serving a translator (`recurrax.serve.create_app`): ``POST /v1/predict`` tokenizes the sentences as the run's
data were (`source_tokens`), runs ``translate`` (greedy decoding) and answers the target text."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ...serve.serving import Body, Endpoint, Service, Serving, http_error
from ._corpus import source_tokens, target_text
from ._numbers import Vocab


class TranslateRequest(Body):
    """``sentences``: ``B`` source sentences (words of the run's source vocabulary)."""

    sentences: list[str] = Field(min_length=1, examples=[["forty-two"]])


class TranslateResponse(BaseModel):
    """The ``translations``, one per sentence, and their target ``tokens``."""

    translations: list[str]
    tokens: list[list[str]]


def _vocabularies(service: Service) -> tuple[Vocab, Vocab]:
    """The artifact's source and target vocabularies, the handlers' ``service.context``."""
    return Vocab(tuple(service.data["source_vocab"])), Vocab(tuple(service.data["target_vocab"]))


async def translate(service: Service, body: TranslateRequest) -> TranslateResponse:
    """Encode, pad, decode, detokenize; a sentence with words outside the vocabulary is a 422 naming them."""
    source, target = service.context
    dataset = service.data["dataset"]
    ids = []
    for i, sentence in enumerate(body.sentences):
        try:
            ids.append(source.ids(source_tokens(dataset, sentence)))
        except ValueError as error:
            raise http_error(422, f"sentences[{i}]: {error}") from None
        if not ids[-1]:
            raise http_error(422, f"sentences[{i}] holds no tokens")
    service.limit("the batch", len(ids), service.max_batch, "max_batch")
    lengths = np.array([len(i) for i in ids], np.int32)
    service.limit("the longest sentence", int(lengths.max()), service.max_length, "max_length tokens")
    src = np.zeros((len(ids), int(lengths.max())), np.int32)
    for row, sentence in enumerate(ids):
        src[row, : len(sentence)] = sentence
    out = await service.call(service.batcher, service.checked({"src": src, "src_lengths": lengths}))
    words = [target.words(row.tolist()) for row in out["tokens"]]
    return TranslateResponse(translations=[target_text(dataset, w) for w in words], tokens=words)


SERVING = Serving("translate", Endpoint(TranslateRequest, TranslateResponse, translate), setup=_vocabularies)
