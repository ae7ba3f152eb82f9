"""The CTC task against oracles: the loss against a float64 NumPy forward (alpha) recursion and a brute-force
sum over alignments; greedy and prefix beam search decoding against enumerating every alignment of tiny
cases (with and without a language model); CER / WER against a recursive edit distance and hand-checked
examples; the seeded renderer and its splits; a tiny end-to-end fit that learns a toy alphabet, reloads and
predicts; the command line through its entry point."""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recurrax.metrics import cer, edit_distance, wer
from recurrax.tasks import ctc
from recurrax.tasks.ctc._data import SeededSecrets


# ----------------------------------------------------------------------------------------------- oracles
def alpha_nll(log_probs: np.ndarray, labels: list[int], blank: int = 0) -> float:
    """``-log p(labels | x)`` by the forward recursion of Graves et al. (2006), eq. 6-8, in float64."""
    extended = [blank]
    for label in labels:
        extended += [label, blank]
    steps, size = len(log_probs), len(extended)
    alpha = np.full(size, -np.inf)
    alpha[0] = log_probs[0, blank]
    if size > 1:
        alpha[1] = log_probs[0, extended[1]]
    for t in range(1, steps):
        previous = alpha.copy()
        for s in range(size):
            total = previous[s]
            if s >= 1:
                total = np.logaddexp(total, previous[s - 1])
            if s >= 2 and extended[s] != blank and extended[s] != extended[s - 2]:
                total = np.logaddexp(total, previous[s - 2])
            alpha[s] = total + log_probs[t, extended[s]]
    final = alpha[-1] if size == 1 else np.logaddexp(alpha[-1], alpha[-2])
    return float(-final)


def labelling_log_probs(log_probs: np.ndarray) -> dict[tuple[int, ...], float]:
    """``log p(l | x)`` for every labelling ``l``: every one of the ``K^T`` alignments enumerated."""
    totals: dict[tuple[int, ...], float] = {}
    steps, num_labels = log_probs.shape
    for path in itertools.product(range(num_labels), repeat=steps):
        score = float(sum(log_probs[t, k] for t, k in enumerate(path)))
        labelling = ctc.collapse(path)
        totals[labelling] = float(np.logaddexp(totals.get(labelling, -np.inf), score))
    return totals


def random_log_probs(rng: np.random.Generator, steps: int, num_labels: int) -> np.ndarray:
    logits = rng.normal(size=(steps, num_labels)) * 2.0
    return logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))


# ------------------------------------------------------------------------------------------------- loss
def test_alpha_reference_is_the_sum_over_alignments(seed):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        log_probs = random_log_probs(rng, int(rng.integers(1, 6)), 3)
        for labelling, value in labelling_log_probs(log_probs).items():
            assert alpha_nll(log_probs, list(labelling)) == pytest.approx(-value, rel=1e-12, abs=1e-12)


def test_ctc_nll_matches_the_alpha_recursion_with_padding(seed):
    rng = np.random.default_rng(seed)
    batch, steps, num_labels, width = 6, 9, 4, 5
    logits = rng.normal(size=(batch, steps, num_labels)).astype(np.float32) * 2
    lengths = rng.integers(1, steps + 1, batch).astype(np.int32)
    labels = np.zeros((batch, width), np.int32)
    label_lengths = np.zeros(batch, np.int32)
    for b in range(batch):  # feasible lengths only: T >= labels + repeats
        while True:
            n = int(rng.integers(0, min(width, lengths[b]) + 1))
            row = rng.integers(1, num_labels, n) if b % 2 else np.full(n, 1 + b % (num_labels - 1))
            if n + int(np.sum(row[1:] == row[:-1])) <= lengths[b]:
                break
        labels[b, :n], label_lengths[b] = row, n
    got = np.asarray(ctc.ctc_nll(jnp.asarray(logits), jnp.asarray(lengths), jnp.asarray(labels),
                                 jnp.asarray(label_lengths)))  # fmt: skip
    for b in range(batch):
        x = logits[b, : lengths[b]].astype(np.float64)
        log_probs = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
        assert got[b] == pytest.approx(alpha_nll(log_probs, labels[b, : label_lengths[b]].tolist()), rel=1e-5)


