"""`fit_lm`, `evaluate_lm`, `sample_lm`: a language-modelling run from config to report, and its reuse.

A run directory holds ``config.toml``, ``metrics.jsonl``, ``checkpoints/`` (each ``meta.json`` carries the
config, the tokenizer's vocabulary and the data fingerprint, so a checkpoint alone rebuilds the model),
``loss_curve.png`` and ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ...config import from_dict, to_dict, to_toml
from ...data import Tokenizer, tokenizer_from_json
from ...train import FitResult, find_checkpoint, fit, load_checkpoint, read_meta, start_run_dir
from ._batching import TokenWindows
from ._config import LMConfig, ModelConfig
from ._corpus import Corpus, load_corpus, make_tokenizer
from ._metrics import bzip2_bpc, evaluate_windows, lm_loss, lm_metrics
from ._model import LanguageModel
from ._report import write_loss_curve, write_report
from ._sampling import sample


@dataclass
class LMRun:
    """What `fit_lm` returns: ``model`` (the best-on-validation model, else the final one) with its
    ``metrics`` per split, the report's ``sample``, and the training loop's `FitResult` as ``fit``."""

    run_dir: Path
    model: LanguageModel
    tokenizer: Tokenizer
    metrics: dict[str, dict[str, float]]
    sample: str
    fit: FitResult


@dataclass
class LoadedLM:
    """A trained model rebuilt from a checkpoint (`load_lm`)."""

    model: LanguageModel
    tokenizer: Tokenizer
    config: LMConfig
    meta: dict[str, Any]
    checkpoint: Path


def build_model(cfg: ModelConfig, vocab_size: int, *, key: jax.Array) -> LanguageModel:
    """The `LanguageModel` that ``cfg`` describes, for a vocabulary of ``vocab_size``."""
    return LanguageModel(
        vocab_size,
        embed_size=cfg.embed_size,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        cell=cfg.cell,
        dropout=cfg.dropout,
        tie_weights=cfg.tie_weights,
        key=key,
        recurrent_dropout=cfg.recurrent_dropout,
        zoneout=cfg.zoneout,
        **({} if cfg.forget_bias is None else {"forget_bias": cfg.forget_bias}),
    )


def split_windows(corpus: Corpus, tokenizer: Tokenizer, split: str, batch_size: int, seq_len: int) -> TokenWindows:
    """`TokenWindows` over one split's documents."""
    documents = [tokenizer.encode(doc) for doc in corpus.splits[split]]
    return TokenWindows.from_documents(documents, batch_size=batch_size, seq_len=seq_len)


def evaluate_split(model: LanguageModel, corpus: Corpus, tokenizer: Tokenizer, split: str, cfg: LMConfig) -> dict:
    """``{"loss", "perplexity", "bpc"}`` of ``model`` on one split (see `recurrax.tasks.lm._metrics`)."""
    windows = split_windows(corpus, tokenizer, split, cfg.data.eval_batch_size, cfg.data.seq_len)
    nll, count = evaluate_windows(model, windows)
    return lm_metrics(nll, count, corpus.num_chars(split), cfg.data.level)


