"""The language model, its loss, sampling and a whole run, each against an independent oracle."""

from __future__ import annotations

import bz2
import hashlib
import json
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import recurrax as rx
from recurrax.config import load_config
from recurrax.tasks import lm
from recurrax.train import OptimConfig, TrainConfig

VOCAB = 11
SIZES = dict(embed_size=8, hidden_size=8, num_layers=2)  # one set of shapes: eager init ops compile once


@eqx.filter_jit
def apply(model, tokens, state=None, key=None):
    """One model call, compiled once per shape (eager calls would retrace the scan every time)."""
    return model(tokens, state, key=key)


@pytest.fixture(scope="module")
def model():
    return lm.LanguageModel(VOCAB, **SIZES, key=jax.random.key(0))


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_logits_are_embedding_then_stack_then_readout(cell, key):
    k_model, k_tokens, k_state = jax.random.split(key, 3)
    model = lm.LanguageModel(VOCAB, **SIZES, cell=cell, key=k_model)
    tokens = jax.random.randint(k_tokens, (3, 6), 0, VOCAB)
    state = jax.tree.map(lambda z: jax.random.normal(k_state, z.shape), model.init_state(3))
    logits, final = apply(model, tokens, state)
    embedded = jnp.asarray(np.asarray(model.embedding)[np.asarray(tokens)])  # row lookup, in NumPy
    ys, expected_final = eqx.filter_jit(model.rnn)(embedded, state=state)
    expected = np.asarray(ys, np.float64) @ np.asarray(model.head_weight, np.float64).T + np.asarray(model.head_bias)
    np.testing.assert_allclose(np.asarray(logits), expected, rtol=1e-5, atol=1e-5)
    for got, want in zip(jax.tree.leaves(final), jax.tree.leaves(expected_final)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
    assert isinstance(model.rnn, rx.RNNStack) and model.rnn.layers[0].cell.__class__.__name__.lower().startswith(cell)


def test_tied_weights_share_the_embedding(key):
    model = lm.LanguageModel(VOCAB, **SIZES, tie_weights=True, key=key)
    assert model.head_weight is None
    tokens = jnp.array([[1, 2, 3]])
    logits, _ = apply(model, tokens)
    ys, _ = eqx.filter_jit(model.rnn)(model.embedding[tokens])
    np.testing.assert_allclose(np.asarray(logits), np.asarray(ys @ model.embedding.T), rtol=1e-5, atol=1e-6)
    grads = eqx.filter_jit(jax.grad(lambda m: m(tokens)[0][0, -1, 4]))(model)
    # the read-out row of token 4 gets gradient even though token 4 is not an input: it is the embedding
    assert float(jnp.abs(grads.embedding[4]).sum()) > 0
    with pytest.raises(ValueError, match="tie_weights needs embed_size == the recurrent stack's output size"):
        lm.LanguageModel(VOCAB, embed_size=6, hidden_size=8, tie_weights=True, key=key)


def test_dropout_is_active_only_with_a_key(key):
    model = lm.LanguageModel(VOCAB, **SIZES, dropout=0.5, key=key)
    tokens = jnp.array([[1, 2, 3, 4]])
    plain = apply(model, tokens)[0]
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(apply(model, tokens)[0]))
    assert not np.allclose(np.asarray(apply(model, tokens, key=key)[0]), np.asarray(plain))


def test_loss_resets_flagged_rows_and_averages_valid_targets(model, key):
    k_tokens, k_state = jax.random.split(key)
    inputs = jax.random.randint(k_tokens, (2, 5), 0, VOCAB)
    targets = jnp.roll(inputs, -1, axis=1)
    mask = jnp.array([[True] * 5, [True, True, False, False, False]])
    state = jax.tree.map(lambda z: jax.random.normal(k_state, z.shape), model.init_state(2))
    batch = {"inputs": inputs, "targets": targets, "mask": mask, "reset": jnp.array([True, False])}
    loss, (final, aux) = eqx.filter_jit(lm.lm_loss)(model, batch, state, None)
    # oracle: row 0 from the zero state, row 1 from its own carried state, NumPy cross-entropy
    row0, _ = apply(model, inputs[:1])
    row1, _ = apply(model, inputs[1:], jax.tree.map(lambda s: s[:, 1:], state))
    logp = log_softmax(np.concatenate([np.asarray(row0), np.asarray(row1)]).astype(np.float64))
    picked = np.take_along_axis(logp, np.asarray(targets)[..., None], axis=-1)[..., 0]
    expected = -picked[np.asarray(mask)].mean()
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    assert aux == {}


