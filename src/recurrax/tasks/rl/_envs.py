"""`JaxEnv`: a gymnax environment behind the small interface the jitted PPO program steps.

``obs, state = env.reset(key)`` and ``obs, state, reward, done = env.step(key, state, action)`` for one
environment (vmap them for many): ``obs`` float32 ``[D]`` (only the ``observe`` indices), ``reward`` float32,
``done`` bool (terminated or truncated: PPO treats a time limit as an end, as PureJaxRL does). When an
episode ends, ``step`` has already reset the environment (gymnax auto-reset): ``obs``
is the first observation of the next episode. gymnax runs under standard dtype promotion, whatever the
caller's setting.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..._extras import require
from ._config import EnvConfig

POPGYM_PREFIX = "popgym:"


class JaxEnv:
    """A gymnax environment with its parameters and the observed indices (see the module docstring)."""

    def __init__(self, env: Any, params: Any, observe: tuple[int, ...] = ()):
        self.env, self.params = env, params
        full = int(np.prod(env.observation_space(params).shape))
        bad = [i for i in observe if i >= full]
        if bad:
            raise ValueError(f"observe indices {bad} are out of range for {env.name}'s {full} observation features")
        self.observe = np.asarray(observe if observe else range(full), dtype=np.int32)
        space = env.action_space(params)
        if not hasattr(space, "n"):
            raise ValueError(f"{env.name} has a continuous action space; the rl task needs discrete actions")
        self.num_actions = int(space.n)
        self.obs_size = len(self.observe)
        self.name = env.name

    def _view(self, obs: jax.Array) -> jax.Array:
        return jnp.ravel(obs).astype(jnp.float32)[self.observe]

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        with jax.numpy_dtype_promotion("standard"):
            obs, state = self.env.reset(key, self.params)
        return self._view(obs), state

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> tuple[jax.Array, Any, jax.Array, jax.Array]:
        with jax.numpy_dtype_promotion("standard"):
            obs, state, reward, terminated, truncated, _ = self.env.step(key, state, action, self.params)
        return self._view(obs), state, jnp.asarray(reward, jnp.float32), jnp.logical_or(terminated, truncated)


def make_jax_env(cfg: EnvConfig) -> JaxEnv:
    """The gymnax environment ``cfg.name`` with ``cfg.memory_length`` (MemoryChain) and ``cfg.observe``."""
    gymnax = require("gymnax", "the rl task")
    if cfg.name not in gymnax.registered_envs:
        raise ValueError(f"unknown gymnax environment {cfg.name!r}; known: {', '.join(gymnax.registered_envs)} "
                         f"(or {POPGYM_PREFIX}<Class> for POPGym)")  # fmt: skip
    env, params = gymnax.make(cfg.name)
    if cfg.memory_length is not None:
        if not hasattr(params, "memory_length"):
            raise ValueError(f"env.memory_length applies to MemoryChain-bsuite, not {cfg.name}")
        params = params.replace(memory_length=cfg.memory_length)
    return JaxEnv(env, params, cfg.observe)


def is_popgym(cfg: EnvConfig) -> bool:
    """Whether ``cfg`` names a POPGym environment (stepped outside jit, `recurrax.tasks.rl.GymnasiumEnvs`)."""
    return cfg.name.startswith(POPGYM_PREFIX)
