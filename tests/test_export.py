"""`export_run` / `load_artifact`: the exported StableHLO functions equal each task's own in-memory prediction
(at two batch sizes), the artifact checks versions, inputs, file paths and content hashes, and it loads without
the task modules."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy

from recurrax.config import to_dict
from recurrax.serve import ReferenceProfile, load_artifact
from recurrax.serve._export import _run_profile, export_run
from recurrax.tasks import anomaly as A
from recurrax.tasks import classify as C
from recurrax.tasks import forecast as F
from recurrax.tasks import lm
from recurrax.train import save_checkpoint

TOL = {"rtol": 1e-5, "atol": 1e-5}
FORECASTS = {  # head, kind, scaler, scope, exported levels (None: the config's, (0.1, 0.5, 0.9))
    "point": ("point", "direct", "meanabs", "window", None),
    "gaussian": ("gaussian", "recursive", "robust", "window", (0.25, 0.75)),
    "quantile": ("quantile", "direct", "standard", "series", None),
    "student_t": ("student_t", "direct", "none", "window", (0.05, 0.5, 0.8)),
    "point_last": ("point", "direct", "last", "window", None),
    "gaussian_ensemble": ("gaussian", "direct", "meanabs", "window", None),  # 3 members: the median forecast
    "quantile_ensemble": ("quantile", "direct", "standard", "series", (0.2, 0.5)),
}


def _save(folder, model, meta):
    """A run directory whose best checkpoint holds ``model`` (untrained weights are as good an oracle)."""
    save_checkpoint(folder / "checkpoints" / "best", model, {"data_fingerprint": "f" * 64, **meta})
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run directories of each task (tiny models saved with the tasks' checkpoint format) and their artifacts."""
    root = tmp_path_factory.mktemp("export")
    out = {}
    cfg = lm.LMConfig(model=lm.ModelConfig(embed_size=6, hidden_size=8, num_layers=2))
    tokenizer = lm.CharTokenizer.fit("hello world")
    model = lm.build_model(cfg.model, len(tokenizer), key=jax.random.key(0))
    meta = {"task": "lm", "config": to_dict(cfg), "tokenizer": tokenizer.to_json()}
    out["lm"] = (_save(root / "lm", model, meta), model)

    cfg = C.ClassifyConfig(
        model=C.ModelConfig(hidden_size=6, bidirectional=True, pooling="attention", attention_size=4)
    )
    model = C.build_model(cfg.model, 3, 4, key=jax.random.key(1))
    scaler = {"mean": [1.0, -2.0, 0.5], "std": [2.0, 0.5, 1.0]}
    meta = {"task": "classify", "config": to_dict(cfg), "classes": list("abcd"), "input_size": 3, "scaler": scaler}
    out["classify"] = (_save(root / "classify", model, meta), model)
    strided = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, stride=2))  # every 2nd step, as trained
    meta_strided = {**meta, "config": to_dict(strided)}
    out["classify_stride2"] = (_save(root / "classify_stride2", model, meta_strided), model)
    inputs = np.random.default_rng(5).normal(size=(500, 3)) * scaler["std"] + scaler["mean"]
    ReferenceProfile.from_values(inputs).save(root / "classify" / "reference_profile.json")  # as fit writes it

    rng = np.random.default_rng(0)
    series = [rng.normal(size=size) * 3 + 10 for size in (3, 7, 12, 15, 5)]
    for name, (head, kind, scaler, scope, _) in FORECASTS.items():
        data = F.DataConfig(input_size=8, horizon=3, scaler=scaler, scale_scope=scope)
        members = 3 if name.endswith("_ensemble") else 1
        cfg = F.ForecastConfig(model=F.ModelConfig(hidden_size=5, head=head, kind=kind, ensemble=members), data=data)
        model = F.build_model(cfg.model, 3, key=jax.random.key(2))
        fitted = F.Scaler.fit(series, scaler) if scope == "series" else None
        meta = {"task": "forecast", "config": to_dict(cfg), "scaler": fitted and fitted.to_json()}
        out[f"forecast_{name}"] = (_save(root / name, model, meta), (model, cfg, fitted, series))

    scorer_cfg = A.ScorerConfig(kind="nll", hidden_size=5, num_layers=2, window=4)
    values = rng.normal(size=(30, 2)) * 3 + 5
    network = A._scorers.build_network(scorer_cfg, 2, key=jax.random.key(3))
    scorer = A.Scorer(network, values.mean(axis=0), values.std(axis=0), scorer_cfg)
    A.save_scorer(scorer, scorer_cfg, root / "anomaly" / "checkpoints" / "best")
    out["anomaly"] = (root / "anomaly", (scorer, values))
    levels = {f"forecast_{name}": {"levels": spec[-1]} for name, spec in FORECASTS.items() if spec[-1]}
    return {
        name: (run, obj, export_run(run, root / "artifacts" / name, **levels.get(name, {})))
        for name, (run, obj) in out.items()
    }