def python_loop_sample(model, prime, length, key, **options):
    """The oracle: feed one token at a time with the carried state, in plain Python."""
    logits, state = apply(model, prime[None])
    logits = logits[:, -1]
    tokens, steps = [], []
    for step_key in jax.random.split(key, length):
        token = lm.next_token(logits, step_key, **options)
        tokens.append(int(token[0]))
        steps.append(np.asarray(logits[0], np.float64))
        logits, state = apply(model, token[:, None], state)
        logits = logits[:, -1]
    return tokens, steps


@pytest.mark.parametrize(
    "options", [dict(temperature=0.7, top_k=4), dict(temperature=1.3, top_p=0.6), dict(greedy=True)]
)
def test_scan_sampler_equals_a_python_loop_with_carried_state(model, key, options):
    prime = jnp.array([3, 1, 4, 1, 5])
    scanned = lm.sample(model, prime, 12, key, **options)
    expected, step_logits = python_loop_sample(model, prime, 12, key, **options)
    assert scanned.tolist() == expected
    for token, logits in zip(expected, step_logits):
        rank = int((logits > logits[token]).sum())  # tokens strictly more likely than the one drawn
        if options.get("greedy"):
            assert rank == 0
        if "top_k" in options:
            assert rank < options["top_k"]
        if "top_p" in options:
            probs = np.exp(log_softmax(logits / options["temperature"]))
            assert probs[probs > probs[token]].sum() < options["top_p"]


def test_greedy_is_argmax_decoding(model, key):
    prime = jnp.array([2, 7])
    tokens = []
    logits, state = apply(model, prime[None])
    for _ in range(8):
        token = int(np.argmax(np.asarray(logits[0, -1])))
        tokens.append(token)
        logits, state = apply(model, jnp.array([[token]]), state)
    assert lm.sample(model, prime, 8, key, greedy=True).tolist() == tokens
    assert lm.sample(model, prime, 8, jax.random.key(99), greedy=True).tolist() == tokens  # the key is unused


def test_sampling_is_deterministic_per_seed_and_batched(model):
    prime = jnp.array([[1, 2, 3], [4, 5, 6]])
    a = lm.sample(model, prime, 20, jax.random.key(7), temperature=1.0)
    b = lm.sample(model, prime, 20, jax.random.key(7), temperature=1.0)
    c = lm.sample(model, prime, 20, jax.random.key(8), temperature=1.0)
    assert a.shape == (2, 20) and a.tolist() == b.tolist() and a.tolist() != c.tolist()


def test_top_k_and_top_p_filters_against_numpy():
    logits = jnp.array([[2.0, 0.5, 1.0, -1.0, 3.0, 0.0], [0.1, 0.2, 0.3, 0.4, 0.5, 4.0]])
    top3 = np.isfinite(np.asarray(lm.filter_logits(logits, top_k=3)))
    np.testing.assert_array_equal(top3, np.argsort(-np.asarray(logits), axis=1).argsort(axis=1) < 3)
    for p in (0.3, 0.7, 0.95):
        kept = np.isfinite(np.asarray(lm.filter_logits(logits, top_p=p)))
        probs = np.exp(log_softmax(np.asarray(logits, np.float64)))
        for row, prob in zip(kept, probs):
            order = np.argsort(-prob)
            size = int(np.searchsorted(np.cumsum(prob[order]), p) + 1)  # the smallest prefix reaching p
            np.testing.assert_array_equal(np.flatnonzero(row), np.sort(order[: min(size, len(prob))]))
    draws = jax.vmap(lambda k: lm.next_token(logits, k, top_k=2))(jax.random.split(jax.random.key(0), 200))
    assert set(np.asarray(draws[:, 0]).tolist()) == {0, 4} and set(np.asarray(draws[:, 1]).tolist()) <= {4, 5}
    with pytest.raises(ValueError, match="temperature must be > 0"):
        lm.filter_logits(logits, temperature=0.0)