def test_ctc_loss_normalises_by_label_length_and_has_finite_gradients(key):
    model = ctc.CTCRecognizer(3, 4, hidden_size=5, bidirectional=False, key=key)
    xs = jax.random.normal(jax.random.fold_in(key, 1), (2, 6, 3))
    batch = {"xs": xs, "lengths": jnp.array([6, 4]), "labels": jnp.array([[1, 2, 3], [2, 0, 0]]),
             "label_lengths": jnp.array([3, 1])}  # fmt: skip

    @eqx.filter_jit
    def everything(m):
        (loss, (_, aux)), grads = eqx.filter_value_and_grad(ctc.ctc_loss, has_aux=True)(m, batch, None, None)
        nll = ctc.ctc_nll(m(xs, batch["lengths"]), batch["lengths"], batch["labels"], batch["label_lengths"])
        return loss, aux, grads, nll

    loss, aux, grads, nll = everything(model)
    assert float(loss) == pytest.approx(float(nll[0] / 3 + nll[1]) / 2, rel=1e-6)
    assert float(aux["nll_per_line"]) == pytest.approx(float(jnp.mean(nll)), rel=1e-6)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


# ------------------------------------------------------------------------------------------- decoding
def test_greedy_decoding_is_the_collapsed_most_likely_alignment(seed):
    rng = np.random.default_rng(seed)
    for steps, num_labels in [(1, 2), (3, 3), (5, 3), (5, 2)]:
        log_probs = random_log_probs(rng, steps, num_labels)
        paths = itertools.product(range(num_labels), repeat=steps)
        best = max(paths, key=lambda p: sum(log_probs[t, k] for t, k in enumerate(p)))
        assert ctc.greedy_decode(log_probs) == ctc.collapse(best)
    assert ctc.collapse([1, 1, 0, 1, 2, 2, 0, 0]) == (1, 1, 2)


@pytest.mark.parametrize("steps,num_labels", [(1, 3), (3, 2), (4, 3), (5, 3)])
def test_prefix_beam_search_with_a_wide_beam_is_exact(seed, steps, num_labels):
    log_probs = random_log_probs(np.random.default_rng(seed), steps, num_labels)
    exact = labelling_log_probs(log_probs)
    found = ctc.prefix_beam_search(log_probs, beam_size=len(exact) + 5)
    assert len(found) == len(exact)
    for labelling, score in found:
        assert score == pytest.approx(exact[labelling], abs=1e-10)
    assert found[0][0] == max(exact, key=exact.get)


def test_prefix_beam_search_with_a_narrow_beam_scores_at_most_the_truth(seed):
    rng = np.random.default_rng(seed)
    for _ in range(4):
        log_probs = random_log_probs(rng, 5, 3)
        exact = labelling_log_probs(log_probs)
        found = ctc.prefix_beam_search(log_probs, beam_size=2)
        assert len(found) == 2
        for labelling, score in found:
            assert score <= exact[labelling] + 1e-10
        assert ctc.prefix_beam_search(log_probs, beam_size=1)[0][1] <= max(exact.values()) + 1e-10


def test_prefix_beam_search_with_a_language_model_ranks_the_fused_score(seed):
    rng = np.random.default_rng(seed)
    log_probs = random_log_probs(rng, 4, 3)
    bigram = np.log(rng.dirichlet(np.ones(3), size=3))  # p(next | previous label; row 0 = start)
    weight, bonus = 0.7, 0.3

    def lm(prefix):
        return bigram[prefix[-1] if prefix else 0]

    def fused(labelling):
        previous, total = 0, 0.0
        for label in labelling:
            total += weight * bigram[previous, label] + bonus
            previous = label
        return total

    exact = {l: v + fused(l) for l, v in labelling_log_probs(log_probs).items()}
    found = ctc.prefix_beam_search(log_probs, beam_size=100, lm=lm, lm_weight=weight, insertion_bonus=bonus)
    for labelling, score in found:
        assert score == pytest.approx(exact[labelling], abs=1e-10)
    assert found[0][0] == max(exact, key=exact.get)


def test_decoders_respect_the_length_and_reject_bad_input():
    log_probs = np.log(np.array([[0.1, 0.9], [0.9, 0.1], [0.1, 0.9]]))
    assert ctc.greedy_decode(log_probs) == (1, 1)
    assert ctc.greedy_decode(log_probs, 2) == (1,)
    assert ctc.prefix_beam_search(log_probs, 2)[0][0] == (1,)
    with pytest.raises(ValueError, match="length must be in"):
        ctc.greedy_decode(log_probs, 4)
    with pytest.raises(ValueError, match="expected log_probs"):
        ctc.greedy_decode(np.zeros(3))
    with pytest.raises(ValueError, match="beam_size"):
        ctc.prefix_beam_search(log_probs, beam_size=0)


