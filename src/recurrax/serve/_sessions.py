"""Streaming sessions: the recurrent state of one client kept between calls, with TTL expiry and a cap.

A session holds the exported model's state for a batch of one (``Artifact.init_state(1)``) and whatever the
task needs next (for a language model, the logits ``[1, V]`` after the last token fed). Each step reads the
state, runs the model on the new input and stores the new state, so feeding a sequence in pieces gives what
one call on the whole sequence gives. Steps of one session run one at a time (a lock per session); different
sessions run concurrently.

A session unused for ``ttl_s`` seconds expires (removed on the next access to the store); at most
``max_sessions`` are open at once, and opening one more is a `SessionLimitError`.

    >>> store = SessionStore(max_sessions=2, ttl_s=60.0)
    >>> session = store.create({"h": 0})
    >>> store.get(session.id) is session, len(store)
    (True, 1)
    >>> store.delete(session.id), len(store)
    (True, 0)
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import Any

import numpy as np


class SessionLimitError(RuntimeError):
    """``max_sessions`` sessions are open: close one (``DELETE``) or wait for one to expire."""


@dataclasses.dataclass(eq=False)
class Session:
    """One client's stream: ``state`` (model state arrays for a batch of 1), ``logits`` after the last
    token (language models; ``None`` before the first), ``steps`` taken, ``last_used`` (store clock) and
    the random stream ``rng`` that sampling continues."""

    id: str
    state: dict[str, np.ndarray]
    last_used: float
    logits: np.ndarray | None = None
    steps: int = 0
    rng: np.random.Generator = dataclasses.field(default_factory=lambda: np.random.default_rng(0))
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)


class SessionStore:
    """Open sessions by id, expired after ``ttl_s`` seconds unused, at most ``max_sessions`` at once.

    ``clock`` (default `time.monotonic`) is injectable so tests can expire sessions without sleeping;
    ``on_change(active, expired)`` is called after every change (the service's gauges use it).
    """

    def __init__(
        self,
        *,
        max_sessions: int = 1000,
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[int, int], None] | None = None,
    ):
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self.max_sessions, self.ttl_s, self.clock = max_sessions, ttl_s, clock
        self._on_change = on_change
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        self.expire()
        return len(self._sessions)

    def expire(self) -> int:
        """Remove the sessions unused for ``ttl_s`` seconds; returns how many were removed."""
        now = self.clock()
        old = [key for key, s in self._sessions.items() if now - s.last_used >= self.ttl_s]
        for key in old:
            del self._sessions[key]
        if old:
            self._changed(len(old))
        return len(old)

    def create(self, state: dict[str, Any]) -> Session:
        """Open a session holding ``state``; a `SessionLimitError` when ``max_sessions`` are open."""
        self.expire()
        if len(self._sessions) >= self.max_sessions:
            raise SessionLimitError(f"{self.max_sessions} sessions are open (the limit): delete one or retry later")
        session = Session(secrets.token_urlsafe(16), dict(state), self.clock())
        self._sessions[session.id] = session
        self._changed(0)
        return session

    def get(self, session_id: str) -> Session:
        """The open session ``session_id`` (its TTL restarts); a KeyError when unknown or expired."""
        self.expire()
        session = self._sessions.get(session_id)
        if session is None:
            raise KeyError(f"no open session {session_id!r} (unknown, deleted or expired after {self.ttl_s:g} s)")
        session.last_used = self.clock()
        return session

    def delete(self, session_id: str) -> bool:
        """Close a session; False when it was not open."""
        self.expire()
        found = self._sessions.pop(session_id, None) is not None
        if found:
            self._changed(0)
        return found

    def _changed(self, expired: int) -> None:
        if self._on_change is not None:
            self._on_change(len(self._sessions), expired)


def sample_token(logits: np.ndarray, rng: np.random.Generator, *, temperature: float, top_k: int | None) -> int:
    """One token id from ``[V]`` logits: the argmax when ``temperature == 0``, else a draw from
    ``softmax(logits / temperature)`` restricted to the ``top_k`` largest logits (ties at the k-th kept).

        >>> sample_token(np.array([0.0, 3.0, 1.0]), np.random.default_rng(0), temperature=0.0, top_k=None)
        1
        >>> sample_token(np.array([0.0, 3.0, 1.0]), np.random.default_rng(0), temperature=1e-320, top_k=None)
        1

    A temperature so small that ``logits / temperature`` overflows divides the logits shifted by their
    maximum instead (``-inf``, probability 0, rather than ``inf - inf``).
    """
    if temperature == 0:
        return int(np.argmax(logits))
    logits = np.asarray(logits, np.float64)
    with np.errstate(over="ignore"):
        z = logits / temperature
        if not np.isfinite(z).all():
            z = (logits - logits.max()) / temperature
    if top_k is not None and top_k < z.size:
        z = np.where(z < np.sort(z)[-top_k], -np.inf, z)
    p = np.exp(z - z.max())
    return int(rng.choice(z.size, p=p / p.sum()))
