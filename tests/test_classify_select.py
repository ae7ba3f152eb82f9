"""Classification defaults: per-series normalisation against NumPy, the stride derived from ``data.max_steps``,
the choice of setting by cross-validation on the training cases (it must pick the obviously better candidate,
never read the test split, compare single models, and train the pick on every training case as an ensemble of
``select.members``), old checkpoints keep their meaning,
and the development-suite datasets are registered."""

from __future__ import annotations

import json
import zipfile

import equinox as eqx
import jax
import numpy as np
import pytest

import recurrax.data as rd
from recurrax.config import ConfigError, from_dict, to_dict
from recurrax.tasks import classify as C
from recurrax.tasks.classify import _fit
from recurrax.tasks.classify._run import legacy_config


def _series_reference(xs, lengths):
    out = np.zeros_like(xs, np.float64)
    for b, n in enumerate(lengths):
        valid = xs[b, :n].astype(np.float64)
        std = valid.std(axis=0)
        out[b, :n] = (valid - valid.mean(axis=0)) / np.where(std < 1e-8, 1.0, std)
    return out


def test_series_normalise_against_numpy(key):
    lengths = np.array([6, 3, 1, 5], np.int32)
    xs = np.asarray(jax.random.normal(key, (4, 6, 3)), np.float32) * 4.0 + 7.0
    xs[1, :, 2] = 2.5  # a constant feature: centred, not divided
    xs *= np.arange(6)[None, :, None] < lengths[:, None, None]
    got = np.asarray(C.series_normalise(xs, lengths))
    np.testing.assert_allclose(got, _series_reference(xs, lengths), atol=1e-5)
    assert not got[0, 6:].any() and not got[1, 3:].any() and not got[2].any()


def test_series_norm_model_ignores_each_sequences_offset_and_scale_and_padding(key):
    k_model, k_x = jax.random.split(key)
    model = C.SequenceClassifier(2, 3, hidden_size=5, bidirectional=True, conv_channels=(4,), conv_kernels=(3,),
                                 input_norm="series", key=k_model)  # fmt: skip
    lengths = np.array([7, 4, 2], np.int32)
    xs = np.array(jax.random.normal(k_x, (3, 7, 2)), np.float32)
    mask = np.arange(7)[None, :, None] < lengths[:, None, None]
    xs *= mask
    scale = np.array([[[3.0, 0.5]], [[10.0, 2.0]], [[0.1, 7.0]]], np.float32)
    moved = (xs * scale + np.array([[[5.0, -2.0]]], np.float32)) * mask + (~mask) * 9.0
    apply = eqx.filter_jit(lambda m, x, n: m(x, n))
    np.testing.assert_allclose(apply(model, moved, lengths), apply(model, xs, lengths), atol=2e-4)
    with pytest.raises(ValueError, match="input_norm"):
        C.SequenceClassifier(2, 3, hidden_size=5, input_norm="batch", key=k_model)


def test_max_steps_derives_the_stride_and_predict_applies_it(tmp_path):
    series = [np.arange(20.0).reshape(-1, 1), np.arange(9.0).reshape(-1, 1)]
    cfg = C.DataConfig(max_steps=6)
    assert C._data.resolved_stride(cfg, series) == 4  # ceil(20 / 6)
    assert C._data.resolved_stride(C.DataConfig(max_steps=None, stride=2), series) == 2
    assert C._data.resolved_stride(C.DataConfig(max_steps=50, stride=3), series) == 3
    raw = {"train": (series, ["a", "b"])}
    resolved = C.resolve(C.ClassifyConfig(data=cfg), raw["train"])
    assert resolved.data.stride == 4
    data = C.prepare(raw, resolved.data, 0)
    assert data.splits["train"].lengths.tolist() == [5, 3]


