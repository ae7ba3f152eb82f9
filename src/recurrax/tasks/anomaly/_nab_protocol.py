"""The NAB evaluator of benchmark protocols: 2-fold by file, settings and threshold chosen on one half.

The 58 files are dealt into two halves per category (sorted by name, shuffled with a fixed seed, dealt in
turn), so every category is in both. Fold ``f`` develops on half ``f`` and tests on the other:

- ``split="dev"``: the detector's corpus score on half ``f`` with the threshold NAB's optimiser picks on
  half ``f`` (labels of half ``f`` only).
- ``split="test"``: the threshold picked on half ``f`` is applied to the other half, whose normalised score
  (null 0, perfect 100, over that half) is the held-out result. ``corpus_*`` adds the usual full-corpus
  score with the threshold picked on the whole corpus (NAB's scoreboard protocol, for comparison only: its
  threshold sees every label).

The detector is online. ``program = "scorer"`` (`online_scores`): a ``prediction`` LSTM scorer fitted on each
file's probationary period, streamed over the file. ``program = "joint"`` (`online_forecasts`, one compiled program
per file): the same LSTM with optional time-stamp inputs (``time_features``), seasonal lags (``seasonal_lags``),
continual learning on every past point (``learn_every``) and a vmapped ensemble (``ensemble``). Either way the
errors, optionally averaged over the last ``smooth`` points and with ``persist = k > 1`` replaced by the smallest
of the last ``k`` (an error counts when it lasts), become [0, 1] scores by ``transform`` (``novelty`` against the
largest error of the last ``long`` points, or their ``quantile`` quantile, the probationary period's errors counted
``probation_scale`` times larger: the forecaster trained on them, so they understate its errors on unseen points;
``likelihood``). With ``seasonal = S > 0`` a second channel catches changes of the daily pattern: the novelty
(against its largest value over the last ``long`` points) of `seasonal_residual`, the mean distance of the last
``S`` values from the same time one day earlier; with ``level = L > 0`` a third catches changes of level: the
novelty of `level_shift`, the distance of the mean of the last ``L`` values from the median of the ``level_before``
values before them, in their standard deviations; with ``spatial = m > 0`` a fourth scores 1 where a value leaves
the range of every earlier value by more than ``m`` times that range (`range_break`, Numenta's "spatial anomaly").
A point's score is the largest of the channels. ``rest = R > 0`` then keeps a score only where it exceeds every
score of the ``R`` points before it (`rest_period`: one event raises one alarm). Scores are 0 in the probationary
period, which NAB does not score. Raw errors depend on the model settings and the seed only, so they are computed
once per (settings, seed) and kept in ``<workdir>/../nab_raw/`` for the other candidates, folds and splits. Scores
are rounded to 12 significant digits, as NAB's results files hold them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from ...data import NabSeries, load_nab
from ...metrics import nab_corpus_score
from ...train import OptimConfig, TrainConfig
from ._channels import level_shift, range_break, seasonal_residual
from ._online import OnlineConfig, online_forecasts
from ._likelihood import anomaly_likelihood, log_likelihood_score, novelty_score, rest_period
from ._scorers import ScorerConfig
from ._streaming import online_scores

MODEL_KEYS = ("hidden_size", "window", "steps", "lr", "batch_size", "learn_every")
JOINT_KEYS = ("program", "time_features", "seasonal_lags", "ensemble", "learn_lr")
DEFAULTS = {"hidden_size": 16, "window": 32, "steps": 300, "lr": 5e-3, "batch_size": 64, "learn_every": 0,
            "transform": "novelty", "long": 8640, "short": 1, "smooth": 1, "quantile": 1.0, "program": "scorer",
            "time_features": False, "seasonal_lags": False, "ensemble": 1, "learn_lr": None, "seasonal": 0, "level": 0,
            "level_before": 288, "spatial": 0.0, "persist": 1, "probation_scale": 1.0, "rest": 0}  # fmt: skip
NAB_DETECTOR: dict[str, Any] = {"program": "joint", "seasonal_lags": True, "ensemble": 3, "transform": "novelty",
                                "long": 8640, "quantile": 0.999, "seasonal": 48, "level": 96, "spatial": 0.02,
                                "persist": 2, "probation_scale": 3.0, "rest": 30}  # fmt: skip
"""The settings of `nab_scores` by default (and of ``recurrax anomaly detect --nab``): the NAB protocol's
candidate ``scaled-q999`` (``src/recurrax/lifecycle/protocols/nab.toml``), the best mean development score over
both halves (picked on fold 0; fold 1 picked ``scaled-q9995``: ``quantile = 0.9995``, ``rest = 50``)."""
PROFILES = {"standard": "standard", "low_fp": "reward_low_fp", "low_fn": "reward_low_fn"}


def nab_halves(names: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """Two halves of the file names, stratified by category (the folder before ``/``)."""
    rng = np.random.default_rng(seed)
    halves: tuple[list[str], list[str]] = ([], [])
    turn = 0
    for category in sorted({name.split("/")[0] for name in names}):
        members = sorted(name for name in names if name.split("/")[0] == category)
        for index in rng.permutation(len(members)):
            halves[turn % 2].append(members[index])
            turn += 1
    return sorted(halves[0]), sorted(halves[1])


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown NAB detector setting(s) {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
    settings = {**DEFAULTS, **config}
    if settings["program"] not in ("scorer", "joint"):
        raise ValueError(f"program must be 'scorer' or 'joint', got {settings['program']!r}")
    if settings["program"] == "scorer" and any(settings[k] != DEFAULTS[k] for k in JOINT_KEYS[1:]):
        raise ValueError("time_features, seasonal_lags and ensemble need program = 'joint'")
    for key in ("seasonal", "level", "level_before", "persist", "rest"):
        if isinstance(settings[key], bool) or not isinstance(settings[key], int) or settings[key] < 0:
            raise ValueError(f"{key} must be an integer >= 0 (points; 0: off), got {settings[key]!r}")
    for key in ("level_before", "persist"):
        if settings[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {settings[key]}")
    spatial, scale = settings["spatial"], settings["probation_scale"]
    if isinstance(spatial, bool) or not isinstance(spatial, (int, float)) or not spatial >= 0:
        raise ValueError(f"spatial must be a number >= 0 (a fraction of the past range; 0: off), got {spatial!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"probation_scale must be a number > 0 (1: off), got {scale!r}")
    return settings


def nab_protocol_settings() -> tuple[str, ...]:
    """The names of the NAB detector's settings (`DEFAULTS`)."""
    return tuple(DEFAULTS)


