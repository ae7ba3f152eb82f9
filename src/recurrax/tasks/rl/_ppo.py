"""Recurrent PPO in one jitted program (the PureJaxRL design, Lu et al. 2022): environment stepping, rollouts
and updates inside `jax.lax.scan`, many seeds as one `jax.vmap`.

An update: `rollout` steps ``B`` environments ``T`` steps (the carry reset at episode starts inside the scan),
`gae` turns rewards and values into advantages, then `learn` runs ``epochs`` passes over the rollout in
``minibatches`` groups of whole environments, each re-run through the policy from the carry stored at the
segment's start (truncated BPTT over the ``T`` steps). Shapes are time-major: ``[T, B, ...]``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array

from ...train import make_optimizer
from ._config import RLConfig
from ._envs import JaxEnv
from ._policy import Carry, Policy, build_policy, policy_step


class Transition(NamedTuple):
    """One step of a rollout, each field ``[T, B]`` (``obs`` ``[T, B, D]``). ``start``: ``obs`` begins an
    episode; ``done``: the action ended it; ``episode_return``: the return of the episode so far, after this
    step's reward (where ``done``, the finished episode's return)."""

    obs: Array
    start: Array
    action: Array
    log_prob: Array
    value: Array
    reward: Array
    done: Array
    episode_return: Array


class Runner(NamedTuple):
    """The environments between updates: their state, the next observation ``obs`` ``[B, D]`` and whether it
    starts an episode, the policy's carry and the running episode returns ``[B]``."""

    env_state: Any
    obs: Array
    start: Array
    carry: Carry
    episode_return: Array


def gae(
    rewards: Array, values: Array, dones: Array, last_value: Array, gamma: float, lam: float
) -> tuple[Array, Array]:
    """Generalised advantage estimation (Schulman et al. 2016) over ``[T, B]`` arrays.

    ``delta_t = r_t + gamma * V_{t+1} * (1 - done_t) - V_t`` and ``A_t = delta_t + gamma * lam * (1 - done_t) *
    A_{t+1}``, with ``V_T = last_value`` ``[B]``; returns ``(A, A + V)``.
    """
    live = 1.0 - dones.astype(values.dtype)
    next_values = jnp.concatenate([values[1:], last_value[None]])
    deltas = rewards + gamma * next_values * live - values

    def body(advantage: Array, inputs: tuple[Array, Array]) -> tuple[Array, Array]:
        delta, alive = inputs
        advantage = delta + gamma * lam * alive * advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(body, jnp.zeros_like(last_value), (deltas, live), reverse=True)
    return advantages, advantages + values


def act(logits: Array, key: Array | None) -> Array:
    """The action per row of ``logits`` ``[B, A]``: a sample with ``key``, the greedy one without."""
    return jnp.argmax(logits, axis=-1) if key is None else jax.random.categorical(key, logits)


def start_runner(policy: Policy, env: JaxEnv, key: Array, num_envs: int) -> Runner:
    """``num_envs`` freshly reset environments and the policy's zero carry."""
    obs, state = jax.vmap(env.reset)(jax.random.split(key, num_envs))
    return Runner(state, obs, jnp.ones(num_envs, bool), policy.initial_carry(num_envs), jnp.zeros(num_envs))


def rollout(policy: Policy, env: JaxEnv, runner: Runner, key: Array, num_steps: int,
            greedy: bool = False) -> tuple[Runner, Transition]:  # fmt: skip
    """``num_steps`` steps of every environment of ``runner`` in one scan.

    Step ``t`` splits ``jax.random.split(key, num_steps)[t]`` into ``(k_act, k_env)``; the actions are
    ``jax.random.categorical(k_act, logits)`` (argmax with ``greedy``), environment ``b`` steps with
    ``jax.random.split(k_env, B)[b]``.
    """
    num_envs = runner.obs.shape[0]

    def body(runner: Runner, key: Array) -> tuple[Runner, Transition]:
        k_act, k_env = jax.random.split(key)
        carry, logits, value = policy_step(policy, runner.carry, runner.obs, runner.start)
        action = act(logits, None if greedy else k_act)
        log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=-1)[:, 0]
        obs, state, reward, done = jax.vmap(env.step)(jax.random.split(k_env, num_envs), runner.env_state, action)
        episode_return = runner.episode_return + reward
        step = Transition(runner.obs, runner.start, action, log_prob, value, reward, done, episode_return)
        return Runner(state, obs, done, carry, jnp.where(done, 0.0, episode_return)), step

    return jax.lax.scan(body, runner, jax.random.split(key, num_steps))