def _level_files(folder, seed, by):
    """Two classes, 60 training and 30 test cases of 12 steps: ``by="level"`` tells them apart by each series'
    offset only (per-series normalisation erases it); ``by="shape"`` by a rising or falling ramp, each case
    with a random offset and scale far larger than the ramp (per-feature standardisation keeps them)."""
    rng = np.random.default_rng(seed)
    for name, count in (("train", 60), ("test", 30)):
        labels = np.arange(count) % 2
        noise = rng.normal(size=(count, 12, 1))
        if by == "level":
            xs = noise + np.where(labels == 1, 1.0, -1.0)[:, None, None]
        else:
            ramp = np.linspace(-1, 1, 12)[None, :, None] * np.where(labels == 1, 1.0, -1.0)[:, None, None]
            xs = (ramp + 0.3 * noise) * rng.uniform(0.2, 5, (count, 1, 1)) + rng.normal(0, 20, (count, 1, 1))
        np.savez(folder / f"{name}.npz", xs=xs, labels=np.array(["a", "b"])[labels])


@pytest.fixture
def norm_candidates(monkeypatch):
    monkeypatch.setitem(C.CANDIDATES, "feature", {"model": {"input_norm": "none"}})
    monkeypatch.setitem(C.CANDIDATES, "series", {"model": {"input_norm": "series"}})


def _select_cfg(folder, **select):
    settings = {
        "model": {"hidden_size": 8, "pooling": "mean", "bidirectional": False},
        "data": {"path": str(folder / "train.npz"), "test_path": str(folder / "test.npz"), "valid_fraction": 0.0,
                 "batch_size": 20},
        "optim": {"lr": 0.03},
        "train": {"steps": 60, "eval_every": 60, "log_every": 60, "checkpoint_every": 0},
        "select": {"candidates": ["series", "feature"], "folds": 3, **select},
    }  # fmt: skip
    return from_dict(C.ClassifyConfig, settings)


@pytest.mark.parametrize("by, winner", [("level", "feature"), ("shape", "series")])
def test_cv_selection_picks_the_obviously_better_candidate(tmp_path, norm_candidates, by, winner):
    _level_files(tmp_path, 0, by)
    run = C.fit_classifier(_select_cfg(tmp_path), tmp_path / "run", progress=False)
    record = run.selection
    assert record["picked"] == winner and record["cases"] == 60 and record["folds"] == 3
    loser = ({"series", "feature"} - {winner}).pop()
    assert record["candidates"][winner]["accuracy"] >= 0.9 > record["candidates"][loser]["accuracy"] + 0.1
    assert record["margin"] == pytest.approx(
        record["candidates"][winner]["accuracy"] - record["candidates"][loser]["accuracy"]
    )
    # the pick is trained on every training case and is what the run directory holds
    assert run.metrics["train"]["accuracy"] >= 0.9 and "| train | 60 |" in (run.run_dir / "report.md").read_text()
    loaded = C.load_classifier(run.run_dir)
    assert loaded.config.model.input_norm == C.CANDIDATES[winner]["model"]["input_norm"]
    assert loaded.config.select.mode == "off"
    assert json.loads((run.run_dir / "selection.json").read_text())["picked"] == winner
    assert f"Picked **{winner}**" in (run.run_dir / "report.md").read_text()


def test_selection_reads_no_test_case_and_only_runs_when_asked(tmp_path, norm_candidates, monkeypatch):
    _level_files(tmp_path, 1, "level")
    cfg = _select_cfg(tmp_path)
    raw = C._data.load_raw(cfg.data)
    seen = []
    original = C._fit.train_classifier

    def spy(option, data, run_dir, **kwargs):
        seen.append(sum(len(c.labels) for c in data.splits.values()))
        members.append(option.model.ensemble)
        return original(option, data, run_dir, **kwargs)

    members = []

    monkeypatch.setattr(_fit, "train_classifier", spy)
    poisoned = {"train": raw["train"], "test": ([s * np.nan for s in raw["test"][0]], raw["test"][1])}
    picked, record = C.select_setting(cfg, raw["train"])
    assert seen == [60] * 6 and record["picked"] == "feature" and picked.model.input_norm == "none"
    assert members == [1] * 6 and picked.model.ensemble == 3  # single models compared; the winner: 3 members
    again, _ = C.select_setting(cfg, poisoned["train"])
    assert again == picked  # the same folds and seeds: the same choice
    settings = to_dict(cfg)
    settings["select"]["members"], settings["model"]["ensemble"] = None, 2
    kept, _ = C.select_setting(from_dict(C.ClassifyConfig, settings), raw["train"])
    assert kept.model.ensemble == 2 and members == [1] * 18  # members = None: the configured ensemble
    for select in ({"mode": "off"}, {"max_cases": 60}, {"candidates": ["series"]}):
        seen.clear()
        same, none = C.select_setting(_select_cfg(tmp_path, **select), raw["train"])
        assert none is None and seen == [] and same.model.input_norm == "none"
    with pytest.raises(ConfigError, match="select.candidates: unknown"):
        from_dict(C.ClassifyConfig, {"select": {"candidates": ["nope"]}})


