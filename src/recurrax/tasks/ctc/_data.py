"""Rendered text lines for CTC: words of Tiny Shakespeare split into disjoint train / valid / test word sets,
lines drawn by the ``captcha`` package's renderer (seeded), read as sequences of pixel columns.

The ``captcha`` renderer draws its randomness from the ``secrets`` module, which cannot be seeded; `render_line`
hands it a seeded stand-in (`SeededSecrets`) for the duration of one call, so a line is a pure function of its
text, the `DataConfig` and the NumPy generator state (not thread-safe: one render at a time per process).
"""

from __future__ import annotations

import hashlib
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Iterator

import numpy as np

from ..._extras import MissingExtra
from ._config import DataConfig

ALPHABET = " abcdefghijklmnopqrstuvwxyz"
"""The labels: character ``ALPHABET[k - 1]`` is label ``k``; label 0 is the CTC blank."""
BLANK = 0
SPLITS = ("train", "valid", "test")
INK_SCALE = 255.0  # a column's uint8 ink intensities / INK_SCALE are the model's inputs in [0, 1]
_CANVAS = 60  # captcha's canvas height in pixels; the fonts are drawn on it, then scaled to ``height``


@dataclass(frozen=True)
class Lines:
    """Rendered lines: ``images`` (one ``[W_i, height]`` uint8 array of ink intensities ``0..255`` per line,
    columns first) and their ``texts``."""

    images: list[np.ndarray]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def encode(text: str) -> np.ndarray:
    """``text`` -> int32 labels ``[len(text)]`` (1..27); a character outside `ALPHABET` is a ValueError."""
    unknown = sorted(set(text) - set(ALPHABET))
    if unknown:
        raise ValueError(f"characters {unknown} are not in the alphabet {ALPHABET!r}")
    return np.asarray([ALPHABET.index(c) + 1 for c in text], np.int32)


def decode(labels: Any) -> str:
    """Labels (1..27; blanks 0 are skipped) -> text."""
    return "".join(ALPHABET[int(k) - 1] for k in labels if int(k) != BLANK)


