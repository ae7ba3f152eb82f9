"""`fit_classifier`, `evaluate_classifier`, `predict_classifier`: a classification run from config to report,
and its reuse.

A run directory holds ``config.toml``, ``metrics.jsonl``, ``checkpoints/`` (each ``meta.json`` carries the
config, the class names, the scaler and the data fingerprint, so a checkpoint alone rebuilds the model and
its preprocessing), ``confusion_<split>.png``, ``report.md`` and ``reference_profile.json`` (the
`recurrax.metrics.ReferenceProfile` of the training cases' valid steps in data units, for drift monitoring).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...config import from_dict, to_dict
from ...metrics import REFERENCE_PROFILE_FILE, ReferenceProfile
from ...train import (
    FitResult,
    OptimConfig,
    find_checkpoint,
    fit,
    load_checkpoint,
    read_meta,
    same_architecture,
)
from ._augment import Augmentation, augmented_loss
from ._config import ClassifyConfig, DataConfig, ModelConfig
from ._data import Batches, Cases, ClassificationData, class_weights, load_raw, prepare
from ._ensemble import ClassifierEnsemble, ensemble_classify_loss
from ._metrics import accuracy, classify_loss, confusion_matrix, macro_f1, weighted_cross_entropy, write_confusion_png
from ._model import SequenceClassifier

Classifier = SequenceClassifier | ClassifierEnsemble


@dataclass
class ClassifyRun:
    """What `fit_classifier` returns: the chosen ``model`` (best on validation, else the last; a
    `ClassifierEnsemble` with ``model.ensemble > 1``), ``metrics``
    per split (``loss``, ``accuracy``, ``macro_f1``), the loop's `FitResult` and the ``selection`` record
    (`recurrax.tasks.classify.select_setting`; None when no choice was made)."""

    run_dir: Path
    model: Classifier
    classes: tuple[str, ...]
    metrics: dict[str, dict[str, float]]
    fit: FitResult
    selection: dict[str, Any] | None = None


@dataclass
class LoadedClassifier:
    """A trained classifier rebuilt from a checkpoint (`load_classifier`)."""

    model: Classifier
    config: ClassifyConfig
    classes: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    meta: dict[str, Any]
    checkpoint: Path


# Options added after checkpoints (and protocols) were first written, or whose default changed since, with the value
# that those were trained with: a config without the key predates it (the current default may differ).
LEGACY_DEFAULTS = {"model": {"input_norm": "none"}, "data": {"max_steps": None},
                   "select": {"mode": "off", "members": None, "steps": None},
                   "optim": {"schedule": "constant", "warmup_steps": 0}}  # fmt: skip


def legacy_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a checkpoint's) with every key of `LEGACY_DEFAULTS` that it lacks set to its old value."""
    out = dict(config)
    for section, values in LEGACY_DEFAULTS.items():
        out[section] = {**values, **out.get(section, {})}
    return out


def build_model(cfg: ModelConfig, input_size: int, num_classes: int, *, key: jax.Array) -> Classifier:
    """The `SequenceClassifier` that ``cfg`` describes; with ``cfg.ensemble = M > 1`` a `ClassifierEnsemble`
    of ``M`` of them (``key``: one key, split in ``M``, or ``[M]`` keys, one per member)."""

    def one(k: jax.Array) -> SequenceClassifier:
        return SequenceClassifier(
            input_size,
            num_classes,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            bidirectional=cfg.bidirectional,
            pooling=cfg.pooling,
            attention_size=cfg.attention_size,
            dropout=cfg.dropout,
            cell=cfg.cell,
            conv_channels=cfg.conv_channels,
            conv_kernels=cfg.conv_kernels,
            input_norm=cfg.input_norm,
            conv_norm=cfg.conv_norm,
            rnn_stride=cfg.rnn_stride,
            key=k,
        )

    return one(key) if cfg.ensemble == 1 else ClassifierEnsemble.create(cfg.ensemble, one, key=key)


def augmentation(cfg: DataConfig) -> Augmentation:
    """The training-time `Augmentation` of ``cfg`` (its ``augment_*`` options)."""
    return Augmentation(cfg.augment_crop, cfg.augment_warp, cfg.augment_scale, cfg.augment_noise)


def training_loss(cfg: ClassifyConfig) -> tuple[Any, OptimConfig]:
    """`fit`'s ``loss_fn`` and optimiser config for ``cfg``: `classify_loss` with the data's `Augmentation`;
    for an ensemble, its member loss with per-member clipping (the optimiser's own clipping then off)."""
    member = augmented_loss(classify_loss, augmentation(cfg.data))
    if cfg.model.ensemble == 1:
        return member, cfg.optim
    return ensemble_classify_loss(member, cfg.optim.clip_norm), dataclasses.replace(cfg.optim, clip_norm=None)


