"""`fit_ctc`, `evaluate_ctc`, `predict_ctc`, `load_ctc`: a CTC line-recognition run from config to report,
and its reuse.

A run directory holds ``config.toml``, ``metrics.jsonl``, ``checkpoints/`` (each ``meta.json`` carries the
config, the alphabet and the data fingerprint, so a checkpoint alone rebuilds the model and its renderer),
``examples_<split>.png`` (lines with their reference and recognised text) and ``report.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...config import from_dict, to_dict, to_toml
from ...metrics import cer, wer
from ...train import FitResult, find_checkpoint, fit, load_checkpoint, read_meta, start_run_dir
from ._config import CTCConfig, DecodeConfig, ModelConfig
from ._data import ALPHABET, SPLITS, Batches, Lines, decode, fingerprint, image_columns, make_split, pad_lines
from ._decode import greedy_decode, prefix_beam_search
from ._model import CTCRecognizer, ctc_loss, ctc_nll
from ._plot import write_examples_png

NUM_LABELS = len(ALPHABET) + 1


@dataclass
class CTCRun:
    """What `fit_ctc` returns: the kept ``model`` (best valid loss), ``metrics`` per split (``loss``, ``cer``,
    ``wer``, ``line_accuracy``), the loop's `FitResult` and the seconds spent rendering the data."""

    run_dir: Path
    model: CTCRecognizer
    metrics: dict[str, dict[str, float]]
    fit: FitResult
    data_seconds: float


@dataclass
class LoadedCTC:
    """A trained recogniser rebuilt from a checkpoint (`load_ctc`)."""

    model: CTCRecognizer
    config: CTCConfig
    meta: dict[str, Any]
    checkpoint: Path


def build_model(cfg: ModelConfig, input_size: int, *, key: jax.Array) -> CTCRecognizer:
    """The `CTCRecognizer` that ``cfg`` describes, over `ALPHABET` plus the blank."""
    return CTCRecognizer(
        input_size,
        NUM_LABELS,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        bidirectional=cfg.bidirectional,
        dropout=cfg.dropout,
        cell=cfg.cell,
        key=key,
    )


def frame_scores(model: CTCRecognizer, xs: jax.Array, lengths: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(log_probs [B, T, K], labels [B, T])`` of ink columns ``xs`` ``[B, T, height]`` in ``[0, 1]`` with
    ``lengths`` ``[B]``: ``log_softmax`` of the model's logits, and the most likely label of each frame (the
    blank, 0, past each length), whose `collapse` is the greedy decoding. The inference that `predict_ctc`
    runs and `ctc_inference` exports."""
    log_probs = jax.nn.log_softmax(model(xs, lengths), axis=-1)
    valid = jnp.arange(xs.shape[1])[None, :] < lengths[:, None]
    return log_probs, jnp.where(valid, jnp.argmax(log_probs, axis=-1), 0).astype(jnp.int32)


@eqx.filter_jit
def _scores(model: CTCRecognizer, batch: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
    log_probs, _ = frame_scores(model, batch["xs"], batch["lengths"])
    return log_probs, ctc_nll(log_probs, batch["lengths"], batch["labels"], batch["label_lengths"])


def frame_log_probs(
    model: CTCRecognizer, images: list[np.ndarray], texts: list[str] | None, batch_size: int, pad_to: int
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Per-line log-probabilities ``[W_i, K]`` (float32) and, with ``texts``, the per-line CTC negative
    log-likelihoods ``[N]``; in chunks of ``batch_size`` padded to one shape (one compilation per call)."""
    steps = max(len(image) for image in images)
    size = min(batch_size, len(images))
    out, losses = [], []
    for start in range(0, len(images), size):
        chunk = list(images[start : start + size])
        labels = list(texts[start : start + size]) if texts is not None else ["a"] * len(chunk)
        missing = size - len(chunk)
        chunk += [chunk[0]] * missing
        labels += [labels[0]] * missing
        log_probs, nll = _scores(model, pad_lines(chunk, labels, pad_to, steps))
        log_probs = np.asarray(log_probs)
        out += [log_probs[row, : len(image)] for row, image in enumerate(chunk[: size - missing])]
        losses.append(np.asarray(nll)[: size - missing])
    return out, (np.concatenate(losses) if texts is not None else None)


