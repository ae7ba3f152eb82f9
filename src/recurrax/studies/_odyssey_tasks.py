"""The odyssey study's tasks: data on device, training windows drawn inside the jitted step, fixed eval sets.

- ``music``: next-frame prediction on the Bach chorales (`recurrax.studies._odyssey_music`): input frame
  ``t``, target frame ``t + 1`` (``[B, T, P]``, ``P = 49`` pitches), metric the frame negative log-likelihood
  in nats per frame (Greff et al. 2017's JSB measure). Pieces split 0.6 / 0.2 / 0.2 by a seeded permutation.
- ``charlm``: next-character prediction on tinyshakespeare (shipped with recurrax): one-hot input,
  softmax output over the ``V = 65`` characters, metric bits per character. The text is cut in order into
  train (first 90 %), valid (next 5 %) and test (last 5 %); valid and test are scored on their first
  ``eval_chars`` characters, cut into sequences of ``eval_length`` scored from a zero state.

Training draws ``batch`` random windows of ``window`` steps (a random piece and start for music, a random
start for text): cheaper than whole pieces, and every trial sees the same kind of batch. Evaluation runs on
whole pieces (music) or fixed sequences (text), padded steps masked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._odyssey_music import HIGH, LOW, frame_nll, load_chorales, pad_rolls, split_pieces

TASKS = ("music", "charlm")


@dataclass(frozen=True)
class EvalSet:
    """``xs [N, T, D]``, ``ys`` (``[N, T, P]`` frames or ``[N, T]`` ints) and ``mask [N, T]`` (1 = scored)."""

    xs: np.ndarray
    ys: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class OdysseyTask:
    """A task: sizes, the metric's name and unit scale, training data and the valid / test `EvalSet` s.

    ``data`` and ``lengths`` hold the training data: padded rolls ``[N, T + window + 1, P]`` with their
    lengths (music) or the training text as ints ``[n]`` (charlm, ``lengths`` None).
    """

    name: str
    input_size: int
    output_size: int
    metric: str
    scale: float  # metric = mean loss in nats * scale
    data: np.ndarray
    lengths: np.ndarray | None
    valid: EvalSet
    test: EvalSet
    info: dict

    def losses(self, outputs: Array, ys: Array) -> Array:
        """``[..., T, O] -> [..., T]``: nats per step (frame NLL or cross-entropy)."""
        if self.name == "music":
            return frame_nll(outputs, ys)
        logp = jax.nn.log_softmax(outputs, axis=-1)
        return -jnp.take_along_axis(logp, ys[..., None], axis=-1)[..., 0]

    def arrays(self) -> dict[str, Array]:
        """The training data and eval sets as device arrays, passed into compiled programs as arguments."""
        out = {"data": jnp.asarray(self.data)}
        if self.lengths is not None:
            out["lengths"] = jnp.asarray(self.lengths)
        for split, s in (("valid", self.valid), ("test", self.test)):
            out |= {
                f"{split}_xs": jnp.asarray(s.xs),
                f"{split}_ys": jnp.asarray(s.ys),
                f"{split}_mask": jnp.asarray(s.mask),
            }
        return out

    def sample(self, arrays: dict[str, Array], key: Array, batch: int, window: int) -> tuple[Array, Array, Array]:
        """``batch`` training windows ``(xs [B, W, D], ys, mask [B, W])`` of ``arrays["data"]``, a pure function
        of ``key``."""
        data = arrays["data"]
        if self.name == "music":
            k_piece, k_start = jax.random.split(key)
            lengths = arrays["lengths"]
            piece = jax.random.randint(k_piece, (batch,), 0, data.shape[0])
            span = jnp.maximum(lengths[piece] - window - 1, 0)  # the last start that keeps a full window
            start = jnp.floor(jax.random.uniform(k_start, (batch,)) * (span + 1).astype(jnp.float32)).astype(jnp.int32)
            cut = jax.vmap(lambda p, s: jax.lax.dynamic_slice_in_dim(data[p], s, window + 1))(piece, start)
            cut = cut.astype(jnp.float32)
            mask = jnp.arange(window)[None] < (lengths[piece] - 1 - start)[:, None]
            return cut[:, :-1], cut[:, 1:], mask.astype(jnp.float32)
        start = jax.random.randint(key, (batch,), 0, data.shape[0] - window - 1)
        cut = jax.vmap(lambda s: jax.lax.dynamic_slice_in_dim(data, s, window + 1))(start)
        xs = jax.nn.one_hot(cut[:, :-1], self.input_size, dtype=jnp.float32)
        return xs, cut[:, 1:], jnp.ones(cut[:, 1:].shape, jnp.float32)


def music_task(rolls: dict[str, np.ndarray], *, window: int, split_seed: int = 0) -> OdysseyTask:
    """The music task over ``rolls`` (``{name: [T, 128]}``, e.g. `load_chorales`)."""
    splits = split_pieces(list(rolls), split_seed)
    if min(len(s) for s in splits.values()) == 0:
        raise ValueError(f"the music task needs at least one piece per split; got {len(rolls)} pieces")
    train, lengths = pad_rolls([rolls[n] for n in splits["train"]], extra=window + 1)
    train = train.astype(np.uint8)

    def eval_set(names: list[str]) -> EvalSet:
        padded, lens = pad_rolls([rolls[n] for n in names])
        mask = (np.arange(padded.shape[1] - 1)[None] < (lens - 1)[:, None]).astype(np.float32)
        return EvalSet(padded[:, :-1], padded[:, 1:], mask)

    pitches = HIGH - LOW + 1
    info = {k: len(v) for k, v in splits.items()} | {"pitches": pitches, "step": "eighth note"}
    return OdysseyTask("music", pitches, pitches, "NLL/frame (nats)", 1.0, train, lengths,
                       eval_set(splits["valid"]), eval_set(splits["test"]), info)  # fmt: skip


def charlm_task(text: str, *, eval_chars: int, eval_length: int = 128) -> OdysseyTask:
    """The character LM over ``text`` (tinyshakespeare by default in `build_task`)."""
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    vocab = np.unique(codes)
    ids = np.searchsorted(vocab, codes).astype(np.int32)
    n_train, n_valid = int(0.9 * len(ids)), int(0.05 * len(ids))
    parts = {"train": ids[:n_train], "valid": ids[n_train : n_train + n_valid], "test": ids[n_train + n_valid :]}

    def eval_set(part: np.ndarray) -> EvalSet:
        part = part[: eval_chars + 1]
        n = (len(part) - 1) // eval_length
        if n == 0:
            raise ValueError(f"an eval split needs more than {eval_length} characters; got {len(part)}")
        xs = np.stack([part[k * eval_length : (k + 1) * eval_length] for k in range(n)])
        ys = np.stack([part[k * eval_length + 1 : (k + 1) * eval_length + 1] for k in range(n)])
        return EvalSet(np.eye(len(vocab), dtype=np.float32)[xs], ys, np.ones(ys.shape, np.float32))

    info = {"vocab": len(vocab), "train_chars": n_train, "eval_chars": eval_chars, "eval_length": eval_length}
    return OdysseyTask("charlm", len(vocab), len(vocab), "bits/char", 1.0 / math.log(2), parts["train"], None,
                       eval_set(parts["valid"]), eval_set(parts["test"]), info)  # fmt: skip


def build_task(name: str, *, window: int, eval_chars: int, split_seed: int = 0, rolls=None, cache_dir=None,
               log=None) -> OdysseyTask:  # fmt: skip
    """Task ``name`` (``music`` or ``charlm``); music reads ``rolls`` or the cached chorales."""
    if name == "music":
        if rolls is None:
            rolls = load_chorales(cache_dir, log)
        return music_task(rolls, window=window, split_seed=split_seed)
    if name == "charlm":
        from importlib import resources

        text = resources.files("recurrax.data").joinpath("embedded/tinyshakespeare.txt").read_text("utf-8")
        return charlm_task(text, eval_chars=eval_chars)
    raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