@pytest.mark.parametrize("batch", [1, 3])
def test_lm_step_streamed_token_by_token_equals_the_model_on_the_whole_sequence(runs, batch, seed):
    _, model, path = runs["lm"]
    art = load_artifact(path)
    tokens = np.random.default_rng(seed).integers(0, 9, (batch, 4)).astype(np.int32)
    logits, (h, c) = model(jnp.asarray(tokens))
    state = art.init_state(batch)
    assert {k: v.shape for k, v in state.items()} == {"state_0": (2, batch, 8), "state_1": (2, batch, 8)}
    for t in range(4):
        out = art.call("step", tokens=tokens[:, t], **state)
        np.testing.assert_allclose(out["logits"], logits[:, t], **TOL)
        state = {k: out[k] for k in state}
    np.testing.assert_allclose(state["state_0"], h, **TOL)
    np.testing.assert_allclose(state["state_1"], c, **TOL)


@pytest.mark.parametrize("name", ["classify", "classify_stride2"])
@pytest.mark.parametrize(("batch", "steps"), [(2, 5), (6, 9)])
def test_classify_predict_proba_equals_predict_classifier(runs, name, batch, steps, seed):
    """The artifact applies the run's preprocessing (scaling, missing values, ``data.stride``) as the library."""
    run, _, path = runs[name]
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(batch, steps, 3)).astype(np.float32)
    xs[0, 1, 2] = np.nan  # a missing value: the task's predict treats it as 0 after scaling
    lengths = rng.integers(1, steps + 1, batch).astype(np.int32)
    _, expected = C.predict_classifier(run, xs, lengths)
    probs = load_artifact(path).call("predict_proba", x=xs, lengths=lengths)["probs"]
    np.testing.assert_allclose(probs, expected, **TOL)


@pytest.mark.parametrize(
    ("name", "batch"), [("gaussian", 2), ("gaussian", 5), ("point", 4), ("quantile", 3), ("student_t", 5)]
)
def test_forecast_equals_the_tasks_predict_in_data_units(runs, name, batch):
    _, (model, cfg, scaler, series), path = runs[f"forecast_{name}"]
    art = load_artifact(path)
    chosen = list(range(5))[-batch:]  # histories shorter and longer than input_size = 8
    values = [series[i] for i in chosen]
    history = np.zeros((batch, 16), np.float32)
    for row, v in enumerate(values):
        history[row, : v.size] = v
    lengths = np.array([v.size for v in values], np.int32)
    extra = {"series": np.array(chosen, np.int32)} if scaler is not None else {}
    levels = art.meta["data"]["levels"]
    if scaler is not None:  # predict scales row i with series i's statistics
        scaler = F.Scaler(scaler.loc[chosen], scaler.scale[chosen], scaler.method)
    expected = F.predict(model, cfg, values, scaler=scaler, levels=levels)
    out = art.call("forecast", history=history, lengths=lengths, **extra)
    np.testing.assert_allclose(out["mean"], expected.mean, **TOL)
    if levels is None:
        assert set(out) == {"mean"} and FORECASTS[name][0] == "point"
    else:
        assert levels == list(FORECASTS[name][-1] or (0.1, 0.5, 0.9))
        np.testing.assert_allclose(out["quantiles"], expected.quantiles, **TOL)


