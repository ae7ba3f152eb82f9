"""The Gymnasium adapter: environments with the Gymnasium API (POPGym's memory tasks, e.g.
``RepeatPreviousEasy``, ``CountRecallEasy``, ``PositionOnlyCartPoleEasy``: stateless CartPole) stepped in
Python, outside jit, with the policy's step and PPO's `Trainer.learn` jitted and vmapped over seeds.

Observations are flattened with ``gymnasium.spaces.flatten`` (a ``Discrete`` one-hot, tuples concatenated)
to float32 ``[D]``; actions must be ``Discrete``. An environment whose episode ended (terminated or truncated)
is reset at once, and its next observation starts the new episode, as in `JaxEnv`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..._extras import require
from ._config import EnvConfig
from ._envs import POPGYM_PREFIX
from ._policy import Policy, policy_step
from ._ppo import Transition, act


class GymnasiumEnvs:
    """``num_envs`` Gymnasium environments made by ``make()``, environment ``i`` reset first with seed
    ``seed + i``. ``obs = envs.reset()`` ``[B, D]``; ``obs, reward, done = envs.step(actions)``."""

    def __init__(self, make: Callable[[], Any], num_envs: int, seed: int):
        spaces = require("gymnasium.spaces", "the rl task's Gymnasium adapter")
        self.envs = [make() for _ in range(num_envs)]
        self.seed, self._spaces = seed, spaces
        space = self.envs[0].action_space
        if not isinstance(space, spaces.Discrete):
            raise ValueError(f"the rl task needs a Discrete action space, got {space}")
        self.num_actions = int(space.n)
        self.obs_space = self.envs[0].observation_space
        self.obs_size = int(spaces.flatdim(self.obs_space))
        self.name = type(self.envs[0]).__name__

    def _flat(self, obs: Any) -> np.ndarray:
        return np.asarray(self._spaces.flatten(self.obs_space, obs), dtype=np.float32)

    def reset(self) -> np.ndarray:
        return np.stack([self._flat(env.reset(seed=self.seed + i)[0]) for i, env in enumerate(self.envs)])

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out, rewards, dones = [], [], []
        for env, action in zip(self.envs, actions):
            obs, reward, terminated, truncated, _ = env.step(int(action))
            done = bool(terminated or truncated)
            if done:
                obs, _ = env.reset()
            out.append(self._flat(obs))
            rewards.append(reward)
            dones.append(done)
        return np.stack(out), np.asarray(rewards, np.float32), np.asarray(dones, bool)


def popgym_maker(cfg: EnvConfig) -> Callable[[], Any]:
    """The class of the POPGym environment that ``cfg.name`` (``"popgym:<Class>"``) names."""
    envs = require("popgym.envs", "the rl task's POPGym environments")
    name = cfg.name[len(POPGYM_PREFIX):]
    found = getattr(envs, name, None)
    if not isinstance(found, type):
        known = sorted(n for n, v in vars(envs).items() if isinstance(v, type) and n[0].isupper() and n != "Any")
        raise ValueError(f"unknown POPGym environment {name!r}; known: {', '.join(known)}")
    return found


class PythonLoop:
    """Rollouts of ``S`` seeds' policies on Gymnasium environments: the policy step jitted (vmapped over
    seeds), the environments stepped in Python; keeps the environments' state between rollouts."""

    def __init__(self, envs: list[GymnasiumEnvs], policy_of: Callable[[Any], Policy]):
        self.envs, self.num_envs = envs, len(envs[0].envs)

        def step(params: Any, carry: Any, obs: jax.Array, start: jax.Array, key: jax.Array | None) -> tuple:
            carry, logits, value = policy_step(policy_of(params), carry, obs, start)
            action = act(logits, key)
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=-1)[:, 0]
            return carry, action, log_prob, value

        self._step = jax.jit(jax.vmap(step, in_axes=(0, 0, 0, 0, 0)))
        self._greedy = jax.jit(jax.vmap(lambda p, c, o, s: step(p, c, o, s, None)))
        self.obs = np.stack([e.reset() for e in envs])
        self.start = np.ones(self.obs.shape[:2], bool)
        self.returns = np.zeros(self.obs.shape[:2], np.float32)

    def rollout(self, params: Any, carry: Any, key: jax.Array, num_steps: int,
                greedy: bool = False) -> tuple[Any, Transition]:  # fmt: skip
        """``num_steps`` steps from the current environments: ``(carry, steps)``, fields ``[S, T, B, ...]``."""
        rows = []
        for t in range(num_steps):
            obs, start = jnp.asarray(self.obs), jnp.asarray(self.start)
            if greedy:
                carry, action, log_prob, value = self._greedy(params, carry, obs, start)
            else:
                keys = jax.random.split(jax.random.fold_in(key, t), len(self.envs))
                carry, action, log_prob, value = self._step(params, carry, obs, start, keys)
            action = np.asarray(action)
            stepped = [env.step(a) for env, a in zip(self.envs, action)]
            next_obs, reward, done = (np.stack(x) for x in zip(*stepped))
            self.returns = self.returns + reward
            rows.append((self.obs, self.start, action, np.asarray(log_prob), np.asarray(value), reward, done,
                         self.returns))  # fmt: skip
            self.obs, self.start = next_obs, done
            self.returns = np.where(done, 0.0, self.returns).astype(np.float32)
        fields = [np.stack(column, axis=1) for column in zip(*rows)]  # [S, T, B, ...]
        return carry, Transition(*(jnp.asarray(f) for f in fields))

    def last_value(self, params: Any, carry: Any) -> jax.Array:
        """The value of the current observations ``[S, B]`` (the bootstrap of `gae`)."""
        return self._greedy(params, carry, jnp.asarray(self.obs), jnp.asarray(self.start))[3]

