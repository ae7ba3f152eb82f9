"""Serving a language model (`recurrax.serve.create_app`): ``POST /v1/predict`` feeds the prompt token by token
through ``step`` from the zero state, then draws ``max_tokens`` tokens (`sample_token`) and feeds them back; a
session continues from its stored state and logits."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ...data import Tokenizer, tokenizer_from_json
from ...serve.serving import Body, Endpoint, Service, Serving, Session, http_error, sample_token


class GenerateRequest(Body):
    """Continue ``prompt`` by ``max_tokens`` tokens; ``temperature`` 0 is greedy (argmax), else softmax
    sampling at that temperature (from the ``top_k`` most likely tokens when given) with ``seed``."""

    prompt: str = Field(min_length=1, examples=["ROMEO:"])
    max_tokens: int = Field(default=32, ge=1)
    temperature: float = Field(default=1.0, ge=0.0)
    top_k: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)


class GenerateResponse(BaseModel):
    """The generated ``text`` (without the prompt), its ``tokens`` and the prompt's token count."""

    text: str
    tokens: list[int]
    prompt_tokens: int


class StepRequest(Body):
    """One step of a language-model session: feed ``text`` (or token ids ``tokens``), then generate
    ``max_tokens`` tokens (0: only feed), each fed back into the state. ``return_probabilities`` adds the
    next-token distribution after the step. ``temperature`` and ``top_k`` as in `GenerateRequest`; the
    session's random stream continues unless ``seed`` restarts it."""

    text: str | None = None
    tokens: list[int] | None = None
    max_tokens: int = Field(default=1, ge=0)
    temperature: float = Field(default=1.0, ge=0.0)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0)
    return_probabilities: bool = False


class StepResponse(BaseModel):
    """The generated ``tokens`` and ``text``, the session's total ``steps`` (tokens fed) and, when asked,
    ``probabilities`` ``[V]`` of the next token."""

    tokens: list[int]
    text: str
    steps: int
    probabilities: list[float] | None = None


def _tokenizer(service: Service) -> Tokenizer:
    """The artifact's vocabulary (``data["tokenizer"]``), the handlers' ``service.context``."""
    return tokenizer_from_json(service.data["tokenizer"])


async def _feed(service: Service, tokens: list[int], state: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Run ``step`` on each token in turn from ``state``: the last logits ``[1, V]`` and the new state."""
    logits = None
    for token in tokens:
        out = await service.call(service.stream, {"tokens": np.array([token], np.int32), **state})
        logits, state = out["logits"], {k: out[k] for k in state}
    return logits, state


async def generate(service: Service, body: GenerateRequest) -> GenerateResponse:
    """The prompt from the zero state, then ``max_tokens`` drawn tokens."""
    tokenizer = service.context
    prompt = [int(t) for t in tokenizer.encode(body.prompt)]
    if not prompt:
        raise http_error(422, "the prompt encodes to no tokens")
    service.limit("the prompt", len(prompt), service.max_length, "max_length tokens")
    service.limit("max_tokens", body.max_tokens, service.max_tokens, "max_tokens")
    logits, state = await _feed(service, prompt, service.artifact.init_state(1))
    rng, generated = np.random.default_rng(body.seed), []
    for i in range(body.max_tokens):
        generated.append(sample_token(logits[0], rng, temperature=body.temperature, top_k=body.top_k))
        if i + 1 < body.max_tokens:
            logits, state = await _feed(service, generated[-1:], state)
    return GenerateResponse(text=tokenizer.decode(generated), tokens=generated, prompt_tokens=len(prompt))


async def step(service: Service, session: Session, body: StepRequest) -> StepResponse:
    """Feed the step's text or tokens into the session, then generate; the session keeps state and logits."""
    tokenizer = service.context
    if body.text is not None and body.tokens is not None:
        raise http_error(422, "give text or tokens, not both")
    tokens = [int(t) for t in tokenizer.encode(body.text)] if body.text is not None else list(body.tokens or ())
    vocab = len(tokenizer.vocab)
    if any(not 0 <= t < vocab for t in tokens):
        raise http_error(422, f"tokens must be ids in [0, {vocab - 1}]")
    service.limit("the input", len(tokens), service.max_length, "max_length tokens")
    service.limit("max_tokens", body.max_tokens, service.max_tokens, "max_tokens")
    async with session.lock:
        if not tokens and session.logits is None and body.max_tokens:
            raise http_error(422, "a new session must be fed text (or tokens) before it can generate")
        rng = session.rng if body.seed is None else np.random.default_rng(body.seed)
        logits, state = session.logits, session.state
        if tokens:
            logits, state = await _feed(service, tokens, state)
        generated = []
        for _ in range(body.max_tokens):
            generated.append(sample_token(logits[0], rng, temperature=body.temperature, top_k=body.top_k))
            logits, state = await _feed(service, generated[-1:], state)
        session.state, session.logits, session.rng = state, logits, rng
        session.steps += len(tokens) + len(generated)
    probabilities = None
    if body.return_probabilities and logits is not None:
        z = logits[0].astype(np.float64)
        probabilities = (np.exp(z - z.max()) / np.exp(z - z.max()).sum()).tolist()
    return StepResponse(tokens=generated, text=tokenizer.decode(generated), steps=session.steps,
                        probabilities=probabilities)  # fmt: skip


SERVING = Serving(
    "step", Endpoint(GenerateRequest, GenerateResponse, generate), stream_function="step",
    step=Endpoint(StepRequest, StepResponse, step), shared_stream=True, wait=False, setup=_tokenizer,
)  # fmt: skip