@pytest.mark.parametrize("batch", [1, 3])
def test_anomaly_scores_equal_score_series_and_the_streaming_scorer(runs, batch):
    _, (scorer, values), path = runs["anomaly"]
    art = load_artifact(path)
    starts, lengths = [0, 6, 11][:batch], np.array([12, 9, 10][:batch], np.int32)
    windows = np.stack([values[s : s + 12] for s in starts]).astype(np.float32)
    scores = art.call("score", values=windows, lengths=lengths)["scores"]
    for row, (start, n) in enumerate(zip(starts, lengths)):
        expected = A.score_series(scorer, values[start : start + n])
        np.testing.assert_allclose(scores[row, :n], expected, **TOL)  # NaN in the warm-up, at the same places
        assert np.isnan(scores[row, n:]).all()
    streams, state = [A.StreamingScorer(scorer) for _ in starts], art.init_state(batch)
    assert state["seen"].shape == (batch,) and state["state_0"].shape == (batch, 2, 5)
    for t in range(6):
        out = art.call("score_step", x=windows[:, t], **state)
        state = {k: out[k] for k in state}
        expected = [stream.update(values[start + t]) for stream, start in zip(streams, starts)]
        np.testing.assert_allclose(out["score"], expected, **TOL)


def test_artifact_files_meta_and_weights_are_the_checkpoints(runs):
    run, _, path = runs["lm"]
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "step.stablehlo", "weights.safetensors"]
    meta = json.loads((path / "meta.json").read_text())
    checkpoint = json.loads((run / "checkpoints" / "best" / "meta.json").read_text())
    assert meta["format"] == "recurrax-artifact" and meta["format_version"] == 1 and meta["task"] == "lm"
    assert meta["jax_version"] == jax.__version__ and meta["config"] == checkpoint["config"]
    assert meta["data"]["tokenizer"] == checkpoint["tokenizer"] and meta["data"]["vocab_size"] == 9
    step = meta["functions"]["step"]
    assert step["inputs"][0] == {"name": "tokens", "shape": ["B"], "dtype": "int32", "bounds": [0, 8]}
    assert step["outputs"][0] == {"name": "logits", "shape": ["B", 9], "dtype": "float32"}
    assert step["state"] == {"names": ["state_0", "state_1"], "batch_axis": 1}
    weights = safetensors.numpy.load_file(path / "weights.safetensors")
    stored = safetensors.numpy.load_file(run / "checkpoints" / "best" / "model.safetensors")
    assert weights.keys() == stored.keys() and all(np.array_equal(weights[k], stored[k]) for k in stored)
    classify = load_artifact(runs["classify"][2])
    assert classify.functions == ("predict_proba",) and classify.meta["data"]["classes"] == list("abcd")
    assert classify.schema("predict_proba")["inputs"][0] == {
        "name": "x", "shape": ["B", "T", 3], "dtype": "float32", "allow_nan": True
    }  # fmt: skip
    assert load_artifact(runs["forecast_quantile"][2]).schema("forecast")["outputs"] == [
        {"name": "mean", "shape": ["B", 3], "dtype": "float32"},
        {"name": "quantiles", "shape": ["B", 3, 3], "dtype": "float32"},
    ]


def test_export_carries_the_runs_drift_profile(runs):
    run, _, path = runs["classify"]
    written = json.loads((run / "reference_profile.json").read_text())
    assert json.loads((path / "drift_profile.json").read_text()) == written
    artifact = load_artifact(path)
    assert artifact.meta["drift_profile"] == "drift_profile.json" and artifact.drift_profile.to_dict() == written
    best = run / "checkpoints" / "best"  # a checkpoint path finds the profile of the run that holds it
    assert _run_profile(best, best).to_dict() == written
    lm_artifact = load_artifact(runs["lm"][2])
    assert lm_artifact.drift_profile is None and "drift_profile" not in lm_artifact.meta


def _edited(src, dst, edit):
    shutil.copytree(src, dst)
    edit(dst)
    return dst


