"""`fit_seq2seq`, `load_seq2seq`, `translate`: a translation task (the numbers, or Tatoeba's sentence pairs)
from config to report, and its reuse.

A run directory holds ``config.toml``, ``metrics.jsonl``, ``checkpoints/`` (``meta.json`` carries the config
and both vocabularies), ``attention.png`` (the weights for one long test input) and ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...config import from_dict, to_dict, to_toml
from ...metrics import bleu
from ...train import FitResult, find_checkpoint, fit, load_checkpoint, read_meta, start_run_dir
from ._config import DataConfig, ModelConfig, Seq2SeqConfig
from ._corpus import NUMBERS, load_splits, source_tokens, target_text
from ._decode import beam_search, greedy_decode
from ._model import Seq2Seq
from ._numbers import Vocab, encode_token_pairs
from ._plot import write_attention_png


@dataclass
class Seq2SeqRun:
    """What `fit_seq2seq` returns: the chosen model, the vocabularies, ``metrics`` and the loop's result."""

    run_dir: Path
    model: Seq2Seq
    source: Vocab
    target: Vocab
    metrics: dict[str, float]
    fit: FitResult


def seq2seq_loss(model: Seq2Seq, batch: dict[str, Array], carry: Any, key: Array) -> tuple[Array, tuple[Any, dict]]:
    """Teacher-forced cross-entropy, averaged over the valid target tokens (``EOS`` included)."""
    logits, _ = model(batch["src"], batch["src_lengths"], batch["tgt_in"])
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), batch["tgt_out"][:, :, None], axis=2)[:, :, 0]
    mask = (jnp.arange(logits.shape[1]).reshape(1, -1) < batch["tgt_lengths"].reshape(-1, 1)).astype(nll.dtype)
    return jnp.sum(nll * mask) / jnp.sum(mask), (carry, {})


def build_model(cfg: ModelConfig, source_vocab: int, target_vocab: int, *, key: Array) -> Seq2Seq:
    """The `Seq2Seq` that ``cfg`` describes."""
    return Seq2Seq(
        source_vocab,
        target_vocab,
        embed_size=cfg.embed_size,
        hidden_size=cfg.hidden_size,
        encoder_layers=cfg.encoder_layers,
        attention=cfg.attention,
        key=key,
    )


def decode_all(
    model: Seq2Seq, arrays: dict[str, np.ndarray], max_len: int, batch_size: int, beam: int = 1
) -> np.ndarray:
    """``[N, max_len]`` decoded ids, greedy (``beam=1``) or by beam search, in chunks of ``batch_size`` (the
    last one padded: one compilation for every split)."""
    count, size = len(arrays["src"]), batch_size
    out = []
    for start in range(0, count, size):
        src, lengths = arrays["src"][start : start + size], arrays["src_lengths"][start : start + size]
        missing = size - len(src)
        if missing:
            src = np.concatenate([src, np.ones((missing, src.shape[1]), src.dtype)])
            lengths = np.concatenate([lengths, np.ones(missing, lengths.dtype)])
        if beam == 1:
            tokens, _ = greedy_decode(model, jnp.asarray(src), jnp.asarray(lengths), max_len)
        else:
            tokens, _ = beam_search(model, jnp.asarray(src), jnp.asarray(lengths), max_len, beam)
        out.append(np.asarray(tokens)[: size - missing])
    return np.concatenate(out)


def corpus_bleu(predicted: np.ndarray, arrays: dict[str, np.ndarray], target: Vocab) -> float:
    """`recurrax.metrics.bleu` of the decoded ids ``[N, T]`` against the targets of ``arrays``, on the
    tokens as they are (each sentence's tokens joined by spaces, ``tokenize="none"``)."""
    hypotheses = [" ".join(target.words(row)) for row in predicted.tolist()]
    references = [" ".join(target.words(row)) for row in arrays["tgt_out"].tolist()]
    return bleu(hypotheses, references, tokenize="none")