def fit_lm(
    cfg: LMConfig,
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    scored_splits: tuple[str, ...] | None = None,
) -> LMRun:
    """Train a language model as ``cfg`` says and write the run directory ``run_dir``.

    The vocabulary is fitted on the training split; the batches are `TokenWindows` (truncated BPTT with the
    state carried between batches and reset at epoch and document starts); the loss is the mean
    cross-entropy over the valid targets; validation (``loss``, ``perplexity``, ``bpc``) drives the best
    checkpoint, early stopping and the plateau schedule. After training, the chosen model is evaluated on
    the validation (and test) split and ``report.md`` gets the metrics, bzip2's bits per character on the
    validation text (a compressor baseline) and a sample. ``resume`` continues from the last checkpoint.
    ``scored_splits`` limits that final evaluation to those splits (``("valid",)``: the test text is not read).
    """
    run_dir = start_run_dir(run_dir, to_toml(cfg), resume)

    corpus = load_corpus(cfg.data, data_dir)
    tokenizer = make_tokenizer(cfg.data, corpus.splits["train"])
    train_windows = split_windows(corpus, tokenizer, "train", cfg.data.batch_size, cfg.data.seq_len)
    model = build_model(cfg.model, len(tokenizer), key=jax.random.split(jax.random.key(cfg.train.seed))[1])
    meta = {
        "task": "lm",
        "config": to_dict(cfg),
        "tokenizer": tokenizer.to_json(),
        "data_fingerprint": corpus.fingerprint,
    }

    result = fit(
        model,
        lm_loss,
        train_windows,
        optim=cfg.optim,
        train=cfg.train,
        run_dir=run_dir,
        evaluate=lambda m: evaluate_split(m, corpus, tokenizer, "valid", cfg),
        init_carry=lambda: model.init_state(cfg.data.batch_size),
        tokens_per_batch=cfg.data.batch_size * cfg.data.seq_len,
        meta=meta,
        resume=resume,
        progress=progress,
    )

    final = result.best_model if result.best_model is not None else result.model
    metrics = {
        split: evaluate_split(final, corpus, tokenizer, split, cfg)
        for split in corpus.splits
        if split != "train" and (scored_splits is None or split in scored_splits)
    }
    valid_text = "\n".join(corpus.splits["valid"])
    prime = tokenizer.decode(tokenizer.encode(valid_text)[: 32 if cfg.data.level == "char" else 8])
    length = 400 if cfg.data.level == "char" else 80
    text = generate(final, tokenizer, prime, length, temperature=0.8, seed=cfg.train.seed)
    write_loss_curve(result.history, run_dir / "loss_curve.png")
    write_report(
        run_dir / "report.md",
        cfg=cfg,
        metrics=metrics,
        steps=result.step,
        parameters=count_parameters(final),
        vocab_size=len(tokenizer),
        sizes={split: corpus.num_chars(split) for split in corpus.splits},
        bzip2=bzip2_bpc(valid_text),
        sample=text,
        sample_note=f"prime {prime!r}, temperature 0.8, seed {cfg.train.seed}",
    )
    return LMRun(run_dir, final, tokenizer, metrics, text, result)


def count_parameters(model: LanguageModel) -> int:
    """The number of trainable numbers (floating-point array entries) in ``model``."""
    return sum(leaf.size for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))


def load_lm(path: str | Path) -> LoadedLM:
    """The model, tokenizer and config of a run directory (its best or latest checkpoint) or a checkpoint."""
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    if meta.get("task") != "lm":
        raise ValueError(f"{checkpoint} is not a language-model checkpoint (task {meta.get('task')!r})")
    cfg = from_dict(LMConfig, meta["config"])
    tokenizer = tokenizer_from_json(meta["tokenizer"])
    skeleton = build_model(cfg.model, len(tokenizer), key=jax.random.key(0))
    model, meta = load_checkpoint(checkpoint, skeleton)
    return LoadedLM(model, tokenizer, cfg, meta, checkpoint)


def evaluate_lm(path: str | Path, split: str = "valid", *, data_dir: str | Path | None = None) -> dict[str, float]:
    """``{"loss", "perplexity", "bpc"}`` of a trained model (run or checkpoint directory) on ``split``.

    The data are loaded again from the run's config and must have the training data's fingerprint.
    """
    loaded = load_lm(path)
    corpus = load_corpus(loaded.config.data, data_dir)
    if corpus.fingerprint != loaded.meta.get("data_fingerprint"):
        raise ValueError(
            f"the training text differs from the one {loaded.checkpoint} was trained on "
            f"(sha256 {corpus.fingerprint}, expected {loaded.meta.get('data_fingerprint')})"
        )
    if split not in corpus.splits:
        raise ValueError(f"the run has no {split!r} split; its splits are {', '.join(corpus.splits)}")
    return evaluate_split(loaded.model, corpus, loaded.tokenizer, split, loaded.config)


def generate(
    model: LanguageModel,
    tokenizer: Tokenizer,
    prime: str,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int = 0,
) -> str:
    """``prime`` and ``length`` sampled tokens, decoded (see `sample`)."""
    prime_ids = tokenizer.encode(prime)
    if len(prime_ids) == 0:
        raise ValueError("the prime must hold at least one token")
    options = dict(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
    tokens = sample(model, jnp.asarray(prime_ids), length, jax.random.key(seed), **options)
    return tokenizer.decode([*prime_ids.tolist(), *jax.device_get(tokens).tolist()])


def sample_lm(
    path: str | Path,
    prime: str = "ROMEO:",
    length: int = 500,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int = 0,
) -> str:
    """Text from a trained model (run or checkpoint directory): the prime and ``length`` new tokens."""
    loaded = load_lm(path)
    options = dict(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed)
    return generate(loaded.model, loaded.tokenizer, prime, length, **options)
