"""Bach chorales as piano rolls, the polyphonic music task of Greff et al. 2017 (JSB Chorales).

The chorales come from the corpus inside the ``music21`` wheel (no download): every ``bach/*.mxl`` score
with exactly four parts (the SATB harmonisations, as in Boulanger-Lewandowski et al. 2012's JSB set). A score
becomes a binary piano roll ``[T, P]`` (`piano_roll`): frame ``t`` covers ``[t * step, (t + 1) * step)``
quarter notes (``step = 0.5``: eighth notes) and pitch ``p`` (MIDI ``low + p``) is on when a note of that
pitch *sounds at the frame's start* (onset <= t * step < onset + duration; tied notes are one note, notes
shorter than a frame that start between frame starts are dropped, as in sampling a MIDI roll).

Parsing all chorales takes a minute or two; `load_chorales` caches the rolls over the full MIDI range
(``[T, 128]`` uint8) in ``<cache>/music21_chorales/rolls_v1.npz`` (``$RECURRAX_CACHE`` or
``~/.cache/recurrax``). `frame_nll` is the paper's measure: the negative log-likelihood of each binary frame
under independent sigmoid outputs, ``-Σ_p [y_p log σ(z_p) + (1 - y_p) log(1 - σ(z_p))]``, in nats per frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._extras import require
from ..data import cache_root

STEP = 0.5
"""Frame length in quarter notes (eighth notes)."""
LOW, HIGH = 36, 84
"""The pitch range kept, MIDI ``LOW..HIGH`` inclusive (C2..C6: every note of the four-part chorales but
the few below C2 or above C6, which are dropped)."""
CACHE_NAME = "music21_chorales/rolls_v1.npz"


def piano_roll(score, *, step: float = STEP, low: int = 0, high: int = 127) -> np.ndarray:
    """``[T, high - low + 1]`` uint8 roll of a music21 stream, ``T = ceil(highestTime / step)``.

    Example:
        >>> from music21 import note, stream
        >>> s = stream.Stream([note.Note("C4", quarterLength=1.0), note.Note("E4", quarterLength=0.5)])
        >>> piano_roll(s, low=60, high=64).tolist()
        [[1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 1]]
    """
    flat = score.stripTies().flatten()
    frames = math.ceil(float(score.highestTime) / step - 1e-9)
    roll = np.zeros((frames, high - low + 1), np.uint8)
    for element in flat.notes:
        onset = float(element.getOffsetInHierarchy(flat))
        end = onset + float(element.duration.quarterLength)
        first, stop = math.ceil(onset / step - 1e-9), math.ceil(end / step - 1e-9)  # frame starts in [onset, end)
        for pitch in element.pitches:
            if low <= pitch.midi <= high and stop > first:
                roll[first:stop, pitch.midi - low] = 1
    return roll


def chorale_paths() -> list[Path]:
    """The ``bach/*.mxl`` scores of the music21 corpus, sorted by name."""
    corpus = require("music21.corpus", "the odyssey study's music task")
    return sorted((p for p in corpus.getComposer("bach") if Path(p).suffix == ".mxl"), key=lambda p: Path(p).name)


def load_chorales(
    cache_dir: str | Path | None = None, log: Callable[[str], None] | None = None
) -> dict[str, np.ndarray]:
    """``{name: roll [T, 128] uint8}`` of the four-part chorales, from the cache or parsed (and cached)."""
    path = cache_root(cache_dir) / CACHE_NAME
    if path.exists():
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    corpus = require("music21.corpus", "the odyssey study's music task")
    rolls = {}
    paths = chorale_paths()
    for k, p in enumerate(paths):
        score = corpus.parse(p)
        if len(score.parts) == 4:
            rolls[Path(p).stem] = piano_roll(score)
        if log and (k + 1) % 50 == 0:
            log(f"parsed {k + 1}/{len(paths)} Bach scores")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **rolls)
    tmp.replace(path)
    return rolls


def split_pieces(names: list[str], seed: int, fractions=(0.6, 0.2, 0.2)) -> dict[str, list[str]]:
    """``{"train", "valid", "test"}`` lists of piece names: a seeded permutation of the sorted names, cut at
    ``fractions`` (JSB's 229 / 76 / 77 is about 0.6 / 0.2 / 0.2). Each piece is in exactly one split."""
    order = np.random.default_rng(seed).permutation(sorted(names)).tolist()
    n_train = round(fractions[0] * len(order))
    n_valid = round(fractions[1] * len(order))
    return {"train": order[:n_train], "valid": order[n_train : n_train + n_valid], "test": order[n_train + n_valid :]}


def pad_rolls(
    rolls: list[np.ndarray], low: int = LOW, high: int = HIGH, extra: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(rolls [N, T_max + extra, P] float32, lengths [N])``: the pitch range ``low..high`` of each
    ``[T, 128]`` roll, zero-padded at the end."""
    lengths = np.array([len(r) for r in rolls], np.int32)
    out = np.zeros((len(rolls), int(lengths.max()) + extra, high - low + 1), np.float32)
    for k, r in enumerate(rolls):
        out[k, : len(r)] = r[:, low : high + 1]
    return out, lengths


def frame_nll(logits: Array, frames: Array) -> Array:
    """``[..., P], [..., P] -> [...]``: ``-Σ_p log p(frame_p | logits_p)`` under independent sigmoids, in nats
    (computed stably as ``Σ_p softplus(z_p) - y_p z_p``)."""
    return jnp.sum(jax.nn.softplus(logits) - frames * logits, axis=-1)
