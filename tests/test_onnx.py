"""ONNX export through jax2onnx: LSTM and GRU stacks and an exported artifact's function, run by onnxruntime on
the same inputs as the JAX model (allclose 1e-4)."""

from __future__ import annotations

import hashlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import recurrax as rx
from recurrax.config import to_dict
from recurrax.serve import load_artifact
from recurrax.serve import export_run
from recurrax.serve._onnx import export_onnx
from recurrax.tasks import lm
from recurrax.train import save_checkpoint

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("jax2onnx")
TOL = {"rtol": 1e-4, "atol": 1e-4}
STEPS = 6


def _session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # onnxruntime's notes about unused initializers go to stderr otherwise
    return ort.InferenceSession(str(path), options)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    """A 2-layer LSTM (fused kernel, a custom_vjp) and a bidirectional GRU, exported with all inputs, and a GRU
    exported with ``xs`` only."""
    root = tmp_path_factory.mktemp("onnx")
    models = {
        "lstm": (rx.LSTM(3, 5, num_layers=2, key=jax.random.key(0)), {}),
        "gru_bi": (rx.GRU(3, 4, bidirectional=True, key=jax.random.key(1)), {}),
        "gru_plain": (rx.GRU(3, 4, key=jax.random.key(2)), {"lengths": False, "initial_state": False}),
    }
    return {
        name: (model, _session(export_onnx(model, root / f"{name}.onnx", steps=STEPS, **options)))
        for name, (model, options) in models.items()
    }


@pytest.mark.parametrize("name", ["lstm", "gru_bi"])
@pytest.mark.parametrize("batch", [1, 4])
def test_stack_in_onnxruntime_equals_the_jax_model(stacks, name, batch, seed):
    model, session = stacks[name]
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(batch, STEPS, 3)).astype(np.float32)
    lengths = rng.integers(1, STEPS + 1, batch).astype(np.int32)
    _, zero = model(jnp.zeros((batch, 1, 3)))
    state = jax.tree.map(lambda a: rng.normal(size=a.shape).astype(np.float32), zero)
    names = [i.name for i in session.get_inputs()]
    assert names == ["xs", "lengths", "h0", "c0"][: len(names)] and len(names) == 2 + len(jax.tree.leaves(state))
    outputs = session.run(None, {"xs": xs, "lengths": lengths, **dict(zip(names[2:], jax.tree.leaves(state)))})
    ys, final = model(jnp.asarray(xs), jnp.asarray(lengths), state=state)
    assert len(outputs) == 1 + len(jax.tree.leaves(final))
    for got, want in zip(outputs, [ys, *jax.tree.leaves(final)]):
        np.testing.assert_allclose(got, want, **TOL)
    assert np.all(outputs[0][np.arange(STEPS)[None, :] >= lengths[:, None]] == 0)  # padding semantics kept


def test_stack_without_lengths_and_state_reads_all_steps_from_zeros(stacks, seed):
    model, session = stacks["gru_plain"]
    assert [i.name for i in session.get_inputs()] == ["xs"] and [o.name for o in session.get_outputs()] == ["ys", "hn"]
    xs = np.random.default_rng(seed).normal(size=(3, STEPS, 3)).astype(np.float32)
    ys, hn = session.run(None, {"xs": xs})
    want_ys, want_h = model(jnp.asarray(xs))
    np.testing.assert_allclose(ys, want_ys, **TOL)
    np.testing.assert_allclose(hn, want_h, **TOL)


def test_exported_language_model_step_in_onnxruntime_equals_the_artifact(tmp_path, seed):
    cfg = lm.LMConfig(model=lm.ModelConfig(embed_size=4, hidden_size=6, num_layers=1, cell="gru"))
    tokenizer = lm.CharTokenizer.fit("abcde")
    model = lm.build_model(cfg.model, len(tokenizer), key=jax.random.key(3))
    meta = {"task": "lm", "config": to_dict(cfg), "tokenizer": tokenizer.to_json(), "data_fingerprint": "f"}
    save_checkpoint(tmp_path / "run" / "checkpoints" / "best", model, meta)
    path = export_run(tmp_path / "run", tmp_path / "art", onnx=True)
    art = load_artifact(path)
    assert art.meta["onnx"] == {"step": {"file": "step.onnx", "steps": None}}
    assert art.meta["sha256"]["files"]["step.onnx"] == hashlib.sha256((path / "step.onnx").read_bytes()).hexdigest()
    session = _session(path / "step.onnx")
    rng = np.random.default_rng(seed)
    for batch in (1, 3):
        feeds = {"tokens": rng.integers(0, 6, batch).astype(np.int32), "state_0": rng.normal(size=(1, batch, 6))}
        feeds["state_0"] = feeds["state_0"].astype(np.float32)
        expected = art.call("step", **feeds)
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        assert list(got) == ["logits", "state_0_out"]
        np.testing.assert_allclose(got["logits"], expected["logits"], **TOL)
        np.testing.assert_allclose(got["state_0_out"], expected["state_0"], **TOL)


def test_bad_arguments_and_a_missing_jax2onnx_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(TypeError, match="takes an RNNStack"):
        export_onnx(rx.LSTMCell(2, 3, key=jax.random.key(0)), tmp_path / "x.onnx", steps=3)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        export_onnx(rx.LSTM(2, 3, key=jax.random.key(0)), tmp_path / "x.onnx", steps=0)
    monkeypatch.setitem(sys.modules, "jax2onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'recurrax\[onnx\]'"):
        export_onnx(rx.LSTM(2, 3, key=jax.random.key(0)), tmp_path / "x.onnx", steps=3)