def word_splits(cfg: DataConfig) -> dict[str, list[str]]:
    """The distinct lower-case words (letters a-z, at most ``max_chars`` long) of Tiny Shakespeare, shuffled
    by ``cfg.seed`` and cut into disjoint ``train`` / ``valid`` / ``test`` word lists."""
    text = (files("recurrax.data") / "embedded" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    words = sorted(w for w in set(re.findall(r"[a-z]+", text.lower())) if len(w) <= cfg.max_chars)
    order = np.random.default_rng([cfg.seed, 0]).permutation(len(words))
    n_test, n_valid = math.ceil(cfg.test_words * len(words)), math.ceil(cfg.valid_words * len(words))
    picked = [words[i] for i in order]
    return {
        "test": picked[:n_test],
        "valid": picked[n_test : n_test + n_valid],
        "train": picked[n_test + n_valid :],
    }


def line_texts(words: list[str], count: int, cfg: DataConfig, rng: np.random.Generator) -> list[str]:
    """``count`` lines of 1 to ``max_words`` words from ``words`` (uniform), at most ``max_chars`` long."""
    out = []
    while len(out) < count:
        size = int(rng.integers(1, cfg.max_words + 1))
        line = " ".join(words[i] for i in rng.integers(0, len(words), size))
        if len(line) <= cfg.max_chars:
            out.append(line)
    return out


class SeededSecrets:
    """The part of the ``secrets`` module that ``captcha`` calls (``randbelow``, ``randbits``, ``choice``),
    drawn from a NumPy generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def randbelow(self, n: int) -> int:
        return int(self.rng.integers(n))

    def randbits(self, k: int) -> int:
        return int(self.rng.integers(0, 2**k))

    def choice(self, seq: Any) -> Any:
        return seq[int(self.rng.integers(len(seq)))]


def _captcha_image() -> Any:
    try:
        import captcha.image
    except ImportError as error:
        raise MissingExtra("the ctc task's data need captcha: pip install 'recurrax[ctc]'") from error
    return captcha.image


@contextmanager
def _seeded(module: Any, rng: np.random.Generator) -> Iterator[None]:
    saved = module.secrets
    module.secrets = SeededSecrets(rng)
    try:
        yield
    finally:
        module.secrets = saved


class Renderer:
    """Draws a text line as `DataConfig` says (``font_sizes``, ``rotate``, ``warp``, ``overlap``, ``noise``,
    ``height``, ``width_scale``): ``renderer(text, rng)`` -> ``[W, height]`` uint8 columns, the canvas cut 6
    pixels after the text's last inked column (before the noise is drawn: ``noise`` adds ``W_canvas // 8`` dots
    and one arc inside that width)."""

    def __init__(self, cfg: DataConfig):
        self.module = _captcha_image()
        self.height, self.width_scale, self.noise = cfg.height, cfg.width_scale, cfg.noise
        self.generator = self.module.ImageCaptcha(width=1, height=_CANVAS, font_sizes=tuple(cfg.font_sizes))
        self.generator.character_rotate = (-cfg.rotate, cfg.rotate)
        self.generator.character_warp_dx = (0.0, cfg.warp)
        self.generator.character_warp_dy = (0.0, cfg.warp)
        self.generator.character_offset_dx = (0, 2)
        self.generator.character_offset_dy = (0, 4)
        self.generator.word_space_probability = 1.0  # no random gaps: only the text's own spaces
        self.generator.word_offset_dx = cfg.overlap

    def __call__(self, text: str, rng: np.random.Generator) -> np.ndarray:
        from PIL.Image import Resampling
        from PIL.ImageFilter import SMOOTH

        if not text:
            raise ValueError("cannot render an empty line")
        white, black = (255, 255, 255), (0, 0, 0)
        self.generator._width = 64 * len(text) + 16  # wider than any line: never squeezed
        with _seeded(self.module, rng):
            image = self.generator.create_captcha_image(text, white, black)
            inked = np.flatnonzero(np.asarray(image.convert("L")).max(axis=0) > 25)
            end = min(image.width, (int(inked[-1]) + 6) if len(inked) else image.width)
            image = image.crop((0, 0, end, image.height))  # cut after the text, before any noise
            if self.noise:
                self.generator.create_noise_dots(image, white, number=max(4, end // 8))
                self.generator.create_noise_curve(image, white)
                image = image.filter(SMOOTH)
        width = max(1, round(image.width * self.width_scale * self.height / _CANVAS))
        columns = image.convert("L").resize((width, self.height), Resampling.BILINEAR)
        return np.ascontiguousarray(np.asarray(columns, np.uint8).T)


def make_split(cfg: DataConfig, split: str) -> Lines:
    """The ``split`` lines of ``cfg`` (each split has its own seeded stream, so one can be made alone)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; the splits are {', '.join(SPLITS)}")
    count = {"train": cfg.train_lines, "valid": cfg.valid_lines, "test": cfg.test_lines}[split]
    index = SPLITS.index(split) + 1
    texts = line_texts(word_splits(cfg)[split], count, cfg, np.random.default_rng([cfg.seed, index, 0]))
    render, rng = Renderer(cfg), np.random.default_rng([cfg.seed, index, 1])
    return Lines([render(text, rng) for text in texts], texts)


def fingerprint(splits: dict[str, Lines]) -> str:
    """sha256 of every split's texts and images (in split-name order)."""
    digest = hashlib.sha256()
    for split in sorted(splits):
        for image, text in zip(splits[split].images, splits[split].texts):
            digest.update(text.encode() + b"\0" + np.asarray(image.shape, np.int64).tobytes() + image.tobytes())
    return digest.hexdigest()


