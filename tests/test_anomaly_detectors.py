"""Detectors (Telemanom's dynamic threshold, static, rolling quantile) on hand-built error series whose
answers are worked out by hand, against pandas and plain-loop oracles; the UCR test, the UCR #135 parser,
and the run glue (fit -> detect -> evaluate) with outputs aligned row by row with the input."""

from __future__ import annotations

import itertools
import zipfile

import numpy as np
import pandas as pd
import pytest

import recurrax.data as rd
from recurrax import metrics
from recurrax.config import ConfigError, load_config, to_toml
from recurrax.tasks import anomaly as an


def _cfg(**kw) -> an.DetectorConfig:
    return an.DetectorConfig(**{"span": 1, "window_size": 10, "batch": 100, **kw})


def test_two_bursts_in_noise_are_exactly_the_sequences(seed):
    """Bursts at rows 400..409 (1.0) and 1300..1309 (1.5) in U(0.05, 0.15) noise, NaN warm-up: with no
    smoothing and buffer 2, the labels are the bursts widened by 2 rows, in input indices."""
    errors = np.random.default_rng(seed).uniform(0.05, 0.15, 2000)
    errors[400:410], errors[1300:1310], errors[:20] = 1.0, 1.5, np.nan
    found = an.telemanom(errors, _cfg(buffer=2))
    assert found.sequences == [(398, 411), (1298, 1311)]
    expected = np.zeros(2000, bool)
    expected[398:412] = expected[1298:1312] = True
    np.testing.assert_array_equal(found.labels, expected)
    assert np.isnan(found.smoothed[:20]).all() and np.isnan(found.threshold[:20]).all()
    assert np.isfinite(found.threshold[20:]).all()
    np.testing.assert_array_equal(found.smoothed[20:], errors[20:])  # span 1: no smoothing


def test_inverted_errors_find_unusually_low_errors(seed):
    """Telemanom's inverted errors: a stretch of near-zero errors (rows 650..659) in U(0.4, 0.6) noise is an
    anomaly only with ``inverted``; the high burst (rows 1450..1459) is found either way."""
    errors = np.random.default_rng(seed).uniform(0.4, 0.6, 2000)
    errors[650:660], errors[1450:1460] = 0.0, 1.5
    assert an.telemanom(errors, _cfg(buffer=2)).sequences == [(1448, 1461)]
    assert an.telemanom(errors, _cfg(buffer=2, inverted=True)).sequences == [(648, 661), (1448, 1461)]


def test_epsilon_and_pruning_by_hand():
    """One window: 984 values 0.1, burst A (10 x 2.0), burst B (5 x 1.0), one value 0.9. With z fixed at 4,
    epsilon = mean + 4 std = 0.926 lies between 0.9 and 1.0. The maxima 2.0, 1.0 and the largest normal
    value 0.9: B is (1.0 - 0.9) / 1.0 = 10% above it, under p = 13%, so it is pruned; with p = 5% it stays."""
    errors = np.full(1000, 0.1)
    errors[100:110], errors[500:505], errors[800] = 2.0, 1.0, 0.9
    for p, expected in ((0.13, [(100, 109)]), (0.05, [(100, 109), (500, 504)])):
        found = an.telemanom(errors, _cfg(buffer=0, z_min=4.0, z_max=4.5, p=p))
        assert found.sequences == expected
        np.testing.assert_allclose(found.threshold, errors.mean() + 4 * errors.std(), rtol=1e-12)


@pytest.mark.parametrize(
    "maxima, normal_max, keep",
    [
        ([1.0, 0.8], 0.75, [True, False]),  # 0.8 within 13% of 0.75: pruned
        ([0.8, 1.0, 0.95], 0.1, [True, True, True]),  # 1.0 -> 0.95 is small, but 0.8 -> 0.1 saves all
        ([1.0, 0.95], 0.9, [False, False]),  # no drop of 13% anywhere: all pruned
        ([2.0, 0.5, 0.45], 0.1, [True, True, True]),
    ],
)
def test_prune_sequences_follows_the_reference_rule(maxima, normal_max, keep):
    assert an.prune_sequences(np.array(maxima), normal_max, 0.13).tolist() == keep


