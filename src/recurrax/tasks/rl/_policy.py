"""`Policy`: an actor-critic whose core is any recurrent stack of the zoo (or an MLP, the memoryless control),
with the carry reset to zero at every episode start inside the scan.

Time-major shapes (as a rollout stores them): T steps, B environments, D observation features, A actions,
H ``hidden_size``.

- ``carry, logits, values = policy(carry, obs, starts)``: ``obs`` ``[T, B, D]``, ``starts`` ``[T, B]`` bool
  (``starts[t, b]``: ``obs[t, b]`` is the first observation of an episode); ``logits`` ``[T, B, A]``,
  ``values`` ``[T, B]``. Before reading ``obs[t]`` each layer's carry becomes ``where(starts[t], zeros,
  carry)``, so one call over many episodes laid end to end equals running each episode alone from the zero
  state (tests/test_rl.py checks this against `recurrax.RNNStack` on each episode).
- ``policy_step(policy, carry, obs, start)``: one step, ``obs`` ``[B, D]``, ``start`` ``[B]``: the stateful
  step function of an exported policy.
- ``carry``: a tuple with one cell carry per layer (each leaf ``[B, ...]``; ``()`` for the MLP).

Each layer's input projection is hoisted out of its scan (one matmul over all ``T * B`` steps); the scan body
holds the reset, the recurrent matmul and the gates (``cell.step``), as in `recurrax.scan.RNN`.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...models import RNNStack
from ._config import PolicyConfig

Carry = tuple[Any, ...]


def _dense(mlp: eqx.nn.MLP, x: Array) -> Array:
    """``mlp`` applied to the last axis of ``x`` ``[..., in] -> [..., out]``."""
    flat = x.reshape(-1, x.shape[-1])
    return jax.vmap(mlp)(flat).reshape(*x.shape[:-1], -1)


def reset_where(starts: Array, carry: Any, fresh: Any) -> Any:
    """``carry`` with the rows ``b`` where ``starts[b]`` replaced by ``fresh``'s (leaves ``[B, ...]``)."""
    return jax.tree.map(lambda c, z: jnp.where(starts.reshape(starts.shape + (1,) * (c.ndim - 1)), z, c), carry, fresh)


class Policy(eqx.Module):
    """The actor-critic of `PolicyConfig` (see the module docstring); built by `build_policy`."""

    core: RNNStack | eqx.nn.MLP
    actor: eqx.nn.MLP
    critic: eqx.nn.MLP
    recurrent: bool = eqx.field(static=True)

    def initial_carry(self, batch: int) -> Carry:
        """The zero carry of ``batch`` environments: one cell carry per layer, ``()`` without memory."""
        if not self.recurrent:
            return ()
        return tuple(layer.cell.init_carry(batch, jnp.float32) for layer in self.core.layers)

    def features(self, carry: Carry, obs: Array, starts: Array) -> tuple[Carry, Array]:
        """``(carry, ys)``: the core's output ``ys`` ``[T, B, H]`` with the carry reset where ``starts``."""
        if not self.recurrent:
            return carry, _dense(self.core, obs)
        xs, finals = obs, []
        for layer, initial in zip(self.core.layers, carry):
            cell = layer.cell
            fresh = cell.init_carry(obs.shape[1], obs.dtype)

            def body(c: Any, inputs: tuple[Array, Array], cell: Any = cell, fresh: Any = fresh) -> tuple[Any, Array]:
                xp_t, start_t = inputs
                return cell.step(reset_where(start_t, c, fresh), xp_t)

            final, xs = jax.lax.scan(body, initial, (cell.project_input(xs), starts))
            finals.append(final)
        return tuple(finals), xs

    def __call__(self, carry: Carry, obs: Array, starts: Array) -> tuple[Carry, Array, Array]:
        """``(carry, logits [T, B, A], values [T, B])`` over a time-major segment."""
        carry, ys = self.features(carry, obs, starts)
        return carry, _dense(self.actor, ys), _dense(self.critic, ys)[..., 0]


def policy_step(policy: Policy, carry: Carry, obs: Array, start: Array) -> tuple[Carry, Array, Array]:
    """One step of ``B`` environments: ``(carry, logits [B, A], value [B])`` from ``obs`` ``[B, D]`` and
    ``start`` ``[B]`` bool (reset the carry first where true). A pure function of the weights and the inputs."""
    carry, logits, values = policy(carry, obs[None], start[None])
    return carry, logits[0], values[0]


def build_policy(cfg: PolicyConfig, obs_size: int, num_actions: int, *, key: Array) -> Policy:
    """The `Policy` of ``cfg`` for ``obs_size`` features and ``num_actions`` actions. The actor's output layer
    starts at 0.01 of its default scale (a near-uniform first policy, as PPO implementations do)."""
    k_core, k_actor, k_critic = jax.random.split(key, 3)
    recurrent = cfg.cell != "mlp"
    if recurrent:
        core: RNNStack | eqx.nn.MLP = RNNStack(obs_size, cfg.hidden_size, cfg.num_layers, key=k_core, cell=cfg.cell)
    else:
        core = eqx.nn.MLP(obs_size, cfg.hidden_size, cfg.hidden_size, cfg.num_layers - 1, activation=jnp.tanh,
                          final_activation=jnp.tanh, key=k_core)  # fmt: skip
    width = core.output_size if recurrent else cfg.hidden_size
    actor = eqx.nn.MLP(width, num_actions, cfg.head_size, 1, activation=jnp.tanh, key=k_actor)
    actor = eqx.tree_at(lambda m: m.layers[-1].weight, actor, actor.layers[-1].weight * 0.01)
    critic = eqx.nn.MLP(width, 1, cfg.head_size, 1, activation=jnp.tanh, key=k_critic)
    return Policy(core, actor, critic, recurrent)