def pad_lines(
    images: list[np.ndarray], texts: list[str] | None, pad_to: int, steps: int | None = None
) -> dict[str, np.ndarray]:
    """A batch: ``xs`` ``[B, T, H]`` float32 in ``[0, 1]`` (``T`` the longest width, or ``steps``, rounded up
    to a multiple of ``pad_to``; zero past each width), ``lengths`` ``[B]``; with ``texts`` also ``labels``
    ``[B, N]`` int32 (0 past each label length, ``N`` the longest text rounded up to a multiple of 8) and
    ``label_lengths``."""
    steps = max([len(image) for image in images] + [steps or 0])
    steps = pad_to * math.ceil(steps / pad_to)
    xs = np.zeros((len(images), steps, images[0].shape[1]), np.float32)
    for row, image in enumerate(images):
        xs[row, : len(image)] = image / np.float32(INK_SCALE)
    batch = {"xs": xs, "lengths": np.asarray([len(image) for image in images], np.int32)}
    if texts is not None:
        width = 8 * math.ceil(max(max(len(t) for t in texts), 1) / 8)
        labels = np.zeros((len(texts), width), np.int32)
        for row, text in enumerate(texts):
            labels[row, : len(text)] = encode(text)
        batch["labels"], batch["label_lengths"] = labels, np.asarray([len(t) for t in texts], np.int32)
    return batch


class Batches:
    """``get_batch(i)`` for `fit`: every epoch a seeded permutation of the lines is cut into pools of
    ``pool`` batches, each pool sorted by width and cut into batches, and the batches are shuffled
    (deterministic in ``i``; lines of similar width share a batch, so little of the scan runs on padding).
    Batches are padded by `pad_lines` (widths to a multiple of ``pad_to``: a few shapes compile); an epoch's
    last, short batch is dropped."""

    def __init__(self, lines: Lines, batch_size: int, seed: int, pad_to: int, pool: int = 50):
        self.lines, self.seed, self.pad_to, self.pool = lines, seed, pad_to, pool
        self.batch_size = min(batch_size, len(lines))
        self.per_epoch = len(lines) // self.batch_size
        self.widths = np.asarray([len(image) for image in lines.images])
        self._epoch: tuple[int, list[np.ndarray]] | None = None

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The index arrays of epoch ``epoch``'s batches, in training order."""
        if self._epoch is None or self._epoch[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.lines))[: self.per_epoch * self.batch_size]
            batches = []
            for start in range(0, len(order), self.pool * self.batch_size):
                chunk = order[start : start + self.pool * self.batch_size]
                chunk = chunk[np.argsort(self.widths[chunk], kind="stable")]
                batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
            self._epoch = (epoch, [batches[i] for i in rng.permutation(len(batches))])
        return self._epoch[1]

    def __call__(self, index: int) -> dict[str, np.ndarray]:
        epoch, position = divmod(index, self.per_epoch)
        chosen = self.epoch(epoch)[position]
        return pad_lines([self.lines.images[i] for i in chosen], [self.lines.texts[i] for i in chosen], self.pad_to)


def image_columns(image: np.ndarray, height: int, width_scale: float = 1.0) -> np.ndarray:
    """A grey-scale image ``[rows, W]`` (uint8, or floats in ``[0, 1]``) -> ``[W', height]`` uint8 columns as
    the model reads them: scaled to ``height`` rows, its width ``width_scale`` times as much, and inverted when
    its mean is above half (dark text on a light background becomes bright ink on black, as rendered)."""
    from PIL import Image
    from PIL.Image import Resampling

    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"expected a grey-scale image [rows, W], got shape {array.shape}")
    if array.dtype != np.uint8:
        array = np.clip(np.round(array.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    if array.mean() > 127.5:
        array = 255 - array
    width = max(1, round(array.shape[1] * width_scale * height / array.shape[0]))
    return np.asarray(Image.fromarray(array).resize((width, height), Resampling.BILINEAR), np.uint8).T.copy()