# -------------------------------------------------------------------------------------------- metrics
@functools.lru_cache(maxsize=None)
def _recursive_distance(a: str, b: str) -> int:
    if not a or not b:
        return len(a) + len(b)
    return min(_recursive_distance(a[1:], b) + 1, _recursive_distance(a, b[1:]) + 1,
               _recursive_distance(a[1:], b[1:]) + (a[0] != b[0]))  # fmt: skip


def test_edit_distance_matches_the_recursive_definition(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        a, b = ("".join(rng.choice(list("abc"), int(rng.integers(0, 7)))) for _ in range(2))
        assert edit_distance(a, b) == _recursive_distance(a, b)


def test_cer_and_wer_on_hand_checked_lines():
    refs = ["to be or not", "the cat"]
    hyps = ["to bee or nt", "the cat sat"]
    # characters: "to be or not" -> "to bee or nt": 1 insertion + 1 deletion; "the cat" -> "the cat sat": +4
    assert cer(refs, hyps) == pytest.approx((2 + 4) / (12 + 7))
    # words: be->bee, not->nt (2 substitutions of 4); +1 insertion of 2
    assert wer(refs, hyps) == pytest.approx((2 + 1) / (4 + 2))
    assert cer(["abc"], ["abc"]) == 0.0 and wer([""], [""]) == 0.0
    with pytest.raises(ValueError, match="same number of lines"):
        cer(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="single string"):
        wer("abc", "abd")


# ----------------------------------------------------------------------------------------------- data
TINY_DATA = {"train_lines": 12, "valid_lines": 4, "test_lines": 4, "max_chars": 10, "height": 16}


def test_rendering_is_seeded_and_valid_test_words_are_unseen():
    cfg = ctc.DataConfig(**TINY_DATA)
    words = ctc.word_splits(cfg)
    assert not set(words["train"]) & (set(words["valid"]) | set(words["test"]))
    assert not set(words["valid"]) & set(words["test"])
    one, two = ctc.make_split(cfg, "valid"), ctc.make_split(cfg, "valid")
    assert one.texts == two.texts and all(np.array_equal(a, b) for a, b in zip(one.images, two.images))
    other = ctc.make_split(ctc.DataConfig(**{**TINY_DATA, "seed": 1}), "valid")
    assert other.texts != one.texts
    for image, text in zip(one.images, one.texts):
        assert image.dtype == np.uint8 and image.shape[1] == 16 and len(image) >= 2 * len(text)
        assert set(text.split()) <= set(words["valid"]) and len(text) <= 10
    assert ctc.decode(ctc.encode("to be")) == "to be"
    with pytest.raises(ValueError, match="not in the alphabet"):
        ctc.encode("Hello")


def test_image_columns_scales_and_inverts_like_the_renderer():
    image = np.full((64, 100), 255, np.uint8)
    image[:, 40:60] = 0  # a dark bar on white
    columns = ctc.image_columns(image, 32, 0.5)
    assert columns.shape == (25, 32) and columns.dtype == np.uint8
    assert np.array_equal(columns, ctc.image_columns(255 - image, 32, 0.5))  # light-on-dark kept as is
    assert columns[11:14].min() == 255 and columns[:9].max() == 0 and columns[16:].max() == 0
    assert np.array_equal(ctc.image_columns(image.astype(np.float64) / 255, 32, 0.5), columns)
    with pytest.raises(ValueError, match="grey-scale image"):
        ctc.image_columns(np.zeros((2, 3, 3)), 32)


def test_seeded_secrets_draws_in_range():
    stand_in = SeededSecrets(np.random.default_rng(0))
    assert all(0 <= stand_in.randbelow(5) < 5 for _ in range(50))
    assert all(0 <= stand_in.randbits(32) < 2**32 for _ in range(50))
    assert stand_in.choice("xyz") in "xyz"


# ------------------------------------------------------------------------------------ end to end
def toy_lines(rng: np.random.Generator, count: int) -> ctc.Lines:
    """Lines over "ab ": each character a fixed 3-column glyph of height 4 (plus noise), blank columns between."""
    glyphs = {"a": [[255, 0, 0, 0]] * 3, "b": [[0, 0, 255, 255]] * 3, " ": [[0, 255, 0, 0]] * 2}
    images, texts = [], []
    for _ in range(count):
        text = "".join(rng.choice(list("ab "), int(rng.integers(1, 6)))).strip() or "a"
        columns = [[0, 0, 0, 0]]
        for char in text:
            columns += glyphs[char] + [[0, 0, 0, 0]] * int(rng.integers(1, 3))
        noise = rng.integers(0, 40, (len(columns), 4))
        images.append(np.clip(np.asarray(columns) + noise, 0, 255).astype(np.uint8))
        texts.append(text)
    return ctc.Lines(images, texts)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    from recurrax.config import from_dict
    from recurrax.train import start_run_dir

    cfg = from_dict(ctc.CTCConfig, {
        "model": {"hidden_size": 32, "num_layers": 1},
        "data": {"height": 4, "width_scale": 1.0, "batch_size": 16, "eval_batch_size": 64, "pad_to": 8},
        "optim": {"lr": 0.01},
        "train": {"steps": 300, "eval_every": 150, "checkpoint_every": 0, "log_every": 10, "seed": 0},
    })  # fmt: skip
    rng = np.random.default_rng(0)
    splits = {"train": toy_lines(rng, 256), "valid": toy_lines(rng, 64), "test": toy_lines(rng, 64)}
    run_dir = start_run_dir(tmp_path_factory.mktemp("ctc") / "toy", "", False)
    return ctc.train_ctc(cfg, splits, run_dir, progress=False), splits


def test_a_tiny_fit_learns_the_toy_alphabet(toy_run):
    run, splits = toy_run
    from recurrax.train import read_metrics

    rows = [row for row in read_metrics(run.run_dir / "metrics.jsonl") if row["split"] == "train"]
    assert rows[-1]["loss"] < 0.2 * rows[0]["loss"]
    assert run.metrics["test"]["cer"] < 0.05
    assert (run.run_dir / "examples_test.png").is_file()
    assert f"| test | 64 | {run.metrics['test']['loss']:.4f} |" in (run.run_dir / "report.md").read_text()


def test_a_reloaded_run_predicts_as_the_trained_model(toy_run):
    run, splits = toy_run
    lines = splits["test"]
    loaded = ctc.load_ctc(run.run_dir)
    scores, predicted = ctc.evaluate_lines(run.model, lines, loaded.config)
    assert scores == pytest.approx(run.metrics["test"])
    assert ctc.predict_ctc(run.run_dir, lines.images, columns=True) == predicted
    pictures = [255 - image.T for image in lines.images]  # dark ink on white, rows x width, as a scan would be
    assert ctc.predict_ctc(run.run_dir, pictures) == predicted
    beam = ctc.predict_ctc(run.run_dir, lines.images, columns=True, decode_cfg=ctc.DecodeConfig("beam", 4))
    assert cer(lines.texts, beam) < 0.05
    with pytest.raises(ValueError, match=r"expected column sequences \[W, 4\]"):
        ctc.predict_ctc(run.run_dir, [np.zeros((5, 3), np.uint8)], columns=True)


# -------------------------------------------------------------------------------------------- CLI
def _run(argv: list[str]) -> tuple[int, str]:
    from recurrax.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.mark.slow  # a second training run (about 15 s); test_a_tiny_fit_learns_the_toy_alphabet runs always
def test_cli_fit_evaluate_predict(tmp_path, capsys):
    sets = [f"data.{k}={v}" for k, v in TINY_DATA.items()] + [
        "model.hidden_size=8", "model.num_layers=1", "train.steps=3", "train.eval_every=3", "data.batch_size=4"]
    argv = ["ctc", "fit", *(a for s in sets for a in ("--set", s)), "--out", str(tmp_path / "run"), "--no-progress"]
    code, out = _run(argv)
    assert code == 0, out
    test_line = next(line for line in out.splitlines() if line.startswith("test: "))
    code, out = _run(["ctc", "evaluate", str(tmp_path / "run"), "--split", "test"])
    scores = json.loads(out)
    assert code == 0 and scores["lines"] == 4
    assert f"cer {scores['cer']:.4f}" in test_line
    code, out = _run(["ctc", "predict", str(tmp_path / "run"), "--text", "to be", "--decode", "beam", "--beam", "2"])
    assert code == 0 and out.startswith("'to be' -> '")
    assert _run(["ctc", "evaluate", str(tmp_path / "run"), "--decode", "viterbi"])[0] == 1
    assert "--decode must be greedy or beam" in capsys.readouterr().err