def _edit_meta(change):
    def edit(path):
        meta = json.loads((path / "meta.json").read_text())
        change(meta)
        (path / "meta.json").write_text(json.dumps(meta))

    return edit


def _set_meta(**changes):
    return _edit_meta(lambda meta: meta.update(changes))


def _unhashed(edit=lambda path: None):
    """``edit``, on an artifact as exported before the hashes (no ``sha256`` in meta.json): the checks past them."""

    def both(path):
        _edit_meta(lambda meta: meta.pop("sha256"))(path)
        edit(path)

    return both


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set_meta(format_version=2), "format_version 2, this recurrax reads 1"),
        (_set_meta(jax_version="99.0.0"), "exported with jax 99.0.0; the installed jax .* is older"),
        (_set_meta(format="something"), "not a recurrax artifact"),
        (lambda p: (p / "meta.json").write_text("{"), "not valid JSON"),
        (lambda p: (p / "meta.json").unlink(), "no meta.json"),
        (lambda p: (p / "step.stablehlo").unlink(), "step.stablehlo .* is missing"),
        (_unhashed(lambda p: (p / "step.stablehlo").unlink()), "step.stablehlo .* is missing"),
        (_unhashed(lambda p: (p / "step.stablehlo").write_bytes(b"garbage")), "cannot be read by jax"),
        (_unhashed(lambda p: safetensors.numpy.save_file({"x": np.zeros(1)}, p / "weights.safetensors")),
         "takes weights missing"),
        (_set_meta(sha256=["x"]), "sha256 must be"),
    ],
)
def test_loading_refuses_other_versions_and_broken_files(runs, tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        load_artifact(_edited(runs["lm"][2], tmp_path / "a", edit))


def test_loading_refuses_weights_of_another_shape(runs, tmp_path):
    def edit(path):
        weights = safetensors.numpy.load_file(path / "weights.safetensors")
        weights[".head_bias"] = np.zeros(10, np.float32)
        safetensors.numpy.save_file(weights, path / "weights.safetensors")

    with pytest.raises(ValueError, match=r"\.head_bias is float32\[10\], step.stablehlo expects float32\[9\]"):
        load_artifact(_edited(runs["lm"][2], tmp_path / "a", _unhashed(edit)))


def test_meta_records_the_sha256_of_every_listed_file_and_of_itself(runs):
    """``files``: hashlib's sha256 of each file's bytes; ``meta``: of meta.json's content without ``sha256``,
    as sorted compact JSON."""
    path = runs["classify"][2]
    meta = json.loads((path / "meta.json").read_text())
    listed = ["drift_profile.json", "predict_proba.stablehlo", "weights.safetensors"]
    assert sorted(p.name for p in path.iterdir()) == sorted([*listed, "meta.json"])
    assert meta["sha256"]["files"] == {name: hashlib.sha256((path / name).read_bytes()).hexdigest() for name in listed}
    content = {k: v for k, v in meta.items() if k != "sha256"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    assert meta["sha256"]["meta"] == hashlib.sha256(canonical).hexdigest()


def _flip_last_byte(name):
    def edit(path):
        data = bytearray((path / name).read_bytes())
        data[-1] ^= 0x01
        (path / name).write_bytes(bytes(data))

    return edit


def _replace_first(name, old, new):
    def edit(path):
        text = (path / name).read_text()
        assert old in text
        (path / name).write_text(text.replace(old, new, 1))

    return edit


def _swap_classes(meta):
    meta["data"]["classes"] = meta["data"]["classes"][::-1]


def _scale_std(meta):
    meta["data"]["scaler"]["std"][0] *= 2


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        (_flip_last_byte("weights.safetensors"), "weights.safetensors"),
        (_flip_last_byte("predict_proba.stablehlo"), "predict_proba.stablehlo"),
        (_replace_first("drift_profile.json", "1", "2"), "drift_profile.json"),
        (_edit_meta(_swap_classes), "meta.json"),
        (_edit_meta(_scale_std), "meta.json"),
    ],
    ids=["weights", "module", "drift-profile", "swapped-classes", "scaler"],
)
def test_a_changed_file_or_meta_content_is_an_error_naming_it(runs, tmp_path, edit, changed):
    """Each edit alone would load and give other predictions (or a drifted reference); the hash refuses it."""
    path = _edited(runs["classify"][2], tmp_path / "a", edit)
    with pytest.raises(ValueError) as error:
        load_artifact(path)
    assert str(error.value) == f"{path / changed}: content hash mismatch (file changed or corrupt)"
    assert load_artifact(_edited(runs["classify"][2], tmp_path / "b", _unhashed(edit))).task == "classify"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda meta: meta["functions"]["predict_proba"].update(file="../outside.stablehlo"),
         "function 'predict_proba' file '../outside.stablehlo'"),
        (lambda meta: meta["functions"]["predict_proba"].update(file="{outside}"), "function 'predict_proba' file '/"),
        (lambda meta: meta.update(drift_profile="sub/../../outside.stablehlo"), "drift profile file 'sub/../../"),
        (lambda meta: meta.update(onnx={"predict_proba": {"file": "../outside.stablehlo", "steps": 4}}),
         "ONNX of 'predict_proba' file '../outside.stablehlo'"),
    ],
    ids=["relative", "absolute", "drift-profile", "onnx"],
)
@pytest.mark.parametrize("hashed", [True, False])
def test_listed_files_outside_the_artifact_are_refused(runs, tmp_path, change, named, hashed):
    """Path traversal: a listed file must lie inside the artifact folder, even where it exists outside it."""
    outside = tmp_path / "outside.stablehlo"
    shutil.copy(runs["classify"][2] / "predict_proba.stablehlo", outside)

    def edit(meta):
        change(meta)
        spec = meta["functions"]["predict_proba"]
        spec["file"] = spec["file"].format(outside=outside)
        if not hashed:
            meta.pop("sha256")

    path = _edited(runs["classify"][2], tmp_path / "a", _edit_meta(edit))
    with pytest.raises(ValueError) as error:
        load_artifact(path)
    assert str(error.value).startswith(f"{path}: the {named}")
    assert str(error.value).endswith("is an absolute path or outside the artifact folder")


