"""`lm_inference`: a language model's one exported function, ``step``, one token per stream.

``logits, state' = model(tokens[:, None], state)``; ``logits[:, 0]``. The state is the stack's carry flattened
(an LSTM: ``state_0 = h``, ``state_1 = c``, each ``[L, B, H]``; batch axis 1); a zero state starts a stream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax

from .._contract import Function, Inference, Input, checkpoint_source, model_weights
from ._run import LoadedLM, load_lm


def lm_inference(checkpoint: str | Path) -> Inference:
    """``step``: ``tokens`` ``[B]`` int32 in ``[0, V)`` and ``state_<i>`` -> ``logits`` ``[B, V]`` float32 and
    the new ``state_<i>``; ``data``: the tokenizer (JSON) and ``vocab_size``."""
    return loaded_lm_inference(load_lm(checkpoint))


def loaded_lm_inference(loaded: LoadedLM) -> Inference:
    """`lm_inference` of an in-memory `LoadedLM`."""
    model, vocab = loaded.model, len(loaded.tokenizer)
    weights, rebuild = model_weights(model)
    one, two = (jax.tree.leaves(model.init_state(b)) for b in (1, 2))
    state_def = jax.tree.structure(model.init_state(1))
    names = tuple(f"state_{i}" for i in range(len(one)))
    state_inputs = []
    for name, a, b in zip(names, one, two):
        axes = [i for i, (m, n) in enumerate(zip(a.shape, b.shape)) if m != n]
        if axes != [1]:
            raise ValueError(f"the language model's state leaf {name} {a.shape} has no batch axis 1")
        shape = tuple("B" if i == 1 else d for i, d in enumerate(a.shape))
        state_inputs.append(Input(name, shape, str(a.dtype)))

    def step(w: dict, inputs: dict) -> dict[str, Any]:
        state = jax.tree.unflatten(state_def, [inputs[n] for n in names])
        logits, state = rebuild(w)(inputs["tokens"][:, None], state)
        return {"logits": logits[:, 0], **dict(zip(names, jax.tree.leaves(state)))}

    tokens = Input("tokens", ("B",), "int32", bounds=(0, vocab - 1))
    function = Function(step, (tokens, *state_inputs), state=names, state_batch_axis=1)
    data = {"tokenizer": loaded.tokenizer.to_json(), "vocab_size": vocab}
    source = checkpoint_source(loaded.checkpoint, loaded.meta)
    return Inference("lm", {"step": function}, weights, data, loaded.meta["config"], source)