def ppo_loss(policy: Policy, carry: Carry, batch: Transition, advantages: Array, returns: Array,
             cfg: RLConfig) -> tuple[Array, dict[str, Array]]:  # fmt: skip
    """The clipped PPO loss of `PPOConfig` on a minibatch of whole segments ``[T, b]``, re-run from ``carry``."""
    ppo = cfg.ppo
    _, logits, values = policy(carry, batch.obs, batch.start)
    log_probs = jax.nn.log_softmax(logits)
    log_prob = jnp.take_along_axis(log_probs, batch.action[..., None], axis=-1)[..., 0]
    if ppo.normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    ratio = jnp.exp(log_prob - batch.log_prob)
    clipped = jnp.clip(ratio, 1.0 - ppo.clip_eps, 1.0 + ppo.clip_eps)
    actor = -jnp.minimum(ratio * advantages, clipped * advantages).mean()
    values_clipped = batch.value + jnp.clip(values - batch.value, -ppo.clip_eps, ppo.clip_eps)
    critic = 0.5 * jnp.maximum((values - returns) ** 2, (values_clipped - returns) ** 2).mean()
    entropy = -(jnp.exp(log_probs) * log_probs).sum(-1).mean()
    loss = actor + ppo.vf_coef * critic - ppo.ent_coef * entropy
    return loss, {"loss": loss, "actor_loss": actor, "value_loss": critic, "entropy": entropy}


def episode_stats(steps: Transition) -> dict[str, Array]:
    """``return``: the mean return of the episodes that ended in ``steps`` (NaN if none did); ``episodes``."""
    done = steps.done.astype(jnp.float32)
    count = done.sum()
    mean = (steps.episode_return * done).sum() / jnp.maximum(count, 1.0)
    return {"return": jnp.where(count > 0, mean, jnp.nan), "episodes": count}