def decode_lines(log_probs: list[np.ndarray], cfg: DecodeConfig) -> list[str]:
    """Text for each ``[W, K]`` log-probabilities by ``cfg.method`` (`greedy_decode` or `prefix_beam_search`)."""
    if cfg.method == "greedy":
        return [decode(greedy_decode(lp)) for lp in log_probs]
    return [decode(prefix_beam_search(lp, beam_size=cfg.beam_size)[0][0]) for lp in log_probs]


def evaluate_lines(
    model: CTCRecognizer, lines: Lines, cfg: CTCConfig, decode_cfg: DecodeConfig | None = None
) -> tuple[dict[str, float], list[str]]:
    """(``{"loss", "cer", "wer", "line_accuracy"}``, the recognised texts) of ``model`` on ``lines``; ``loss``
    is the mean CTC negative log-likelihood per label (as the training loss)."""
    log_probs, nll = frame_log_probs(model, lines.images, lines.texts, cfg.data.eval_batch_size, cfg.data.pad_to)
    predicted = decode_lines(log_probs, decode_cfg or cfg.decode)
    label_lengths = np.asarray([max(len(t), 1) for t in lines.texts], np.float64)
    scores = {
        "loss": float(np.mean(nll / label_lengths)),
        "cer": cer(lines.texts, predicted),
        "wer": wer(lines.texts, predicted),
        "line_accuracy": float(np.mean([t == p for t, p in zip(lines.texts, predicted)])),
    }
    return scores, predicted


def train_ctc(
    cfg: CTCConfig, splits: dict[str, Lines], run_dir: Path, *, resume: bool = False, progress: bool = True
) -> CTCRun:
    """One run on rendered ``splits`` (`make_split`: ``train`` and ``valid``, and ``test`` when it is to be
    scored) in the started run directory ``run_dir``."""
    train = splits["train"]
    model = build_model(cfg.model, cfg.data.height, key=jax.random.split(jax.random.key(cfg.train.seed))[1])
    batches = Batches(train, cfg.data.batch_size, cfg.train.seed, cfg.data.pad_to)
    meta = {
        "task": "ctc",
        "config": to_dict(cfg),
        "alphabet": ALPHABET,
        "input_size": cfg.data.height,
        "data_fingerprint": fingerprint(splits),
    }
    greedy = DecodeConfig(method="greedy")

    def evaluate(m: CTCRecognizer) -> dict[str, float]:
        return evaluate_lines(m, splits["valid"], cfg, greedy)[0]

    result = fit(
        model,
        ctc_loss,
        batches,
        optim=cfg.optim,
        train=cfg.train,
        run_dir=run_dir,
        evaluate=evaluate,
        meta=meta,
        resume=resume,
        progress=progress,
    )
    final = result.best_model if result.best_model is not None else result.model
    metrics = {}
    for split in (name for name in SPLITS[1:] if name in splits):
        scores, predicted = evaluate_lines(final, splits[split], cfg)
        write_examples_png(splits[split], predicted, run_dir / f"examples_{split}.png", split)
        metrics[split] = scores
    _write_report(run_dir / "report.md", cfg, metrics, splits, result.step)
    return CTCRun(run_dir, final, metrics, result, 0.0)


def fit_ctc(cfg: CTCConfig, run_dir: str | Path, *, resume: bool = False, progress: bool = True) -> CTCRun:
    """Render the lines that ``cfg.data`` describes and train a CTC recogniser on them into ``run_dir``.

    Validation (``loss`` and the greedy ``cer``, ``wer``, ``line_accuracy`` on the valid lines, every
    ``train.eval_every`` steps) keeps the checkpoint with the lowest valid loss. That model is then scored on
    the valid and test lines with ``cfg.decode``, with an examples PNG per split and ``report.md``; the
    training lines are not rescored (their words are the training words).
    """
    run_dir = start_run_dir(run_dir, to_toml(cfg), resume)
    start = time.perf_counter()
    splits = {split: make_split(cfg.data, split) for split in SPLITS}
    seconds = time.perf_counter() - start
    run = train_ctc(cfg, splits, run_dir, resume=resume, progress=progress)
    run.data_seconds = seconds
    return run


