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

from recurrax.metrics import ReferenceProfile
from recurrax.tasks import classify as C
from recurrax.tasks.classify._data import stratified_split

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


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("e.csv", lambda p: p.write_text(""), "{path}: no rows"),
        ("b.csv", lambda p: p.write_text("\n\n"), "{path}: no rows"),
        ("l.csv", lambda p: p.write_text("a,1,2\nb\n"), "{path}, line 2: label 'b' and no values"),
        ("c.csv", lambda p: p.write_text("a,1,2\n\nc, , ,\n"), "{path}, line 3: label 'c' and no values"),
        ("t.csv", lambda p: p.write_text("a,1,x\n"), "{path}, line 1: could not convert string to float: 'x'"),
        ("x.npz", lambda p: np.savez(p, x=np.zeros((2, 3, 1)), y=np.zeros(2)),
         "{path}: expected arrays xs [N, T, D] and labels [N] (optional lengths [N]); found: x [2, 3, 1], y [2]"),
        ("r.npz", lambda p: np.savez(p, xs=np.zeros((2, 3)), labels=np.zeros(2)), "found: xs [2, 3], labels [2]"),
        ("n.npz", lambda p: np.savez(p, xs=np.zeros((2, 3, 1)), labels=np.zeros(3)), "found: xs [2, 3, 1], labels [3]"),
        ("m.npz", lambda p: np.savez(p, xs=np.zeros((2, 3, 1)), labels=np.zeros(2), lengths=[3]), "lengths [1]"),
        ("z.npz", lambda p: np.savez(p, xs=np.zeros((0, 3, 1)), labels=np.zeros(0)), "{path}: no rows"),
    ],
    ids=["empty", "blank-lines", "label-only", "empty-cells", "text", "npz-names", "npz-rank", "npz-labels",
         "npz-lengths", "npz-empty"],
)
def test_read_cases_refuses_bad_files_in_one_line(tmp_path, name, write, message):
    """Each a ValueError naming the file (and the line of a CSV), not an IndexError or KeyError later."""
    path = tmp_path / name
    write(path)
    with pytest.raises(ValueError) as error:
        C.read_cases(path)
    assert message.format(path=path) in str(error.value) and "\n" not in str(error.value)


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
        select=C.SelectConfig(mode="off"),  # the CV selection has its own tests (test_classify_select.py)
    )  # fmt: skip
    cfg.train.steps, cfg.train.eval_every, cfg.optim.lr = 30, 15, 0.03
    run = C.fit_classifier(cfg, tmp_path / "run", progress=False)
    assert run.classes == ("neg", "pos") and list(run.metrics) == ["train", "valid", "test"]
    assert run.metrics["test"]["accuracy"] >= 0.8
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| train | 36 |" in report and "| valid | 12 |" in report and "| test | 20 |" in report
    for name in ("config.toml", "metrics.jsonl", "report.md", "confusion_test.png", "confusion_valid.png"):
        assert (tmp_path / "run" / name).is_file()
    with np.load(tmp_path / "train.npz") as raw:  # drift reference: the training cases' valid raw steps
        train_index, _ = stratified_split((raw["labels"] == "pos").astype(np.int32), 0.25, cfg.train.seed)
        every = np.concatenate([x[:n] for x, n in zip(raw["xs"], raw["lengths"], strict=True)])
        rows = np.concatenate([raw["xs"][i, : raw["lengths"][i]] for i in train_index])
    expected = ReferenceProfile.from_values(np.where(np.isnan(rows), np.nanmean(every, axis=0), rows))
    written = ReferenceProfile.load(tmp_path / "run" / "reference_profile.json")
    assert written.count == expected.count == len(rows) and written.names == ("x0", "x1")
    for got, want in zip(written.edges + written.fractions, expected.edges + expected.fractions, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(written.sample, expected.sample, rtol=1e-6)

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


# --- valid_fraction = 0, augmentation, stride, ensembles, the convolution branch -------------------------


def _ramp(lengths, steps=10, features=2):
    """``x[b, t, d] = t + 1`` on the valid steps, 0 after."""
    t = np.arange(steps, dtype=np.float32)[None, :, None] + 1.0
    valid = np.arange(steps)[None, :, None] < np.asarray(lengths)[:, None, None]
    return np.broadcast_to(t, (len(lengths), steps, features)) * valid


def test_augment_crop_and_warp_against_the_input(key):
    lengths = np.array([10, 6, 3, 1], np.int32)
    xs = jnp.asarray(_ramp(lengths), jnp.float32)
    same, n = C.augment(xs, jnp.asarray(lengths), key, C.Augmentation())
    np.testing.assert_array_equal(same, xs)
    np.testing.assert_array_equal(n, lengths)

    cropped, n = C.augment(xs, jnp.asarray(lengths), key, C.Augmentation(crop=0.5))
    assert np.asarray(n).tolist() == [5, 3, 2, 1]  # max(1, round(0.5 * n)), numpy rounds half to even
    for b, m in enumerate(np.asarray(n)):  # a window of consecutive valid steps, moved to the start
        row = np.asarray(cropped[b, :, 0])
        start = row[0] - 1.0
        np.testing.assert_array_equal(row[:m], start + 1.0 + np.arange(m))
        assert 0 <= start <= lengths[b] - m and (row[m:] == 0).all()

    warped, n = C.augment(xs, jnp.asarray(lengths), key, C.Augmentation(warp=0.5))
    np.testing.assert_array_equal(n, lengths)
    for b, m in enumerate(lengths):  # monotone, first and last steps fixed, features warped alike
        row = np.asarray(warped[b, :, 0])
        assert row[0] == pytest.approx(1.0) and row[m - 1] == pytest.approx(float(m), rel=1e-5)
        assert (np.diff(row[:m]) >= -1e-5).all() and (row[m:] == 0).all()
        np.testing.assert_array_equal(warped[b, :, 1], warped[b, :, 0])
    assert not np.allclose(warped[0, :, 0], xs[0, :, 0])


def test_augment_is_deterministic_per_key_and_keeps_labels(key):
    lengths = jnp.array([10, 6, 3], jnp.int32)
    xs = jnp.asarray(_ramp(np.asarray(lengths), features=3), jnp.float32)
    options = C.Augmentation(crop=0.8, warp=0.3, scale=0.2, noise=0.1)
    one, n_one = C.augment(xs, lengths, key, options)
    two, n_two = C.augment(xs, lengths, key, options)
    other, _ = C.augment(xs, lengths, jax.random.fold_in(key, 7), options)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(n_one, n_two)
    assert one.shape == xs.shape and one.dtype == xs.dtype and not np.allclose(one, other)
    assert (np.asarray(one)[np.arange(10)[None, :] >= np.asarray(n_one)[:, None]] == 0).all()

    seen = {}

    def spy(model, batch, carry, k):
        seen.update(batch)
        return jnp.sum(batch["xs"]), (carry, {})

    batch = {"xs": xs, "lengths": lengths, "labels": jnp.array([2, 0, 1]), "class_weights": jnp.ones(3)}
    loss = C.augmented_loss(spy, options)
    loss(None, batch, None, key)
    expected, _ = C.augment(xs, lengths, jax.random.fold_in(key, 1), options)
    np.testing.assert_array_equal(seen["xs"], expected)
    assert seen["labels"] is batch["labels"] and seen["class_weights"] is batch["class_weights"]
    loss(None, batch, None, None)  # evaluation (no key): untouched
    assert seen["xs"] is xs
    assert C.augmented_loss(spy, C.Augmentation()) is spy
    with pytest.raises(ValueError, match="crop"):
        C.Augmentation(crop=0.0)


def test_ensemble_of_identical_members_equals_one_member(key):
    build = lambda k: C.SequenceClassifier(3, 4, hidden_size=5, pooling="mean", key=k)
    single = build(key)
    ensemble = C.ClassifierEnsemble.create(3, build, key=jnp.stack([key, key, key]))
    xs, lengths = jnp.asarray(_inputs(key)), jnp.asarray(LENGTHS)
    np.testing.assert_allclose(
        jax.nn.softmax(_apply(ensemble, xs, lengths)), jax.nn.softmax(_apply(single, xs, lengths)), rtol=1e-5
    )
    np.testing.assert_array_equal(_apply(ensemble.member(2), xs, lengths), _apply(single, xs, lengths))
    different = C.ClassifierEnsemble.create(3, build, key=key)  # the mean of the members' probabilities
    members = [jax.nn.softmax(_apply(different.member(m), xs, lengths)) for m in range(3)]
    np.testing.assert_allclose(jax.nn.softmax(_apply(different, xs, lengths)), sum(members) / 3, rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        C.ClassifierEnsemble.create(1, build, key=key)


def _conv_reference(model, xs, lengths):
    """The convolution branch in NumPy: 'same' cross-correlation (left padding (K-1)//2), ReLU, mask, mean."""
    hidden = np.asarray(xs, np.float64)
    mask = (np.arange(xs.shape[1])[None, :] < lengths[:, None])[:, :, None]
    hidden = hidden * mask
    for weight, bias in zip(model.conv_weights, model.conv_biases):
        weight, width = np.asarray(weight, np.float64), weight.shape[2]
        left = (width - 1) // 2
        padded = np.pad(hidden, ((0, 0), (left, width - 1 - left), (0, 0)))
        out = sum(np.einsum("btc,oc->bto", padded[:, k : k + xs.shape[1]], weight[:, :, k]) for k in range(width))
        hidden = np.maximum(out + np.asarray(bias), 0.0) * mask
    return hidden.sum(axis=1) / lengths[:, None]


def test_conv_branch_against_numpy_and_padding(key):
    model = C.SequenceClassifier(
        3, 4, hidden_size=5, bidirectional=True, conv_channels=(6, 4), conv_kernels=(4, 3), key=key
    )
    model = eqx.tree_at(lambda m: m.conv_biases, model, tuple(jnp.full_like(b, 0.1) for b in model.conv_biases))
    xs = _inputs(key)
    np.testing.assert_allclose(
        model.conv_features(jnp.asarray(xs), jnp.asarray(LENGTHS)),
        _conv_reference(model, xs, LENGTHS),
        rtol=1e-5,
        atol=1e-6,
    )
    logits = np.asarray(_apply(model, jnp.asarray(xs), jnp.asarray(LENGTHS)))
    noisy = xs + 100.0 * (np.arange(5)[None, :, None] >= LENGTHS[:, None, None])
    np.testing.assert_array_equal(np.asarray(_apply(model, jnp.asarray(noisy), jnp.asarray(LENGTHS))), logits)
    alone = np.asarray(_apply(model, jnp.asarray(xs[1:2, :2]), None))
    np.testing.assert_allclose(logits[1], alone[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="conv_kernels"):
        C.SequenceClassifier(3, 4, hidden_size=5, conv_channels=(6, 4), conv_kernels=(3,), key=key)


def test_valid_fraction_zero_and_stride_in_prepare(tmp_path):
    _toy_files(tmp_path, 2)
    cfg = C.DataConfig(path=str(tmp_path / "train.npz"), test_path=str(tmp_path / "test.npz"), valid_fraction=0)
    raw = {"train": C.read_cases(cfg.path), "test": C.read_cases(cfg.test_path)}
    data = C.prepare(raw, cfg, seed=0)
    assert list(data.splits) == ["train", "test"] and len(data.splits["train"].labels) == 48
    strided = C.prepare(raw, C.DataConfig(path=cfg.path, valid_fraction=0, stride=3, normalize=False), seed=0)
    for b, series in enumerate(raw["train"][0][:5]):  # steps 0, 3, 6 of each series
        n = len(series[::3])
        assert strided.splits["train"].lengths[b] == n
        np.testing.assert_allclose(strided.splits["train"].xs[b, :n], np.nan_to_num(series[::3]), rtol=1e-6)
    assert strided.splits["train"].xs.shape[1] == 3 and strided.fingerprint == data.fingerprint
    with pytest.raises(ValueError, match="valid_fraction"):
        C.DataConfig(valid_fraction=1.0)


@pytest.fixture(scope="module")
def ensemble_runs(tmp_path_factory):
    """Single runs with seeds 4 and 5 and a 2-member ensemble with seed 4, all on every training case (valid
    fraction 0, no dropout, stride 2), 6 steps each."""
    folder = tmp_path_factory.mktemp("ensemble")
    _toy_files(folder, 3)
    runs = {}
    for name, seed, members in (("a", 4, 1), ("b", 5, 1), ("ensemble", 4, 2)):
        cfg = C.ClassifyConfig(
            model=C.ModelConfig(hidden_size=4, pooling="mean", ensemble=members),
            data=C.DataConfig(path=str(folder / "train.npz"), test_path=str(folder / "test.npz"), batch_size=8,
                              eval_batch_size=8, valid_fraction=0, stride=2),
            select=C.SelectConfig(mode="off"),
        )  # fmt: skip
        cfg.train.steps, cfg.train.seed, cfg.optim.lr, cfg.optim.clip_norm = 6, seed, 0.05, 0.5
        runs[name] = C.fit_classifier(cfg, folder / name, progress=False)
    return folder, runs


def test_ensemble_members_follow_their_single_runs(ensemble_runs):
    folder, runs = ensemble_runs
    ensemble = runs["ensemble"].model
    assert isinstance(ensemble, C.ClassifierEnsemble) and runs["ensemble"].fit.best_model is None
    for index, name in enumerate(("a", "b")):  # member m trains as the single run with seed 4 + m
        for ours, theirs in zip(jax.tree.leaves(ensemble.member(index)), jax.tree.leaves(runs[name].model)):
            np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)
    assert list(runs["a"].metrics) == ["train", "test"]
    assert "| train | 48 |" in (folder / "ensemble" / "report.md").read_text()


def test_ensemble_run_reloads_and_predicts_with_stride(ensemble_runs):
    folder, runs = ensemble_runs
    loaded = C.load_classifier(folder / "ensemble")
    assert isinstance(loaded.model, C.ClassifierEnsemble) and loaded.config.data.stride == 2
    scores = C.evaluate_classifier(folder / "ensemble", "test")
    assert scores["accuracy"] == pytest.approx(runs["ensemble"].metrics["test"]["accuracy"])
    with np.load(folder / "test.npz") as raw:  # raw, unstrided input: predict applies the run's stride
        names, probabilities = C.predict_classifier(folder / "ensemble", raw["xs"], raw["lengths"])
        truth = raw["labels"].tolist()
    assert np.mean(np.array(names) == np.array(truth)) == pytest.approx(scores["accuracy"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_an_ensemble_warm_starts_from_an_ensemble(ensemble_runs, tmp_path):
    """Re-training a selected ensemble (`warm_fit_classifier`): it starts from every member's weights; an
    init with another member count is refused."""
    from recurrax.tasks.classify._retrain import warm_fit_classifier

    folder, runs = ensemble_runs
    loaded = C.load_classifier(folder / "ensemble")
    cfg = loaded.config
    cfg.train.steps, cfg.optim.lr = 1, 1e-12  # one step that moves nothing measurable
    with np.load(folder / "train.npz") as raw:
        cases = ([x[:n] for x, n in zip(raw["xs"], raw["lengths"])], raw["labels"].tolist())
    again = C.load_classifier(warm_fit_classifier(loaded.model, cfg, cases, tmp_path / "warm", loaded.classes))
    for ours, start in zip(jax.tree.leaves(again.model), jax.tree.leaves(loaded.model)):
        np.testing.assert_allclose(ours, start, atol=1e-6)
    with pytest.raises(ValueError, match="does not match the architecture"):
        warm_fit_classifier(runs["a"].model, cfg, cases, tmp_path / "wrong", loaded.classes)


def test_cli_sets_the_new_options(tmp_path):
    """``--set`` reaches every new key; early stopping without a validation split is refused."""
    from recurrax.cli import main

    _toy_files(tmp_path, 4)
    settings = [
        f"data.path={tmp_path / 'train.npz'}", "data.valid_fraction=0", "data.augment_noise=0.1",
        "data.augment_crop=0.8", "data.augment_warp=0.2", "data.augment_scale=0.1", "model.hidden_size=4",
        "model.conv_channels=[4]", "model.conv_kernels=[3]", "model.input_norm=series", "data.max_steps=4",
        "train.steps=2", "select.mode=off", "model.conv_norm=layer",
    ]  # fmt: skip
    args = [part for item in settings for part in ("--set", item)]
    assert main(["classify", "fit", *args, "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    cfg = C.load_classifier(tmp_path / "run").config
    assert (cfg.data.valid_fraction, cfg.data.augment_warp, cfg.model.conv_channels) == (0.0, 0.2, (4,))
    # with a conv branch the stride that data.max_steps derives goes to the recurrent stack alone
    assert (cfg.model.input_norm, cfg.model.rnn_stride, cfg.data.stride) == ("series", 2, 1)
    assert cfg.model.conv_norm == "layer"
    cfg.train.early_stopping_patience = 2
    with pytest.raises(ValueError, match="valid_fraction"):
        C.fit_classifier(cfg, tmp_path / "other", progress=False)