def test_an_artifact_exported_before_the_hashes_loads_and_predicts_the_same(runs, tmp_path):
    path = runs["classify"][2]
    old = _edited(path, tmp_path / "old", _unhashed())
    assert "sha256" not in load_artifact(old).meta
    x, lengths = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32), np.array([4, 2], np.int32)
    expected = load_artifact(path).call("predict_proba", x=x, lengths=lengths)["probs"]
    np.testing.assert_array_equal(load_artifact(old).call("predict_proba", x=x, lengths=lengths)["probs"], expected)


def _lm_inputs(**changes):
    inputs = {"tokens": np.array([1, 2], np.int32), "state_0": np.zeros((2, 2, 8), np.float32)}
    inputs["state_1"] = np.zeros((2, 2, 8), np.float32)
    return {k: v for k, v in {**inputs, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (_lm_inputs(state_1=None), r"missing \['state_1'\]"),
        (_lm_inputs(extra=np.zeros(2)), r"unknown \['extra'\]"),
        (_lm_inputs(tokens=np.array([[1, 2]], np.int32)), "tokens must have rank 1"),
        (_lm_inputs(tokens=np.array([1.0, 2.0])), "tokens must hold integers"),
        (_lm_inputs(state_0=np.zeros((2, 2, 7), np.float32)), r"state_0 must have shape \[2, 'B', 8\]"),
        (_lm_inputs(state_0=np.zeros((2, 3, 8), np.float32)), "state_0 has B = 3 on axis 1, other inputs 2"),
        (_lm_inputs(state_0=np.full((2, 2, 8), np.nan, np.float32)), r"state_0 holds NaN \(missing\) values"),
        (_lm_inputs(state_0=np.zeros((2, 2, 8), bool)), "state_0 must hold real numbers"),
        (_lm_inputs(tokens=np.array([1, 9], np.int32)), r"tokens must lie in \[0, 8\]"),
        (_lm_inputs(tokens=np.array([1, 2**40])), "tokens holds values outside int32"),
        (_lm_inputs(tokens=np.zeros(0, np.int32)), "tokens has B = 0"),
    ],
)
def test_call_checks_inputs_against_the_schema(runs, inputs, message):
    with pytest.raises(ValueError, match=message):
        load_artifact(runs["lm"][2]).call("step", **inputs)