def load_ctc(path: str | Path) -> LoadedCTC:
    """The model and config of a run directory (its best or latest checkpoint) or checkpoint."""
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    if meta.get("task") != "ctc":
        raise ValueError(f"{checkpoint} is not a CTC checkpoint (task {meta.get('task')!r})")
    if meta.get("alphabet") != ALPHABET:
        raise ValueError(f"{checkpoint} was trained on another alphabet ({meta.get('alphabet')!r})")
    cfg = from_dict(CTCConfig, meta["config"])
    skeleton = build_model(cfg.model, meta["input_size"], key=jax.random.key(0))
    model, meta = load_checkpoint(checkpoint, skeleton)
    return LoadedCTC(model, cfg, meta, checkpoint)


def evaluate_ctc(
    path: str | Path, split: str = "test", *, decode_cfg: DecodeConfig | None = None, plot: str | Path | None = None
) -> dict[str, Any]:
    """``{"loss", "cer", "wer", "line_accuracy", "lines"}`` of a trained recogniser on ``split`` (``valid`` or
    ``test``) of its data, rendered again from the run's config (only that split); ``decode_cfg`` overrides the
    run's ``decode`` section; ``plot`` writes an examples PNG there."""
    loaded = load_ctc(path)
    cfg = loaded.config
    if split not in ("valid", "test"):
        raise ValueError(f"split must be valid or test, got {split!r}")
    lines = make_split(cfg.data, split)
    scores, predicted = evaluate_lines(loaded.model, lines, cfg, decode_cfg)
    if plot is not None:
        write_examples_png(lines, predicted, plot, split)
    return {**scores, "lines": len(lines)}


def predict_ctc(
    path: str | Path, images: list[np.ndarray], *, decode_cfg: DecodeConfig | None = None, columns: bool = False
) -> list[str]:
    """The text of each grey-scale line image ``[rows, W]`` (uint8 or floats in ``[0, 1]``; converted by
    `image_columns` with the run's ``height`` and ``width_scale``), or of each ``[W, height]`` uint8 column
    sequence as rendered (``columns=True``); decoded by the run's ``decode`` section unless ``decode_cfg``."""
    loaded = load_ctc(path)
    data = loaded.config.data
    if not images:
        raise ValueError("no images to recognise")
    if columns:
        sequences = [np.asarray(image) for image in images]
        for sequence in sequences:
            if sequence.ndim != 2 or sequence.shape[1] != data.height:
                raise ValueError(f"expected column sequences [W, {data.height}], got shape {sequence.shape}")
    else:
        sequences = [image_columns(image, data.height, data.width_scale) for image in images]
    log_probs, _ = frame_log_probs(loaded.model, sequences, None, data.eval_batch_size, data.pad_to)
    return decode_lines(log_probs, decode_cfg or loaded.config.decode)


def _write_report(path: Path, cfg: CTCConfig, metrics: dict, splits: dict[str, Lines], steps: int) -> None:
    m, d = cfg.model, cfg.data
    lines = [
        "# CTC line recognition: rendered Tiny Shakespeare words",
        "",
        (
            f"{len(splits['train'])} training lines ({d.max_words} words and {d.max_chars} characters at most), "
            f"height {d.height}, rotate ±{d.rotate}°, warp {d.warp}{', noise' if d.noise else ''}; model: "
            f"{'bidirectional ' if m.bidirectional else ''}{m.cell} x{m.num_layers}, hidden {m.hidden_size}; "
            f"{steps} steps; {cfg.decode.method} decoding"
            f"{f' (beam {cfg.decode.beam_size})' if cfg.decode.method == 'beam' else ''}. "
            "Valid and test lines hold only words absent from the training lines."
        ),
        "",
        "| split | lines | loss | CER | WER | line accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for split, scores in metrics.items():
        values = " | ".join(f"{scores[name]:.4f}" for name in ("loss", "cer", "wer", "line_accuracy"))
        lines.append(f"| {split} | {len(splits[split])} | {values} |")
    lines += ["", *(f"![{s}](examples_{s}.png)" for s in metrics), ""]
    path.write_text("\n".join(lines))
