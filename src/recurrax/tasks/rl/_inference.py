"""`rl_inference`: a trained recurrent policy as one exported stateful function, ``act``.

``act`` is `policy_step`: for ``B`` environments, ``obs`` ``[B, D]`` and ``start`` ``[B]`` (1 where ``obs`` is
the first observation of an episode: the carry is reset to zero before reading it) and the carry flattened
into ``state_<i>`` (each ``[B, ...]``, batch axis 0; for an LSTM core, layer ``l``'s ``h`` and ``c`` are
``state_{2l}`` and ``state_{2l+1}``, ``[B, H]``)::

    carry', logits, value = policy_step(policy, carry, obs, start)

-> ``logits`` ``[B, A]`` (the action distribution is their softmax), ``value`` ``[B]`` and the new
``state_<i>``. A zero state starts a stream. The exported policy is the run's first seed (``train.seed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from .._contract import Function, Inference, Input, checkpoint_source, model_weights
from ._policy import policy_step
from ._run import LoadedPolicy, load


def rl_inference(checkpoint: str | Path) -> Inference:
    """``act`` (see the module docstring) of the first seed's policy of a run or checkpoint; ``data``: the
    environment's ``env`` name, ``obs_size`` and ``num_actions``. An MLP policy (no memory) is refused: the
    export is a stateful step function."""
    return loaded_rl_inference(load(checkpoint))


def loaded_rl_inference(loaded: LoadedPolicy, member: int = 0) -> Inference:
    """`rl_inference` of an in-memory `LoadedPolicy`, for seed index ``member``."""
    policy = loaded.policy(member)
    if not policy.recurrent:
        raise ValueError("an MLP policy keeps no state; the export serves recurrent policies (model.cell)")
    weights, rebuild = model_weights(policy)
    state_def = jax.tree.structure(policy.initial_carry(1))
    leaves = jax.tree.leaves(policy.initial_carry(1))
    names = tuple(f"state_{i}" for i in range(len(leaves)))
    obs_size, num_actions = loaded.meta["obs_size"], loaded.meta["num_actions"]

    def act(w: dict, inputs: dict) -> dict[str, Any]:
        carry = jax.tree.unflatten(state_def, [inputs[n] for n in names])
        carry, logits, value = policy_step(rebuild(w), carry, inputs["obs"], inputs["start"] > 0)
        return {"logits": logits, "value": value, **dict(zip(names, jax.tree.leaves(carry)))}

    state_inputs = [Input(n, ("B", *leaf.shape[1:]), str(jnp.dtype(leaf.dtype))) for n, leaf in zip(names, leaves)]
    inputs = (Input("obs", ("B", obs_size), "float32"), Input("start", ("B",), "int32", bounds=(0, 1)), *state_inputs)
    data = {"env": loaded.config.env.name, "obs_size": obs_size, "num_actions": num_actions, "member": member}
    source = checkpoint_source(loaded.checkpoint, loaded.meta)
    return Inference("rl", {"act": Function(act, inputs, state=names)}, weights, data, loaded.meta["config"], source)