def test_z_is_chosen_by_the_criterion(seed):
    """The chosen epsilon equals a brute-force maximisation of Telemanom's score over z, written out here."""
    rng = np.random.default_rng(seed)
    errors = np.abs(rng.normal(0, 0.1, 600))
    errors[200:215] += 0.6
    errors[450:455] += 0.35
    cfg = _cfg(buffer=3, window_size=10, batch=100)
    mean, std = errors.mean(), errors.std()
    best, best_z = -np.inf, cfg.z_max
    for z in np.arange(2.5, 12.0, 0.5):
        eps = mean + z * std
        hits = [i for i in range(600) if errors[i] >= eps]
        points = sorted({j for i in hits for j in range(i - 3, i + 4) if 0 <= j < 600})
        if not hits:
            continue
        runs = 1 + sum(1 for a, b in itertools.pairwise(points) if b != a + 1)
        below = errors[errors < eps]
        score = ((mean - below.mean()) / mean + (std - below.std()) / std) / (runs**2 + len(points))
        if score >= best and runs <= 5 and len(points) < 300:
            best, best_z = score, z
    found = an.telemanom(errors, cfg)
    np.testing.assert_allclose(found.threshold, mean + best_z * std, rtol=1e-12)


def test_ewma_equals_pandas(seed):
    x = np.random.default_rng(seed).normal(size=500)
    np.testing.assert_allclose(an.ewma(x, 105), pd.Series(x).ewm(span=105, adjust=False).mean(), rtol=1e-12)
    x[[0, 7, 8, 300]] = np.nan  # NaN: skipped, the average carries over (pandas' ignore_na=True)
    expected = pd.Series(x).ewm(span=9, adjust=False, ignore_na=True).mean().where(~np.isnan(x))
    np.testing.assert_allclose(an.ewma(x, 9), expected, rtol=1e-12)


def test_rolling_quantile_equals_a_loop_over_past_values(seed):
    x = np.random.default_rng(seed).normal(size=300)
    x[[3, 50, 51]] = np.nan
    q, history, least = 0.9, 40, 10
    expected = np.full(300, np.nan)
    for t in range(300):
        past = x[max(0, t - history) : t]
        past = past[~np.isnan(past)]
        if len(past) >= least:
            expected[t] = np.quantile(past, q)
    np.testing.assert_allclose(an.rolling_quantile(x, q, history, least), expected, rtol=1e-12)
    found = an.quantile_threshold(x, q, history, least)
    np.testing.assert_array_equal(found.labels, np.nan_to_num(x, nan=-np.inf) > np.nan_to_num(expected, nan=np.inf))


def test_static_threshold_from_reference_quantile(seed):
    rng = np.random.default_rng(seed)
    reference, scores = rng.uniform(size=400), rng.uniform(size=100) * 1.2
    scores[5] = np.nan
    found = an.detect(scores, an.DetectorConfig(kind="static", quantile=0.95), reference=reference)
    level = np.quantile(reference, 0.95)
    np.testing.assert_array_equal(found.labels, np.nan_to_num(scores) > level)
    assert found.sequences == an.sequences_of(np.nan_to_num(scores) > level)
    with pytest.raises(ValueError, match="needs detector.threshold or reference"):
        an.detect(scores, an.DetectorConfig(kind="static"))


@pytest.mark.parametrize(
    "scores, message",
    [
        (np.zeros((3, 2)), "one-dimensional"),
        (np.array([1.0, np.inf]), "infinite"),
        (np.array([np.nan, 1.0, -0.5]), "non-negative errors"),
    ],
)
def test_telemanom_rejects_bad_scores(scores, message):
    with pytest.raises(ValueError, match=message):
        an.telemanom(scores, an.DetectorConfig())


