"""Sequence classification: pooling against oracles (the stack's own final states, NumPy means, unpadded
runs), padding invariance, the weighted loss against torch, metrics against scikit-learn or hand counts."""

from __future__ import annotations

import importlib.util

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from recurrax.tasks import classify as C

LENGTHS = np.array([5, 2, 1, 4], np.int32)


@eqx.filter_jit
def _apply(model, xs, lengths):
    return model(xs, lengths)


@eqx.filter_jit
def _stack(model, xs, lengths):
    return model.rnn(xs, lengths)


def _inputs(key, steps=5, features=3):
    xs = np.asarray(jax.random.normal(key, (len(LENGTHS), steps, features)), np.float32)
    return xs * (np.arange(steps)[None, :, None] < LENGTHS[:, None, None])


@pytest.fixture(scope="module")
def models():
    keys = jax.random.split(jax.random.key(0), 6)
    return {
        (pooling, bidirectional): C.SequenceClassifier(
            3, 4, hidden_size=6, bidirectional=bidirectional, pooling=pooling, attention_size=5, key=k
        )
        for k, (pooling, bidirectional) in zip(
            keys, [(p, b) for p in ("last", "mean", "attention") for b in (False, True)]
        )
    }


@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_changes_nothing_and_matches_unpadded_runs(models, key, pooling, bidirectional):
    model = models[(pooling, bidirectional)]
    xs = _inputs(key)
    logits = np.asarray(_apply(model, jnp.asarray(xs), jnp.asarray(LENGTHS)))
    noisy = xs + 100.0 * (np.arange(5)[None, :, None] >= LENGTHS[:, None, None])
    np.testing.assert_array_equal(np.asarray(_apply(model, jnp.asarray(noisy), jnp.asarray(LENGTHS))), logits)
    alone = np.asarray(_apply(model, jnp.asarray(xs[1:2, :2]), None))  # oracle: sequence 1 without padding
    np.testing.assert_allclose(logits[1], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_pooling_is_each_directions_final_state(models, key, bidirectional):
    model = models[("last", bidirectional)]
    xs, lengths = jnp.asarray(_inputs(key)), jnp.asarray(LENGTHS)
    ys, (h_n, _) = _stack(model, xs, lengths)
    expected = jnp.concatenate([h_n[0], h_n[1]], -1) if bidirectional else h_n[0]
    np.testing.assert_allclose(model.pool(ys, lengths), expected, rtol=1e-6, atol=1e-7)


def test_mean_and_attention_pooling_against_numpy(models, key):
    xs, lengths = jnp.asarray(_inputs(key)), jnp.asarray(LENGTHS)
    model = models[("mean", True)]
    ys = np.asarray(_stack(model, xs, lengths)[0], np.float64)
    expected = np.stack([ys[b, :n].mean(axis=0) for b, n in enumerate(LENGTHS)])
    np.testing.assert_allclose(model.pool(jnp.asarray(ys, jnp.float32), lengths), expected, rtol=1e-5, atol=1e-6)

    model = models[("attention", True)]
    ys = _stack(model, xs, lengths)[0]
    weights = np.asarray(model.attention(ys, lengths))
    y64 = np.asarray(ys, np.float64)
    for b, n in enumerate(LENGTHS):
        scores = np.tanh(y64[b, :n] @ np.asarray(model.attention_weight, np.float64).T) @ np.asarray(
            model.attention_vector, np.float64
        )
        softmax = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        np.testing.assert_allclose(weights[b, :n], softmax, rtol=1e-5)
        assert (weights[b, n:] == 0).all()


def test_other_cells_and_bad_arguments(key):
    model = C.SequenceClassifier(3, 2, hidden_size=4, cell="gru", pooling="mean", key=key)
    padded = _apply(model, jnp.ones((2, 3, 3)), jnp.array([3, 1]))
    np.testing.assert_allclose(padded[1], _apply(model, jnp.ones((1, 1, 3)), None)[0], rtol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        C.SequenceClassifier(3, 2, hidden_size=4, pooling="max", key=key)
    with pytest.raises(ValueError, match="xs"):
        model(jnp.ones((3, 3)))


def test_weighted_cross_entropy_matches_torch(key):
    logits = np.asarray(jax.random.normal(key, (7, 3)), np.float32)
    labels = np.array([0, 1, 2, 2, 1, 0, 2])
    weights = np.array([0.5, 2.0, 1.5], np.float32)
    ours = C.weighted_cross_entropy(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weights))
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights))(torch.tensor(logits), torch.tensor(labels))
    np.testing.assert_allclose(float(ours), theirs.item(), rtol=1e-6)


