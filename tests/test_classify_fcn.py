"""The LSTM-FCN pieces of the classification defaults: the convolution branch's per-sequence normalisation
(`group_normalise`, ``conv_norm``) against NumPy, and the recurrent stride (``rnn_stride``) against striding
the input by hand."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recurrax.config import from_dict
from recurrax.tasks import classify as C
from recurrax.tasks.classify._model import group_normalise

LENGTHS = np.array([9, 4, 1], np.int32)


def _group_reference(hs, lengths, groups):
    out = np.zeros_like(hs, np.float64)
    size = hs.shape[2] // groups
    for b, n in enumerate(lengths):
        for g in range(groups):
            block = hs[b, :n, g * size : (g + 1) * size].astype(np.float64)
            out[b, :n, g * size : (g + 1) * size] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    return out


def _inputs(key, channels=4):
    xs = np.asarray(jax.random.normal(key, (3, 9, channels)), np.float32) * 3.0 + 2.0
    return xs * (np.arange(9)[None, :, None] < LENGTHS[:, None, None])


@pytest.mark.parametrize("groups", [1, 4])
def test_group_normalise_against_numpy(key, groups):
    hs = _inputs(key)
    got = np.asarray(group_normalise(jnp.asarray(hs), jnp.asarray(LENGTHS), groups))
    np.testing.assert_allclose(got, _group_reference(hs, LENGTHS, groups), atol=1e-4)
    assert not got[1, 4:].any() and not got[2, 1:].any()
    with pytest.raises(ValueError, match="groups must divide"):
        group_normalise(jnp.asarray(hs), jnp.asarray(LENGTHS), 3)


def _conv_reference(model, xs, lengths, groups):
    """The branch in NumPy: 'same' cross-correlation, bias, group normalisation, scale and shift, ReLU, mean."""
    mask = (np.arange(xs.shape[1])[None, :] < lengths[:, None])[:, :, None]
    hidden = np.asarray(xs, np.float64) * mask
    for j, (weight, bias) in enumerate(zip(model.conv_weights, model.conv_biases)):
        weight, width = np.asarray(weight, np.float64), weight.shape[2]
        left = (width - 1) // 2
        padded = np.pad(hidden, ((0, 0), (left, width - 1 - left), (0, 0)))
        out = sum(np.einsum("btc,oc->bto", padded[:, k : k + xs.shape[1]], weight[:, :, k]) for k in range(width))
        normed = _group_reference(out + np.asarray(bias), lengths, groups or out.shape[2])
        normed = normed * np.asarray(model.conv_scales[j]) + np.asarray(model.conv_shifts[j])
        hidden = np.maximum(normed, 0.0) * mask
    return hidden.sum(axis=1) / lengths[:, None]


def test_normalised_conv_branch_against_numpy_and_the_stack_reads_every_third_step(key):
    """``conv_norm="instance"`` against NumPy; with ``rnn_stride=3`` the logits are the head on the stack's
    pooled features of ``x_0, x_3, x_6`` (``ceil(n / 3)`` steps) beside the branch's features of every step."""
    k_model, k_x, k_s = jax.random.split(key, 3)
    model = C.SequenceClassifier(2, 3, hidden_size=3, bidirectional=True, conv_channels=(4, 6), conv_kernels=(3, 2),
                                 conv_norm="instance", rnn_stride=3, key=k_model)  # fmt: skip
    scales = tuple(1.0 + 0.5 * jax.random.normal(k, s.shape) for k, s in zip(jax.random.split(k_s), model.conv_scales))
    model = eqx.tree_at(lambda m: (m.conv_scales, m.conv_shifts), model,
                        (scales, tuple(jnp.full_like(s, 0.2) for s in model.conv_shifts)))  # fmt: skip
    xs, lengths = _inputs(k_x, 2), jnp.asarray(LENGTHS)
    features = model.conv_features(jnp.asarray(xs), lengths)
    np.testing.assert_allclose(np.asarray(features), _conv_reference(model, xs, LENGTHS, None), rtol=1e-4, atol=1e-5)
    short = jnp.asarray((LENGTHS + 2) // 3)
    z = jnp.concatenate([model.pool(model.rnn(jnp.asarray(xs[:, ::3]), short)[0], short), features], -1)
    expected = z @ model.head_weight.T + model.head_bias[None]
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(xs), lengths)), np.asarray(expected), rtol=1e-5, atol=1e-5)
    plain = C.SequenceClassifier(2, 3, hidden_size=3, conv_channels=(4,), conv_kernels=(3,), key=k_model)
    assert plain.conv_scales == () and plain.conv_shifts == ()  # no new leaves: older checkpoints still load
    for bad in ({"conv_norm": "batch"}, {"rnn_stride": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            C.SequenceClassifier(2, 3, hidden_size=3, key=k_model, **bad)


def test_resolve_moves_the_derived_stride_to_the_stack_when_there_is_a_conv_branch():
    series = [np.arange(20.0).reshape(-1, 1), np.arange(9.0).reshape(-1, 1)]
    conv = C.ModelConfig(conv_channels=(4,), conv_kernels=(3,))
    resolved = C.resolve(C.ClassifyConfig(model=conv, data=C.DataConfig(max_steps=6)), (series, ["a", "b"]))
    assert (resolved.model.rnn_stride, resolved.data.stride, resolved.data.max_steps) == (4, 1, None)
    assert C.resolve(resolved, (series, ["a", "b"])) == resolved  # idempotent
    assert C.prepare({"train": (series, ["a", "b"])}, resolved.data, 0).splits["train"].lengths.tolist() == [20, 9]
    halved = C.resolve(C.ClassifyConfig(model=conv, data=C.DataConfig(max_steps=6, stride=2)), (series, ["a", "b"]))
    assert (halved.model.rnn_stride, halved.data.stride) == (2, 2)  # ceil(ceil(20 / 2) / 6)
    plain = C.resolve(C.ClassifyConfig(data=C.DataConfig(max_steps=6)), (series, ["a", "b"]))
    assert (plain.model.rnn_stride, plain.data.stride) == (1, 4)


def test_cv_selection_picks_the_full_resolution_conv_branch_when_striding_hides_the_class(tmp_path, monkeypatch):
    """Class ``b`` has a spike at one odd step: the stride of 2 that ``data.max_steps`` derives hides it from
    a model without convolutions, while the conv candidate keeps every step (``rnn_stride``)."""
    monkeypatch.setitem(C.CANDIDATES, "rnn", {"model": {"conv_channels": []}})
    monkeypatch.setitem(C.CANDIDATES, "conv", {"model": {"conv_channels": [4], "conv_kernels": [3],
                                                         "conv_norm": "layer"}})  # fmt: skip
    rng = np.random.default_rng(0)
    labels = np.arange(48) % 2
    xs = 0.1 * rng.normal(size=(48, 16, 1))
    xs[labels == 1, 2 * rng.integers(0, 8, (labels == 1).sum()) + 1, 0] += 3.0
    np.savez(tmp_path / "train.npz", xs=xs, labels=np.array(["a", "b"])[labels])
    settings = {
        "model": {"hidden_size": 4, "pooling": "mean", "bidirectional": False},
        "data": {"path": str(tmp_path / "train.npz"), "batch_size": 24, "max_steps": 8},
        "optim": {"lr": 0.03},
        "train": {"steps": 40, "eval_every": 0, "log_every": 40, "checkpoint_every": 0},
        "select": {"candidates": ["rnn", "conv"], "folds": 2},
    }
    run = C.fit_classifier(from_dict(C.ClassifyConfig, settings), tmp_path / "run", progress=False)
    scores = run.selection["candidates"]
    assert run.selection["picked"] == "conv" and scores["conv"]["accuracy"] >= 0.9 > scores["rnn"]["accuracy"] + 0.2
    loaded = C.load_classifier(run.run_dir)
    assert (loaded.config.model.rnn_stride, loaded.config.data.stride, loaded.config.model.conv_norm) == (2, 1, "layer")