def test_metrics_and_bzip2():
    char = lm.lm_metrics(nll=138.6, num_targets=100, num_chars=101, level="char")
    assert char["loss"] == pytest.approx(1.386) and char["bpc"] == pytest.approx(1.386 / math.log(2))
    assert char["perplexity"] == pytest.approx(math.exp(1.386))
    word = lm.lm_metrics(nll=500.0, num_targets=100, num_chars=550, level="word")
    assert word["perplexity"] == pytest.approx(math.exp(5.0))  # per word
    assert word["bpc"] == pytest.approx(500.0 / math.log(2) / 550)  # per character of the text
    text = "abc abd abe " * 50
    assert lm.bzip2_bpc(text) == 8 * len(bz2.compress(text.encode(), 9)) / len(text)


CORPUS = "".join(f"{word} is a {kind}.\n" for word, kind in [("red", "colour"), ("oak", "tree"), ("cat", "pet")] * 12)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    (folder / "corpus.txt").write_text(CORPUS)
    cfg = lm.LMConfig(
        model=lm.ModelConfig(embed_size=12, hidden_size=24, num_layers=1),
        data=lm.DataConfig(path=str(folder / "corpus.txt"), seq_len=16, batch_size=4, eval_batch_size=2),
        optim=OptimConfig(lr=0.02),
        train=TrainConfig(steps=30, log_every=5, eval_every=10, checkpoint_every=10, seed=3),
    )
    return cfg, folder / "run", lm.fit_lm(cfg, folder / "run", progress=False)


def test_fit_lm_lowers_the_validation_loss(lm_run):
    cfg, run_dir, run = lm_run
    corpus = lm.load_corpus(cfg.data)
    untrained = lm.build_model(cfg.model, len(run.tokenizer), key=jax.random.key(1))
    before = lm.evaluate_split(untrained, corpus, run.tokenizer, "valid", cfg)["loss"]
    assert run.metrics["valid"]["loss"] < 0.6 * before
    assert run.metrics["valid"]["bpc"] == pytest.approx(run.metrics["valid"]["loss"] / math.log(2))
    valid_rows = [row for row in run.fit.history if row["split"] == "valid"]
    assert [row["step"] for row in valid_rows] == [10, 20, 30]


def test_run_directory_holds_config_vocabulary_fingerprint_plot_and_report(lm_run):
    cfg, run_dir, run = lm_run
    assert load_config(lm.LMConfig, run_dir / "config.toml") == cfg
    meta = json.loads((run_dir / "checkpoints" / "best" / "meta.json").read_text())
    assert meta["tokenizer"] == run.tokenizer.to_json()
    train_text = CORPUS[: int(len(CORPUS) * 0.9)]  # the usual split, truncated as nanoGPT does
    assert meta["data_fingerprint"] == hashlib.sha256(train_text.encode()).hexdigest()
    assert (run_dir / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (run_dir / "report.md").read_text()
    assert f"| valid | {run.metrics['valid']['loss']:.4f} |" in report and run.sample in report


def test_evaluate_and_sample_from_the_run_directory(lm_run):
    cfg, run_dir, run = lm_run
    metrics = lm.evaluate_lm(run_dir, split="valid")
    assert metrics == pytest.approx(run.metrics["valid"])
    text = lm.sample_lm(run_dir, prime="oak is", length=40, temperature=0.5, seed=1)
    assert text.startswith("oak is") and len(text) == len("oak is") + 40
    assert text == lm.sample_lm(run_dir, prime="oak is", length=40, temperature=0.5, seed=1)
    greedy = lm.generate(run.model, run.tokenizer, "oak is", 40, greedy=True)  # the in-memory model
    assert lm.sample_lm(run_dir, prime="oak is", length=40, greedy=True) == greedy
    with pytest.raises(ValueError, match="no 'test' split"):
        lm.evaluate_lm(run_dir, split="test")
