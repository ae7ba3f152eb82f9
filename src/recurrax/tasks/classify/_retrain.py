"""Re-training a classifier (`recurrax.lifecycle.retrain`): the warm-started challenger and both models' scores
on the same holdout cases (``loss``: the task's class-weighted cross-entropy, ``accuracy``, ``macro_f1``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from ...data import pad_series
from ...train import start_run_dir
from ...config import to_toml
from .._retraining import challenger_config
from ._config import ClassifyConfig
from ._data import class_weights, prepare, read_cases, stratified_split
from ._inference import predict_loaded
from ._metrics import accuracy, macro_f1, weighted_cross_entropy
from ._run import LoadedClassifier, load_classifier, train_classifier

Cases = tuple[list[np.ndarray], list[str]]


def warm_fit_classifier(model: Any, cfg: ClassifyConfig, cases: Cases, run_dir: str | Path, classes: Sequence[str],
                        *, progress: bool = False) -> Path:  # fmt: skip
    """Train the `SequenceClassifier` ``model`` further on raw labelled ``cases`` (``(series, labels)``, as
    `read_cases` returns them) as ``cfg`` says, with the champion's ``classes`` order, into ``run_dir``
    (returned): `fit_classifier`'s training started from ``model`` (the scaler is refit on the new cases;
    the optimiser starts afresh)."""
    run_dir = start_run_dir(run_dir, to_toml(cfg), False)
    data = prepare({"train": cases}, cfg.data, cfg.train.seed, classes=tuple(classes))
    return train_classifier(cfg, data, run_dir, init=model, progress=progress).run_dir


def challenge_classify(
    champion_path: Path, new_data: Any, holdout: Any, settings: Sequence[str], run_dir: Path,
    trainer: Callable[..., Path] | None, progress: bool,
) -> tuple[dict[str, float], dict[str, float]]:  # fmt: skip
    """Train the challenger on ``new_data`` (a file of labelled cases: ``.ts``, ``.npz``, ``.csv``; without a
    ``holdout``, all but a stratified ``data.valid_fraction`` of its cases, which become the holdout) and
    return ``(champion scores, challenger scores)`` on the same holdout cases (`holdout_scores`)."""
    champion = load_classifier(champion_path)
    cfg = challenger_config(champion.config, run_dir, settings)
    cases = _cases(new_data, "new_data", champion)
    if holdout is None:
        labels = np.asarray(cases[1])
        keep, held = stratified_split(labels, cfg.data.valid_fraction, cfg.train.seed)
        test = ([cases[0][i] for i in held], labels[held].tolist())
        cases = ([cases[0][i] for i in keep], labels[keep].tolist())
    else:
        test = _cases(holdout, "holdout", champion)
    if trainer is None:
        warm_fit_classifier(champion.model, cfg, cases, run_dir, champion.classes, progress=progress)
    else:
        trainer(champion.model, cfg, cases, run_dir, champion.classes)
    return holdout_scores(champion_path, test), holdout_scores(run_dir, test)


def holdout_scores(path: Path, cases: Cases) -> dict[str, float]:
    """Holdout ``loss``, ``accuracy`` and ``macro_f1`` of the classifier at ``path``. The loss is the task's
    (`weighted_cross_entropy`), with the class weights of the run's ``data.class_weights`` computed from the
    holdout labels, so champion and challenger are weighed alike (plain mean cross-entropy for ``"none"``)."""
    loaded = load_classifier(path)
    classes = list(loaded.classes)
    xs, lengths = pad_series(cases[0])
    _, probabilities = predict_loaded(loaded, xs, lengths)
    truth = np.asarray([classes.index(label) for label in cases[1]])
    predicted = probabilities.argmax(axis=-1)
    weights = class_weights(truth, len(classes), loaded.config.data.class_weights)
    log_probabilities = jnp.log(jnp.maximum(jnp.asarray(probabilities), 1e-12))
    loss = weighted_cross_entropy(log_probabilities, jnp.asarray(truth), jnp.asarray(weights))
    scores = {"loss": float(loss), "accuracy": accuracy(truth, predicted)}
    return {**scores, "macro_f1": macro_f1(truth, predicted, len(classes))}


def _cases(data: Any, what: str, champion: LoadedClassifier) -> Cases:
    try:
        series, labels = read_cases(Path(data))
    except TypeError:
        raise ValueError(f"{what} must be a path to labelled cases (.ts, .npz or .csv), got {data!r}") from None
    unknown = sorted(set(labels) - set(champion.classes))
    if unknown:
        raise ValueError(f"{what} has classes the production model does not know: {unknown[:5]}")
    if any(s.shape[1] != champion.mean.size for s in series):
        raise ValueError(f"{what} must have {champion.mean.size} features per step, like the production model")
    return series, labels