@eqx.filter_jit
def _logits(model: Classifier, xs: jax.Array, lengths: jax.Array) -> jax.Array:
    return model(xs, lengths)


def predict_logits(model: Classifier, xs: np.ndarray, lengths: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``[N, C]`` logits in chunks of ``batch_size`` (the last one padded: one compilation for every split)."""
    count, size = len(xs), batch_size
    out = []
    for start in range(0, count, size):
        chunk_x, chunk_n = xs[start : start + size], lengths[start : start + size]
        missing = size - len(chunk_x)
        if missing:
            chunk_x = np.concatenate([chunk_x, np.zeros((missing, *xs.shape[1:]), xs.dtype)])
            chunk_n = np.concatenate([chunk_n, np.ones(missing, lengths.dtype)])
        out.append(np.asarray(_logits(model, jnp.asarray(chunk_x), jnp.asarray(chunk_n)))[: size - missing])
    return np.concatenate(out)


def served_rows(cases: Cases, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The valid steps of standardised ``cases`` back in data units, float64 ``[sum(lengths), D]``: the rows
    that a served model's drift monitor observes (a missing value, 0 once scaled, comes back as the mean)."""
    valid = np.arange(cases.xs.shape[1])[None, :] < cases.lengths[:, None]
    return cases.xs[valid].astype(np.float64) * std.astype(np.float64) + mean.astype(np.float64)


def evaluate_cases(model: Classifier, cases: Cases, num_classes: int, weights: np.ndarray, batch_size: int) -> dict:
    """``{"loss", "accuracy", "macro_f1"}`` and the ``confusion`` matrix of ``model`` on ``cases``."""
    logits = predict_logits(model, cases.xs, cases.lengths, batch_size)
    loss = weighted_cross_entropy(jnp.asarray(logits), jnp.asarray(cases.labels), jnp.asarray(weights))
    predicted = logits.argmax(axis=-1)
    return {
        "loss": float(loss),
        "accuracy": accuracy(cases.labels, predicted),
        "macro_f1": macro_f1(cases.labels, predicted, num_classes),
        "confusion": confusion_matrix(cases.labels, predicted, num_classes),
    }


def train_classifier(
    cfg: ClassifyConfig,
    data: ClassificationData,
    run_dir: Path,
    *,
    init: SequenceClassifier | None = None,
    resume: bool = False,
    progress: bool = True,
) -> ClassifyRun:
    """One run on prepared ``data`` (`prepare`) in the started run directory ``run_dir``; ``init``: a trained
    model of the same architecture (an ensemble of as many members for ``model.ensemble > 1``) to start from
    instead of fresh weights (warm-start re-training, `recurrax.lifecycle.retrain`; the optimiser starts
    afresh)."""
    train = data.splits["train"]
    ReferenceProfile.from_values(served_rows(train, data.mean, data.std)).save(run_dir / REFERENCE_PROFILE_FILE)
    num_classes, input_size = len(data.classes), train.xs.shape[2]
    weights = class_weights(train.labels, num_classes, cfg.data.class_weights)
    seeds = [cfg.train.seed + m for m in range(cfg.model.ensemble)]
    keys = jnp.stack([jax.random.split(jax.random.key(seed))[1] for seed in seeds])
    model = build_model(cfg.model, input_size, num_classes, key=keys[0] if len(seeds) == 1 else keys)
    if init is not None:
        if not same_architecture(init, model):
            raise ValueError("init does not match the architecture that the config describes")
        model = init
    batches = [Batches(train, cfg.data.batch_size, weights, seed) for seed in seeds]
    loss_fn, optim = training_loss(cfg)

    def get_batch(index: int) -> dict[str, np.ndarray]:
        if len(batches) == 1:
            return batches[0](index)
        rows = [b(index) for b in batches]
        return {name: np.stack([r[name] for r in rows]) for name in rows[0]}

    meta = {
        "task": "classify",
        "config": to_dict(cfg),
        "classes": list(data.classes),
        "input_size": input_size,
        "scaler": {"mean": data.mean.tolist(), "std": data.std.tolist()},
        "data_fingerprint": data.fingerprint,
    }

    evaluate = None
    if "valid" in data.splits:

        def evaluate(m: Classifier) -> dict[str, float]:
            scores = evaluate_cases(m, data.splits["valid"], num_classes, weights, cfg.data.eval_batch_size)
            return {k: v for k, v in scores.items() if k != "confusion"}

    elif cfg.optim.schedule == "plateau" or cfg.train.early_stopping_patience:
        raise ValueError(
            "optim.schedule = 'plateau' and train.early_stopping_patience need a validation split: "
            "set data.valid_fraction > 0"
        )

    result = fit(
        model,
        loss_fn,
        get_batch,
        optim=optim,
        train=cfg.train,
        run_dir=run_dir,
        evaluate=evaluate,
        meta=meta,
        resume=resume,
        progress=progress,
    )
    final = result.best_model if result.best_model is not None else result.model
    metrics = {}
    for split, cases in data.splits.items():
        scores = evaluate_cases(final, cases, num_classes, weights, cfg.data.eval_batch_size)
        write_confusion_png(scores.pop("confusion"), data.classes, run_dir / f"confusion_{split}.png", split)
        metrics[split] = scores
    _write_report(run_dir / "report.md", cfg, metrics, data, result.step)
    return ClassifyRun(run_dir, final, data.classes, metrics, result)


def load_classifier(path: str | Path) -> LoadedClassifier:
    """The model, config, classes and scaler of a run directory (its best or latest checkpoint) or checkpoint."""
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    if meta.get("task") != "classify":
        raise ValueError(f"{checkpoint} is not a classifier checkpoint (task {meta.get('task')!r})")
    cfg = from_dict(ClassifyConfig, legacy_config(meta["config"]))
    classes = tuple(meta["classes"])
    skeleton = build_model(cfg.model, meta["input_size"], len(classes), key=jax.random.key(0))
    model, meta = load_checkpoint(checkpoint, skeleton)
    mean = np.asarray(meta["scaler"]["mean"], np.float32)
    std = np.asarray(meta["scaler"]["std"], np.float32)
    return LoadedClassifier(model, cfg, classes, mean, std, meta, checkpoint)


def evaluate_classifier(
    path: str | Path, split: str = "test", *, data_dir: str | Path | None = None, plot: str | Path | None = None
) -> dict[str, Any]:
    """``{"loss", "accuracy", "macro_f1", "confusion"}`` of a trained classifier on ``split`` of its data
    (loaded again from the run's config; it must have the training data's fingerprint). ``plot`` writes the
    confusion matrix PNG there."""
    loaded = load_classifier(path)
    cfg = loaded.config
    data = prepare(load_raw(cfg.data, data_dir), cfg.data, cfg.train.seed, classes=loaded.classes)
    if data.fingerprint != loaded.meta.get("data_fingerprint"):
        raise ValueError(f"the data differ from those {loaded.checkpoint} was trained on (sha256 {data.fingerprint})")
    if split not in data.splits:
        raise ValueError(f"the run has no {split!r} split; its splits are {', '.join(data.splits)}")
    weights = class_weights(data.splits["train"].labels, len(data.classes), cfg.data.class_weights)
    scores = evaluate_cases(loaded.model, data.splits[split], len(data.classes), weights, cfg.data.eval_batch_size)
    if plot is not None:
        write_confusion_png(scores["confusion"], data.classes, plot, split)
    return scores


def _write_report(path: Path, cfg: ClassifyConfig, metrics: dict, data: ClassificationData, steps: int) -> None:
    m = cfg.model
    lines = [
        f"# Sequence classification: {cfg.data.path or cfg.data.dataset}",
        "",
        (
            f"{len(data.classes)} classes, {data.splits['train'].xs.shape[2]} features; model: "
            f"{'bidirectional ' if m.bidirectional else ''}{m.cell} x{m.num_layers}, hidden {m.hidden_size}, "
            f"{m.pooling} pooling{f', conv branch {list(m.conv_channels)}' if m.conv_channels else ''}"
            f"{f', ensemble of {m.ensemble}' if m.ensemble > 1 else ''}; {steps} steps."
        ),
        "",
        "| split | cases | loss | accuracy | macro-F1 |",
        "|---|---|---|---|---|",
    ]
    for split, scores in metrics.items():
        cases = len(data.splits[split].labels)
        values = " | ".join(f"{scores[name]:.4f}" for name in ("loss", "accuracy", "macro_f1"))
        lines.append(f"| {split} | {cases} | {values} |")
    lines += ["", *(f"![{s}](confusion_{s}.png)" for s in metrics), ""]
    path.write_text("\n".join(lines))