def test_metrics_against_hand_counts_and_sklearn():
    y_true, y_pred = [0, 0, 1, 1, 2, 2, 2, 0], [0, 1, 1, 1, 2, 0, 0, 0]
    matrix = C.confusion_matrix(y_true, y_pred, 4)
    assert matrix.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [2, 0, 1, 0], [0, 0, 0, 0]]
    # F1_k = 2TP / (2TP + FP + FN): class 0: 4/(4+2+1), class 1: 4/(4+1+0), class 2: 2/(2+0+2), class 3: 0
    assert C.macro_f1(y_true, y_pred, 4) == pytest.approx((4 / 7 + 4 / 5 + 2 / 4 + 0) / 4)
    assert C.accuracy(y_true, y_pred) == 5 / 8
    if importlib.util.find_spec("sklearn") is not None:
        from sklearn.metrics import confusion_matrix, f1_score

        assert C.macro_f1(y_true, y_pred, 4) == pytest.approx(
            f1_score(y_true, y_pred, average="macro", labels=range(4), zero_division=0)
        )
        assert (matrix == confusion_matrix(y_true, y_pred, labels=range(4))).all()


def test_balanced_class_weights_and_stratified_split():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    np.testing.assert_allclose(C.class_weights(labels, 4, "balanced"), [10 / 24, 10 / 12, 10 / 4, 0.0])
    assert C.class_weights(labels, 3, "none").tolist() == [1.0, 1.0, 1.0]
    from recurrax.tasks.classify._data import stratified_split

    train, valid = stratified_split(labels, 0.34, seed=0)
    assert sorted([*train, *valid]) == list(range(10))
    assert np.bincount(labels[valid], minlength=3).tolist() == [2, 1, 0]


def test_read_cases_csv_and_npz(tmp_path):
    (tmp_path / "d.csv").write_text("a,1,2,3\nb,4,5,\n")
    series, labels = C.read_cases(tmp_path / "d.csv")
    assert labels == ["a", "b"] and [s[:, 0].tolist() for s in series] == [[1, 2, 3], [4, 5]]
    np.savez(tmp_path / "d.npz", xs=np.arange(12.0).reshape(2, 3, 2), labels=np.array([1, 0]), lengths=[3, 1])
    series, labels = C.read_cases(tmp_path / "d.npz")
    assert labels == ["1", "0"] and series[1].tolist() == [[6.0, 7.0]] and series[0].shape == (3, 2)


def _toy_files(folder, seed):
    """Two classes told apart by the sign of the mean of feature 0, lengths 3 to 8, a few NaNs."""
    rng = np.random.default_rng(seed)
    for name, count in (("train", 48), ("test", 20)):
        labels = rng.integers(0, 2, count)
        lengths = rng.integers(3, 9, count)
        xs = rng.normal(size=(count, 8, 2))
        xs[:, :, 0] += np.where(labels == 1, 1.5, -1.5)[:, None]
        xs[0, 1, 1] = np.nan
        np.savez(folder / f"{name}.npz", xs=xs, labels=np.array(["neg", "pos"])[labels], lengths=lengths)


def test_fit_evaluate_predict_round_trip(tmp_path):
    _toy_files(tmp_path, 0)
    cfg = C.ClassifyConfig(
        model=C.ModelConfig(hidden_size=8, pooling="attention", attention_size=4),
        data=C.DataConfig(path=str(tmp_path / "train.npz"), test_path=str(tmp_path / "test.npz"), batch_size=16,
                          eval_batch_size=16, valid_fraction=0.25, class_weights="balanced"),
    )  # fmt: skip
    cfg.train.steps, cfg.train.eval_every, cfg.optim.lr = 30, 15, 0.03
    run = C.fit_classifier(cfg, tmp_path / "run", progress=False)
    assert run.classes == ("neg", "pos") and list(run.metrics) == ["train", "valid", "test"]
    assert run.metrics["test"]["accuracy"] >= 0.8
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| train | 36 |" in report and "| valid | 12 |" in report and "| test | 20 |" in report
    for name in ("config.toml", "metrics.jsonl", "report.md", "confusion_test.png", "confusion_valid.png"):
        assert (tmp_path / "run" / name).is_file()

    scores = C.evaluate_classifier(tmp_path / "run", "test", plot=tmp_path / "c.png")
    assert scores["accuracy"] == pytest.approx(run.metrics["test"]["accuracy"])
    assert scores["confusion"].sum() == 20 and (tmp_path / "c.png").is_file()

    with np.load(tmp_path / "test.npz") as raw:
        names, probabilities = C.predict_classifier(tmp_path / "run", raw["xs"], raw["lengths"])
        truth = raw["labels"].tolist()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(np.array(names) == np.array(truth)) == pytest.approx(scores["accuracy"])
    with pytest.raises(ValueError, match="another config"):
        cfg.model.hidden_size = 9
        C.fit_classifier(cfg, tmp_path / "run", resume=True, progress=False)