class Trainer:
    """The PPO program of one config: ``state = trainer.init(key)``; ``state, metrics = trainer.updates(state,
    key, first, count)`` runs updates ``first .. first + count - 1`` (update ``u`` uses ``fold_in(key, u)``,
    so the split into calls does not change the result). ``state`` is ``(params, opt_state, runner)``;
    ``metrics`` holds ``[count]`` arrays. `vmap` both over seeds and `jit` them (`jitted`);
    ``trainer.policy(params)`` is the model. ``env`` is a `JaxEnv`, or any object with ``obs_size`` and
    ``num_actions`` for `learn` alone (the Gymnasium adapter collects its rollouts outside jit)."""

    def __init__(self, cfg: RLConfig, env: JaxEnv | Any):
        self.cfg, self.env = cfg, env
        template = build_policy(cfg.model, env.obs_size, env.num_actions, key=jax.random.key(0))
        self.static = eqx.partition(template, eqx.is_inexact_array)[1]
        total = cfg.ppo.updates * cfg.ppo.epochs * cfg.ppo.minibatches
        self.optimizer: optax.GradientTransformation = make_optimizer(cfg.optim, total)

    def jitted(self) -> tuple[Any, Any]:
        """``(init, updates)`` vmapped over seeds and jitted: ``init(keys [S])`` and ``updates(state, keys [S],
        first, count)`` (``count`` static: one compilation per chunk length)."""
        init = jax.jit(jax.vmap(self.init))
        updates = jax.jit(jax.vmap(self.updates, in_axes=(0, 0, None, None)), static_argnums=3)
        return init, updates

    def policy(self, params: Any) -> Policy:
        return eqx.combine(params, self.static)

    def init_params(self, key: Array) -> tuple[Any, Any]:
        """``(params, opt_state)`` of a fresh policy."""
        policy = build_policy(self.cfg.model, self.env.obs_size, self.env.num_actions, key=key)
        params = eqx.filter(policy, eqx.is_inexact_array)
        return params, self.optimizer.init(params)

    def init(self, key: Array) -> tuple[Any, Any, Runner]:
        k_policy, k_env = jax.random.split(key)
        params, opt_state = self.init_params(k_policy)
        return params, opt_state, start_runner(self.policy(params), self.env, k_env, self.cfg.env.num_envs)

    def learn(self, params: Any, opt_state: Any, carry: Carry, steps: Transition, last_value: Array,
              key: Array) -> tuple[Any, Any, dict[str, Array]]:  # fmt: skip
        """``epochs`` passes of minibatch updates over one rollout ``steps`` that started from ``carry``."""
        cfg = self.cfg
        advantages, returns = gae(steps.reward, steps.value, steps.done, last_value, cfg.ppo.gamma, cfg.ppo.gae_lambda)
        num_envs, groups = steps.obs.shape[1], cfg.ppo.minibatches
        grad_fn = jax.value_and_grad(lambda p, *a: ppo_loss(self.policy(p), *a, cfg), has_aux=True)

        def minibatch(state: tuple[Any, Any], batch: tuple) -> tuple[tuple[Any, Any], dict[str, Array]]:
            params, opt_state = state
            (_, info), grads = grad_fn(params, *batch)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (eqx.apply_updates(params, updates), opt_state), info

        def epoch(state: tuple[Any, Any], key: Array) -> tuple[tuple[Any, Any], dict[str, Array]]:
            order = jax.random.permutation(key, num_envs).reshape(groups, -1)
            split_env = lambda x: jnp.take(x, order, axis=1).swapaxes(0, 1)  # noqa: E731 [T, B] -> [G, T, B/G]
            batches = (
                jax.tree.map(lambda x: jnp.take(x, order, axis=0), carry),
                jax.tree.map(split_env, steps),
                split_env(advantages),
                split_env(returns),
            )
            return jax.lax.scan(minibatch, state, batches)

        (params, opt_state), info = jax.lax.scan(epoch, (params, opt_state), jax.random.split(key, cfg.ppo.epochs))
        return params, opt_state, jax.tree.map(jnp.mean, info)

    def update(self, state: tuple[Any, Any, Runner], key: Array) -> tuple[tuple[Any, Any, Runner], dict[str, Array]]:
        """One rollout and its `learn`; metrics of the episodes that ended in it and of the losses."""
        params, opt_state, runner = state
        k_roll, k_learn = jax.random.split(key)
        policy = self.policy(params)
        carry = runner.carry
        runner, steps = rollout(policy, self.env, runner, k_roll, self.cfg.env.num_steps)
        _, _, last_value = policy_step(policy, runner.carry, runner.obs, runner.start)
        params, opt_state, info = self.learn(params, opt_state, carry, steps, last_value, k_learn)
        return (params, opt_state, runner), {**episode_stats(steps), **info}

    def updates(self, state: tuple[Any, Any, Runner], key: Array, first: Array,
                count: int) -> tuple[tuple[Any, Any, Runner], dict[str, Array]]:  # fmt: skip
        return jax.lax.scan(lambda s, u: self.update(s, jax.random.fold_in(key, u)), state, first + jnp.arange(count))


def evaluate_returns(policy: Policy, env: JaxEnv, key: Array, num_envs: int, num_steps: int,
                     greedy: bool) -> tuple[Array, Array]:  # fmt: skip
    """``(returns, finished)`` ``[num_envs]``: the return of each environment's first episode and whether it
    ended within ``num_steps`` steps."""
    k_start, k_roll = jax.random.split(key)
    runner = start_runner(policy, env, k_start, num_envs)
    _, steps = rollout(policy, env, runner, k_roll, num_steps, greedy=greedy)
    first = steps.done & (jnp.cumsum(steps.done, axis=0) == 1)
    returns = jnp.where(first, steps.episode_return, 0.0).sum(0)
    return returns, steps.done.any(0)