def exact_match(predicted: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """``[N]`` bool: the prediction equals the target up to and including ``EOS``."""
    steps = min(predicted.shape[1], arrays["tgt_out"].shape[1])
    inside = np.arange(steps)[None, :] < arrays["tgt_lengths"][:, None]
    same = (predicted[:, :steps] == arrays["tgt_out"][:, :steps]) | ~inside
    return same.all(axis=1) & (arrays["tgt_lengths"] <= steps)


_jitted_loss = eqx.filter_jit(seq2seq_loss)


def score_pairs(
    model: Seq2Seq, arrays: dict[str, np.ndarray], target: Vocab, tgt_len: int, data: DataConfig, beam: int = 1
) -> dict[str, float]:
    """Teacher-forced ``loss`` (nats/token), ``exact_match`` of the decoded outputs (greedy, or beam ``beam``)
    and, for a dataset (not the numbers), corpus ``bleu`` of encoded pairs ``arrays``."""
    loss, _ = _jitted_loss(model, arrays, None, jax.random.key(0))
    predicted = decode_all(model, arrays, tgt_len, data.eval_batch_size, beam)
    scores = {"loss": float(loss), "exact_match": float(exact_match(predicted, arrays).mean())}
    if data.dataset != NUMBERS:
        scores["bleu"] = corpus_bleu(predicted, arrays, target)
    return scores


def fit_seq2seq(
    cfg: Seq2SeqConfig,
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> Seq2SeqRun:
    """Train on ``cfg.data.dataset``'s pairs (number words, or Tatoeba's English -> French sentences found in
    ``data_dir`` or downloaded) as ``cfg`` says; write the run directory ``run_dir``.

    Validation (teacher-forced loss and greedy exact match on ``valid_size`` training pairs held out; BLEU
    too for a dataset) picks the best checkpoint by its loss. Metrics of the chosen model on the unseen test
    pairs: ``exact_match`` (greedy), ``beam_exact_match`` (beam ``data.beam``) and ``long_exact_match``
    (greedy, inputs of at least ``data.long_from`` tokens; NaN when there are none); for a dataset also
    ``bleu`` and ``beam_bleu`` (`corpus_bleu`, in [0, 100]). The vocabularies hold every token of the
    pairs used (train, validation and test), so no token is unknown.
    """
    run_dir = start_run_dir(run_dir, to_toml(cfg), resume)

    d = cfg.data
    pairs = load_splits(d, cfg.train.seed, data_dir)
    everything = [pair for split in pairs.values() for pair in split]
    source, target = Vocab.from_tokens(s for s, _ in everything), Vocab.from_tokens(t for _, t in everything)
    src_len = max(len(s) for s, _ in everything)
    tgt_len = max(len(t) for _, t in everything) + 1
    splits = {name: encode_token_pairs(split, source, target, src_len, tgt_len) for name, split in pairs.items()}
    model = build_model(cfg.model, len(source), len(target), key=jax.random.split(jax.random.key(cfg.train.seed))[1])
    meta = {
        "task": "seq2seq",
        "config": to_dict(cfg),
        "source_vocab": list(source.tokens),
        "target_vocab": list(target.tokens),
        "lengths": [src_len, tgt_len],
    }
    train = splits["train"]
    size = min(d.batch_size, len(train["src"]))
    per_epoch = len(train["src"]) // size

    def get_batch(index: int) -> dict[str, np.ndarray]:
        epoch, position = divmod(index, per_epoch)
        order = np.random.default_rng([cfg.train.seed, epoch]).permutation(len(train["src"]))
        chosen = order[position * size : (position + 1) * size]
        return {name: array[chosen] for name, array in train.items()}

    def evaluate(m: Seq2Seq) -> dict[str, float]:
        return score_pairs(m, splits["valid"], target, tgt_len, d)

    result = fit(
        model, seq2seq_loss, get_batch, optim=cfg.optim, train=cfg.train, run_dir=run_dir, evaluate=evaluate,
        meta=meta, resume=resume, progress=progress,
    )  # fmt: skip
    final = result.best_model if result.best_model is not None else result.model
    test = splits["test"]
    greedy_ids = decode_all(final, test, tgt_len, d.eval_batch_size)
    beam_ids = decode_all(final, test, tgt_len, d.eval_batch_size, beam=d.beam)
    greedy, beamed = exact_match(greedy_ids, test), exact_match(beam_ids, test)
    long = test["src_lengths"] >= d.long_from
    metrics = {
        "exact_match": float(greedy.mean()),
        "beam_exact_match": float(beamed.mean()),
        "long_exact_match": float(greedy[long].mean()) if long.any() else float("nan"),
        "long_count": int(long.sum()),
    }
    if d.dataset != NUMBERS:
        metrics["bleu"] = corpus_bleu(greedy_ids, test, target)
        metrics["beam_bleu"] = corpus_bleu(beam_ids, test, target)
    longest = pairs["test"][int(np.argmax(test["src_lengths"]))][0]
    lengths = (src_len, tgt_len)
    plot_attention(final, source, target, longest, run_dir / "attention.png", lengths, d.eval_batch_size)
    title = "Numbers" if d.dataset == NUMBERS else d.dataset
    lines = [f"# {title} EN -> FR ({cfg.model.attention} attention)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in metrics.items()]
    (run_dir / "report.md").write_text("\n".join([*lines, "", "![attention](attention.png)", ""]))
    return Seq2SeqRun(run_dir, final, source, target, metrics, result)


def plot_attention(
    model: Seq2Seq,
    source: Vocab,
    target: Vocab,
    tokens: list[str],
    path: str | Path,
    lengths: tuple[int, int],
    batch_size: int = 1,
) -> list[str]:
    """Translate the source ``tokens`` greedily, plot the attention weights to ``path``; the output tokens.
    ``lengths`` (source, target) and ``batch_size`` pad the input (pass the run's to reuse its compilation)."""
    src = source.ids(tokens)
    padded, src_lengths = np.ones((batch_size, lengths[0]), np.int32), np.ones(batch_size, np.int32)
    padded[0, : len(src)], padded[0, len(src) :], src_lengths[0] = src, 0, len(src)
    decoded, weights = greedy_decode(model, jnp.asarray(padded), jnp.asarray(src_lengths), lengths[1])
    output = target.words(np.asarray(decoded[0]).tolist())
    write_attention_png(np.asarray(weights[0]), tokens, [*output, "<eos>"], path)
    return output


def load_seq2seq(path: str | Path) -> tuple[Seq2Seq, Vocab, Vocab, dict]:
    """The model, source and target vocabularies and meta of a run directory or checkpoint."""
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    if meta.get("task") != "seq2seq":
        raise ValueError(f"{checkpoint} is not a seq2seq checkpoint (task {meta.get('task')!r})")
    cfg = from_dict(Seq2SeqConfig, meta["config"])
    source, target = Vocab(tuple(meta["source_vocab"])), Vocab(tuple(meta["target_vocab"]))
    model, meta = load_checkpoint(checkpoint, build_model(cfg.model, len(source), len(target), key=jax.random.key(0)))
    return model, source, target, meta


def translate(path: str | Path, sentences: list[str], *, beam: int = 1) -> list[str]:
    """French for English sentences with a trained run or checkpoint: number words (e.g. ``"forty-two"``)
    for a numbers run; for a dataset run, sentences made of its vocabulary's words (tokenized with
    `recurrax.data.word_tokens`), answered as space-separated tokens (``"je suis calme ."``)."""
    model, source, target, meta = load_seq2seq(path)
    src_len, tgt_len = meta["lengths"]
    data = from_dict(Seq2SeqConfig, meta["config"]).data
    ids = [source.ids(source_tokens(data.dataset, s)) for s in sentences]
    width = max(src_len, *(len(i) for i in ids))
    src = np.zeros((len(ids), width), np.int32)
    for row, i in enumerate(ids):
        src[row, : len(i)] = i
    arrays = {"src": src, "src_lengths": np.asarray([len(i) for i in ids], np.int32)}
    decoded = decode_all(model, arrays, tgt_len, data.eval_batch_size, beam)
    return [target_text(data.dataset, target.words(row.tolist())) for row in decoded]


def evaluate_seq2seq(
    path: str | Path, split: str = "test", *, beam: int = 1, data_dir: str | Path | None = None
) -> dict[str, float]:
    """`score_pairs` of a run's model on ``split`` of its pairs (drawn again with the run's config and seed,
    so the same pairs as in training), with their count ``pairs``."""
    model, source, target, meta = load_seq2seq(path)
    cfg = from_dict(Seq2SeqConfig, meta["config"])
    pairs = load_splits(cfg.data, cfg.train.seed, data_dir)
    if split not in pairs:
        raise ValueError(f"unknown split {split!r}; the run's splits are {', '.join(pairs)}")
    src_len, tgt_len = meta["lengths"]
    arrays = encode_token_pairs(pairs[split], source, target, src_len, tgt_len)
    return {**score_pairs(model, arrays, target, tgt_len, cfg.data, beam), "pairs": len(pairs[split])}
