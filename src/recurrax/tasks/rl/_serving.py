"""Serving a recurrent policy (`recurrax.serve.create_app`): ``POST /v1/predict`` runs ``act`` over whole episodes
(each from its first observation, stepped in one batch) and answers every step's action probabilities, greedy
action and value; a session (``/v1/sessions/{id}/step``) is one agent in a live environment: one observation
in, one action out, the policy's memory kept between steps."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ...serve.serving import Body, Endpoint, Real, Service, Serving, Session, bad_rows, http_error, not_finite, pad_ragged


class EpisodesRequest(Body):
    """``episodes``: ``B`` episodes of ``T_i`` observations of ``D`` features, each from its first step."""

    episodes: list[list[list[Real]]] = Field(min_length=1, examples=[[[[0.0, 1.0, 0.0]]]])


class EpisodesResponse(BaseModel):
    """Per episode and step: ``probabilities`` ``[T_i, A]``, the greedy ``actions`` ``[T_i]``, ``values``."""

    probabilities: list[list[list[float]]]
    actions: list[list[int]]
    values: list[list[float]]


class ActRequest(Body):
    """One step of an agent: its ``observation`` ``[D]``; ``start`` marks an episode's first observation
    (default: true on the session's first step, false after); ``sample`` draws the action from the policy
    (with the session's random stream, restarted by ``seed``) instead of taking the most likely one."""

    observation: list[Real] = Field(min_length=1)
    start: bool | None = None
    sample: bool = False
    seed: int | None = Field(default=None, ge=0)


class ActResponse(BaseModel):
    """The ``action``, the policy's ``probabilities`` ``[A]``, the ``value`` estimate and the session's total
    ``steps``."""

    action: int
    probabilities: list[float]
    value: float
    steps: int


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


async def _act(service: Service, obs: np.ndarray, start: np.ndarray, state: dict) -> tuple[dict, dict]:
    """One ``act`` call: (outputs, new state)."""
    arrays = service.checked({"obs": obs, "start": start.astype(np.int32), **state})
    out = await service.call(service.batcher, arrays)
    if len(bad := bad_rows(out["logits"], out["value"])):
        raise not_finite("episodes", bad)
    return out, {k: out[k] for k in state}


async def episodes(service: Service, body: EpisodesRequest) -> EpisodesResponse:
    """Step every episode from the zero state; steps past an episode's end are computed on its last
    observation and dropped."""
    try:
        obs, lengths = pad_ragged(body.episodes, "episodes", features=service.data["obs_size"])
    except ValueError as error:
        raise http_error(422, str(error)) from None
    service.limit("the batch", len(obs), service.max_batch, "max_batch")
    service.limit("the longest episode", obs.shape[1], service.max_length, "max_length")
    state = service.artifact.init_state(len(obs))
    probs, values = [], []
    for t in range(obs.shape[1]):
        out, state = await _act(service, obs[:, t], np.full(len(obs), t == 0), state)
        probs.append(_softmax(out["logits"]))
        values.append(out["value"])
    probs, values = np.stack(probs, axis=1), np.stack(values, axis=1)
    return EpisodesResponse(
        probabilities=[probs[i, :n].tolist() for i, n in enumerate(lengths)],
        actions=[probs[i, :n].argmax(axis=-1).tolist() for i, n in enumerate(lengths)],
        values=[values[i, :n].astype(float).tolist() for i, n in enumerate(lengths)],
    )


async def act(service: Service, session: Session, body: ActRequest) -> ActResponse:
    """One observation through the session's policy state; the action is greedy unless ``sample``."""
    obs = np.asarray([body.observation], np.float64)
    if obs.shape[1] != service.data["obs_size"]:
        raise http_error(422, f"observation has {obs.shape[1]} features, the policy takes {service.data['obs_size']}")
    async with session.lock:
        start = session.steps == 0 if body.start is None else body.start
        out, state = await _act(service, obs, np.array([start]), session.state)
        probs = _softmax(out["logits"][0])
        rng = session.rng if body.seed is None else np.random.default_rng(body.seed)
        action = int(rng.choice(len(probs), p=probs)) if body.sample else int(np.argmax(probs))
        session.state, session.rng = state, rng
        session.steps += 1
    return ActResponse(action=action, probabilities=probs.tolist(), value=float(out["value"][0]), steps=session.steps)


SERVING = Serving(
    "act", Endpoint(EpisodesRequest, EpisodesResponse, episodes), stream_function="act",
    step=Endpoint(ActRequest, ActResponse, act), shared_stream=True, wait=False,
)  # fmt: skip