def test_config_loads_from_toml_and_names_bad_keys(tmp_path):
    cfg = an.AnomalyConfig(detector=an.DetectorConfig(kind="quantile", quantile=0.995))
    (tmp_path / "a.toml").write_text(to_toml(cfg))
    assert load_config(an.AnomalyConfig, tmp_path / "a.toml", ["data.label=is_anomaly"]).detector == cfg.detector
    with pytest.raises(ConfigError, match="detector.kind"):
        load_config(an.AnomalyConfig, None, ["detector.kind=magic"])
    with pytest.raises(ConfigError, match="detector.z_min"):
        load_config(an.AnomalyConfig, None, ["detector.z_min=20"])


def test_ucr_hit_uses_the_larger_of_the_length_and_the_tolerance():
    labels = np.zeros(2000, bool)
    labels[1000:1300] = True  # 300 points: the margin is 300, not 100
    for peak, hit in ((699, False), (700, True), (1599, True), (1600, False)):
        scores = np.zeros(2000)
        scores[peak] = 1.0
        assert an.ucr_hit(scores, labels) is hit
    with pytest.raises(ValueError, match="exactly one"):
        an.ucr_hit(np.zeros(2000), np.zeros(2000, bool))


def test_ucr135_reads_its_csvs_from_the_wheel(tmp_path):
    head = "timestamp,value,is_anomaly\n" + "".join(f"{i},{i % 5}.0,0\n" for i in range(6))
    whole = head + "6,1.0,0\n7,9.0,1\n8,8.0,1\n9,1.0,0\n"
    with zipfile.ZipFile(tmp_path / rd._ts.AEON_WHEEL, "w") as archive:
        for split, text in (("TRAIN", head), ("TEST", whole)):
            archive.writestr(f"aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_{split}.csv", text)
    spec = rd.dataset_spec("ucr135")
    assert spec.kind == "anomaly" and spec.splits == ("train", "test")
    series = rd.parse_ucr_anomaly(spec.read(tmp_path, "train")[0], spec.read(tmp_path, "test")[0])
    assert len(series.train) == 6 and series.test["timestamp"].tolist() == [6, 7, 8, 9]
    assert series.anomaly == (7, 8) and series.test["is_anomaly"].tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="training part holds labelled anomalies"):
        bad = head.replace("5,0.0,0", "5,0.0,1")
        rd.parse_ucr_anomaly(bad, bad + "6,1.0,0\n7,9.0,1\n")
    with pytest.raises(ValueError, match="expected one labelled anomaly, found 2"):
        rd.parse_ucr_anomaly(head, whole + "10,9.0,1\n")