def test_call_checks_bounds_that_depend_on_symbols_and_nan_rules(runs):
    classify = load_artifact(runs["classify"][2])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 4\], got values in \[2, 5\]"):
        classify.call("predict_proba", x=np.zeros((2, 4, 3), np.float32), lengths=np.array([2, 5], np.int32))
    with pytest.raises(ValueError, match="x holds infinite values"):
        classify.call("predict_proba", x=np.full((1, 2, 3), np.inf, np.float32), lengths=np.array([2], np.int32))
    forecast = load_artifact(runs["forecast_point"][2])
    with pytest.raises(ValueError, match="history holds NaN"):
        forecast.call("forecast", history=np.full((1, 3), np.nan, np.float32), lengths=np.array([3], np.int32))
    with pytest.raises(ValueError, match="has no function 'step'; it has forecast"):
        forecast.call("step")
    with pytest.raises(ValueError, match="this artifact has none"):
        forecast.init_state(2)
    series = load_artifact(runs["forecast_quantile"][2])
    with pytest.raises(ValueError, match=r"series must lie in \[0, 4\]"):
        series.call("forecast", history=np.ones((1, 3), np.float32), lengths=np.array([3]), series=np.array([5]))


def test_export_replaces_an_artifact_atomically_and_refuses_other_folders(runs, tmp_path):
    run = runs["lm"][0]
    target = tmp_path / "art"
    export_run(run, target)
    (target / "marker").write_text("old")
    assert export_run(run, target) == target and not (target / "marker").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]  # no temporary directory left behind
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="exists and is not an exported model"):
        export_run(run, tmp_path / "other")
    with pytest.raises(ValueError, match="levels do not apply to a lm run"):
        export_run(run, tmp_path / "x", levels=(0.5,))
    with pytest.raises(ValueError, match="a point head gives no quantiles"):
        export_run(runs["forecast_point"][0], tmp_path / "x", levels=(0.5,))
    with pytest.raises(ValueError, match="no checkpoint"):
        export_run(tmp_path / "missing", tmp_path / "x")


def test_the_artifact_runs_in_a_fresh_process_without_the_task_modules(runs, tmp_path):
    _, model, path = runs["lm"]
    script = f"""
import sys, numpy as np
from recurrax.serve import load_artifact
art = load_artifact({str(path)!r})
state = art.init_state(2)
out = art.call("step", tokens=np.array([3, 4], np.int32), **state)
np.save({str(tmp_path / "logits.npy")!r}, out["logits"])
assert not [m for m in sys.modules if m.startswith("recurrax.tasks")], "recurrax.tasks was imported"
"""
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    logits, _ = model(jnp.array([[3], [4]], jnp.int32))
    np.testing.assert_allclose(np.load(tmp_path / "logits.npy"), logits[:, 0], **TOL)


def test_cli_export_prints_where_it_wrote_and_reports_errors_in_one_line(runs, tmp_path, capsys):
    from recurrax.cli import main

    run = runs["forecast_point"][0]
    assert main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'a'} (forecast.stablehlo, meta.json, weights.safetensors)\n"
    assert load_artifact(tmp_path / "a").meta["source"]["checkpoint"] == str(run / "checkpoints" / "best")
    run = runs["forecast_gaussian"][0]
    assert main(["export", str(run), "--out", str(tmp_path / "a"), "--levels", "0.05,0.95"]) == 0
    assert load_artifact(tmp_path / "a").meta["data"]["levels"] == [0.05, 0.95]
    capsys.readouterr()

    assert main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recurrax: error: no checkpoint at") and err.count("\n") == 1
    assert main(["export", str(run), "--out", str(tmp_path / "b"), "--levels", "x"]) == 2
    assert "expected numbers separated by commas" in capsys.readouterr().err