def _model_key(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that the raw errors depend on (the scorer program's keys as before the joint one)."""
    keys = MODEL_KEYS + (JOINT_KEYS if settings["program"] == "joint" else ())
    return {key: settings[key] for key in keys if not (key == "learn_lr" and settings[key] is None)}


def raw_errors(series: NabSeries, settings: dict[str, Any], seed: int) -> np.ndarray:
    """The streamed LSTM errors ``[T]`` of one file (the scorer fitted on its probationary period, or the
    joint program's)."""
    if settings["program"] == "joint":
        cfg = OnlineConfig(**{key: settings[key] for key in _model_key(settings) if key != "program"})
        return online_forecasts(series.values, series.timestamps, series.probation, cfg,
                                key=jax.random.key(seed)).errors  # fmt: skip
    cfg = ScorerConfig(kind="prediction", hidden_size=settings["hidden_size"], window=settings["window"],
                       batch_size=settings["batch_size"])  # fmt: skip
    train = TrainConfig(steps=settings["steps"], log_every=settings["steps"], eval_every=0, checkpoint_every=0,
                        seed=seed)  # fmt: skip
    _, raw = online_scores(series.values, series.probation, cfg, optim=OptimConfig(lr=settings["lr"]), train=train,
                           key=jax.random.key(seed), learn_every=settings["learn_every"])  # fmt: skip
    return raw


def anomaly_scores(raw: np.ndarray, settings: dict[str, Any], series: NabSeries) -> np.ndarray:
    """``transform`` of the raw errors ``[T]`` of ``series`` (their mean over the last ``smooth`` points, then the
    smallest of the last ``persist``), the largest of it, the context channels' novelty (``seasonal``, ``level``)
    and the range channel (``spatial``), the rest period (``rest``), rounded to 12 significant digits as in NAB's
    results files; 0 in the probationary period (which NAB does not score, and which so cannot mute the first
    scored points)."""
    if settings["smooth"] > 1:
        raw = pd.Series(raw).rolling(int(settings["smooth"]), min_periods=1).mean().to_numpy()
    if settings["persist"] > 1:
        raw = pd.Series(raw).rolling(settings["persist"], min_periods=1).min().to_numpy()
    if settings["transform"] == "novelty":
        reference = np.where(np.arange(len(raw)) < series.probation, raw * settings["probation_scale"], raw)
        scores = novelty_score(raw, long=settings["long"], quantile=settings["quantile"], reference=reference)
    elif settings["transform"] == "likelihood":
        learning = min(settings["window"], series.probation)
        likelihood = anomaly_likelihood(raw, short=settings["short"], long=settings["long"], learning=learning)
        scores = log_likelihood_score(likelihood)
    else:
        raise ValueError(f"transform must be 'novelty' or 'likelihood', got {settings['transform']!r}")
    if settings["seasonal"] > 0:
        residual = seasonal_residual(series.values, series.timestamps, series.probation, settings["seasonal"])
        scores = np.maximum(scores, novelty_score(np.nan_to_num(residual), long=settings["long"]))
    if settings["level"] > 0:
        shift = level_shift(series.values, settings["level"], settings["level_before"])
        scores = np.maximum(scores, novelty_score(np.nan_to_num(shift), long=settings["long"]))
    if settings["spatial"] > 0:
        scores = np.maximum(scores, range_break(series.values, settings["spatial"]))
    scores = np.where(np.arange(len(scores)) < series.probation, 0.0, scores)
    scores = rest_period(scores, int(settings["rest"]))
    return np.array([float(f"{v:.12g}") for v in scores], np.float64)


def nab_scores(series: NabSeries, config: dict[str, Any] | None = None, *, seed: int = 0) -> np.ndarray:
    """The online NAB detector's anomaly scores ``[T]`` in [0, 1] for one file: `NAB_DETECTOR` updated by
    ``config`` (keys of `DEFAULTS`), seeded by ``seed``; what `write_nab_results` writes for NAB's run.py."""
    settings = _settings({**NAB_DETECTOR, **(config or {})})
    return anomaly_scores(raw_errors(series, settings, seed), settings, series)


def evaluate_protocol(
    config: dict[str, Any],
    *,
    split: str,
    seed: int,
    fold: int,
    folds: int,
    workdir: Path,
    data_dir: Path | None,
) -> dict[str, float]:
    """`recurrax.lifecycle.Evaluator` for NAB (``folds`` must be 2): ``config`` holds the detector settings
    (`DEFAULTS`); returns ``standard``, ``low_fp`` and ``low_fn`` (and ``corpus_*`` on the test split)."""
    if folds != 2 or fold not in (0, 1):
        raise ValueError(f"the NAB protocol has 2 folds (by file), got fold {fold} of {folds}")
    settings = _settings(config)
    corpus = {series.name: series for series in load_nab(data_dir)}
    model = _model_key(settings)
    cache = workdir.parent / "nab_raw" / (hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:12]
                                          + f"-seed{seed}.npz")  # fmt: skip
    if cache.is_file():
        with np.load(cache) as stored:
            raw = {name: stored[str(i)] for i, name in enumerate(sorted(corpus))}
    else:
        raw = {name: raw_errors(corpus[name], settings, seed) for name in sorted(corpus)}
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache.with_suffix(".tmp.npz"), **{str(i): raw[name] for i, name in enumerate(sorted(corpus))})
        cache.with_suffix(".tmp.npz").replace(cache)
    scores = {name: anomaly_scores(raw[name], settings, series) for name, series in corpus.items()}
    dev_names = nab_halves(sorted(corpus))[fold]
    dev = [corpus[name] for name in dev_names]
    test = [series for name, series in corpus.items() if name not in set(dev_names)]
    out = {}
    for key, profile in PROFILES.items():
        chosen = nab_corpus_score({s.name: scores[s.name] for s in dev}, dev, profile)
        if split == "dev":
            out[key] = chosen.score
            continue
        held_out = nab_corpus_score({s.name: scores[s.name] for s in test}, test, profile, threshold=chosen.threshold)
        out[key] = held_out.score
        out[f"corpus_{key}"] = nab_corpus_score(scores, list(corpus.values()), profile).score
    return out