def test_select_steps_set_the_candidates_budget_and_the_winner_keeps_its_own(tmp_path, norm_candidates, monkeypatch):
    _level_files(tmp_path, 1, "level")
    steps = []
    original = _fit.train_classifier

    def spy(option, data, run_dir, **kwargs):
        steps.append(option.train.steps)
        return original(option, data, run_dir, **kwargs)

    monkeypatch.setattr(_fit, "train_classifier", spy)
    run = C.fit_classifier(_select_cfg(tmp_path, steps=30), tmp_path / "run", progress=False)
    assert steps == [30] * 6 + [60] and run.selection["picked"] == "feature"
    assert C.load_classifier(run.run_dir).config.train.steps == 60
    steps.clear()
    default = _select_cfg(tmp_path)
    C.select_setting(default, C._data.load_raw(default.data)["train"])
    assert C.SelectConfig().steps == 300 and steps == [60] * 6  # never more than train.steps
    with pytest.raises(ConfigError, match="select.steps"):
        from_dict(C.ClassifyConfig, {"select": {"steps": 0}})


def test_old_checkpoint_configs_keep_their_meaning():
    old = {"model": {"hidden_size": 8}, "data": {}, "optim": {}, "train": {}}
    cfg = from_dict(C.ClassifyConfig, legacy_config(old))
    assert (cfg.model.input_norm, cfg.data.max_steps, cfg.select.mode) == ("none", None, "off")
    assert cfg.select.members is None and cfg.select.steps is None
    assert cfg.model.hidden_size == 8


@pytest.mark.parametrize("name, problem", [("acsf1", "ACSF1"), ("pickupgesturewiimotez", "PickupGestureWiimoteZ")])
def test_development_suite_sets_are_registered(tmp_path, name, problem):
    spec = rd.dataset_spec(name)
    assert spec.kind == "classification" and spec.splits == ("train", "test")
    assert [f.digest for f in spec.files] == [("sha256", rd._ts.AEON_SHA256)]
    with zipfile.ZipFile(tmp_path / rd._ts.AEON_WHEEL, "w") as archive:
        for split in ("TRAIN", "TEST"):
            archive.writestr(f"aeon/datasets/data/{problem}/{problem}_{split}.ts", f"@problemName {split}\n")
    assert spec.read(tmp_path, "train") == ["@problemName TRAIN\n"]


def test_protocol_configs_keep_their_meaning_and_dev_selection_is_nested(tmp_path, norm_candidates, monkeypatch):
    """A protocol config that names no ``select`` (written before it existed) trains as given; one that asks
    for it chooses inside every outer fold, on that fold's training cases only."""
    _level_files(tmp_path, 2, "level")
    sizes = []
    original = _fit.train_classifier

    def spy(option, data, run_dir, **kwargs):
        sizes.append((option.model.input_norm, len(data.splits["train"].labels)))
        return original(option, data, run_dir, **kwargs)

    monkeypatch.setattr(_fit, "train_classifier", spy)
    base = {
        "cv_folds": 2,
        "model": {"hidden_size": 4, "bidirectional": False},
        "data": {"path": str(tmp_path / "train.npz"), "valid_fraction": 0.0, "batch_size": 20},
        "train": {"steps": 3, "eval_every": 0, "checkpoint_every": 0},
    }
    common = {"split": "dev", "seed": 0, "fold": 0, "folds": 1, "data_dir": None}
    C.evaluate_protocol(base, workdir=tmp_path / "a", **common)
    assert sizes == [("none", 30), ("none", 30)]
    sizes.clear()
    select = {"select": {"mode": "cv", "candidates": ["series", "feature"], "folds": 2}}
    C.evaluate_protocol({**base, **select}, workdir=tmp_path / "b", **common)
    assert len(sizes) == 2 * (2 * 2 + 1)
    assert sorted({n for _, n in sizes}) == [15, 30]  # inner folds of 15 out of each outer fold's 30 cases