@pytest.mark.skipif(rd._registry.local_folder("ucr135") is None, reason="no local copy of the aeon wheel")
def test_ucr135_real_series_matches_the_archive_file_name():
    """The archive's file name ``135_UCR_Anomaly_InternalBleeding16_1200_4187_4199`` (train end, anomaly
    begin, end exclusive), read from a local wheel ($RECURRAX_DATA or the cache; never downloaded here)."""
    series = rd.load_ucr_anomaly(download=False)
    assert (len(series.train), len(series.test), series.anomaly) == (1200, 6301, (4187, 4198))
    assert series.test["timestamp"].iloc[0] == 1200 and series.test["is_anomaly"].sum() == 12


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A tiny prediction scorer fitted on 300 rows of a sine wave (two features), shared by the glue tests."""
    t = np.arange(600)
    frame = pd.DataFrame({"time": t, "a": np.sin(t / 6.0), "b": np.cos(t / 6.0), "flag": 0})
    frame.loc[450:459, "a"] += 3.0
    frame.loc[450:459, "flag"] = 1
    cfg = load_config(an.AnomalyConfig, None, [
        "data.timestamp=time", 'data.values=["a", "b"]', "data.label=flag", "data.train_fraction=0.5",
        "scorer.hidden_size=8", "scorer.window=12", "scorer.batch_size=16", "optim.lr=0.01", "train.steps=40",
        "detector.window_size=2", "detector.batch=100", "detector.buffer=5",
    ])  # fmt: skip
    run = an.fit_anomaly(cfg, frame, tmp_path_factory.mktemp("anomaly") / "run")
    return run, frame


def test_fit_saves_a_run_that_loads_back(fitted):
    run, frame = fitted
    loaded = an.load_anomaly(run.run_dir)
    assert loaded.config == run.config
    np.testing.assert_array_equal(loaded.reference, run.reference)
    np.testing.assert_array_equal(run.reference, an.score_series(run.scorer, frame[["a", "b"]].to_numpy()[:300]))
    written = metrics.ReferenceProfile.load(run.run_dir / "reference_profile.json")  # the raw training rows
    expected = metrics.ReferenceProfile.from_values(frame[["a", "b"]].to_numpy()[:300], names=["a", "b"])
    assert written.to_dict() == expected.to_dict()


def test_detect_is_aligned_row_by_row_with_the_input(fitted):
    run, frame = fitted
    shuffled_index = frame.set_index(np.arange(600)[::-1])  # the frame's index must not matter
    out = an.detect_anomaly(run.run_dir, shuffled_index)
    assert list(out.columns) == ["time", "a", "b", "flag", "score", "smoothed", "threshold", "is_anomaly"]
    np.testing.assert_array_equal(out["time"], frame["time"])
    scores = an.score_series(run.scorer, frame[["a", "b"]].to_numpy())
    np.testing.assert_allclose(out["score"], scores, rtol=1e-12)
    found = an.telemanom(scores, run.config.detector)
    np.testing.assert_array_equal(out["is_anomaly"], found.labels)
    np.testing.assert_allclose(out["threshold"], found.threshold, rtol=1e-12)
    assert np.isnan(out["score"][:12]).all() and not out["is_anomaly"][:12].any()  # warm-up: unlabelled


def test_evaluate_scores_equal_the_metrics(fitted):
    run, frame = fitted
    scores, detected = an.evaluate_anomaly(run.run_dir, frame)
    truth, pred = frame["flag"].to_numpy(bool), detected["is_anomaly"].to_numpy(bool)
    assert scores["event_f1"] == metrics.event_prf(truth, pred)[2]
    assert scores["point_precision"] == metrics.point_prf(truth, pred)[0]
    assert scores["point_adjusted_recall"] == metrics.point_adjusted_prf(truth, pred)[1]
    assert scores["ucr_hit"] == an.ucr_hit(detected["score"].to_numpy(), truth)
    assert scores["events"] == 1
    with pytest.raises(ValueError, match="lacks the columns \\['nope'\\]"):
        an.evaluate_anomaly(run.run_dir, frame, label="nope")


def test_plot_writes_a_png(fitted, tmp_path):
    run, frame = fitted
    out = an.detect_anomaly(run, frame)
    path = an.write_anomaly_plot(tmp_path / "s.png", out, ["a", "b"], labels=frame["flag"].to_numpy(bool))
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"time": [0, 1], "a": [1.0, np.nan], "b": [0.0, 0.0]}), "column 'a' holds a missing"),
        (pd.DataFrame({"time": [0, 1], "a": [1.0, 2.0]}), "lacks the columns \\['b'\\]"),
        (pd.DataFrame({"time": [], "a": [], "b": []}), "no rows"),
        (pd.DataFrame({"time": [0], "a": ["x"], "b": [1.0]}), "missing or non-numeric value at row 0"),
    ],
)
def test_bad_frames_are_named(fitted, frame, message):
    with pytest.raises(ValueError, match=message):
        an.detect_anomaly(fitted[0], frame)


def test_empty_files_are_named(tmp_path):
    (tmp_path / "e.csv").write_text("")
    (tmp_path / "h.csv").write_text("timestamp,value\n")
    with pytest.raises(ValueError, match="e.csv: the file is empty"):
        an.read_series_frame(tmp_path / "e.csv")
    with pytest.raises(ValueError, match="h.csv: the file has no rows"):
        an.read_series_frame(tmp_path / "h.csv")
