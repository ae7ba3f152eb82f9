"""The NAB scorer, loader and reference detectors.

Oracles: scores worked out by hand (below), a line-by-line port of NAB's ``nab/sweeper.py`` loop, NAB's
published per-file results for its windowed-Gaussian detector (``fixtures/nab/``: checked on two shipped series
always, on all 58 when ``../shared/data/nab`` holds the corpus), and scipy for the Gaussian tail.

Hand values use the standard profile (A_tp 1, A_fp 0.11, A_fn 1) and NAB's scaled sigmoid
``S(x) = 2 / (1 + exp(5x)) - 1 = -tanh(2.5 x)``, ``maxTP = S(-1) = tanh(2.5)``. The file has 20 (or 40)
points, one window [10, 14] (width 5), no probation unless stated:

- detection at 10 (window start): position -(14 - 10 + 1) / 5 = -1 -> S(-1) / maxTP = 1.
- detection at 14 (window end): position -1 / 5 -> tanh(0.5) / tanh(2.5) = 0.468387.
- detections at 10 and 14: only the earliest counts -> 1.
- detection at 15 (just after): window missed (-1) plus 0.11 * S((15 - 14) / (5 - 1)) = -0.11 tanh(0.625)
  -> -1.061005.
- detection at 30 (far after, T = 40): (30 - 14) / 4 = 4 > 3 -> S = -1 -> -1 - 0.11 = -1.11.
- detection at 5 (before any window): -0.11, window missed -1 -> -1.11.
- no detection: -1 (standard), -2 (reward low FN, A_fn 2).
- T = 20 has a probationary period of floor(0.15 * 20) = 3 points: a detection at 1 is ignored -> -1.
"""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from recurrax import data, metrics
from recurrax.tasks import anomaly

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_nab = pytest.mark.skipif(not (SHARED_DATA / "nab").is_dir(), reason="needs ../shared/data/nab")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED = ("realAdExchange/exchange-3_cpc_results.csv", "realTraffic/speed_7578.csv")  # fixtures/nab/data/


def _published_windowed_gaussian() -> dict[str, tuple[float, int, int, int, int, int]]:
    """NAB's published results (results/windowedGaussian/windowedGaussian_standard_scores.csv, threshold 1.0):
    file -> (score, tp, tn, fp, fn, total count), and ``"Totals"``."""
    counts = ("TP", "TN", "FP", "FN", "Total_Count")
    with (FIXTURES / "nab" / "windowedGaussian_standard_scores.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {(row["Profile"], row["Threshold"]) for row in rows if row["File"]} == {("standard", "1.0")}
    return {row["File"] or row["Detector"]: (float(row["Score"]), *(int(row[k]) for k in counts)) for row in rows}


PUBLISHED_WINDOWED_GAUSSIAN = _published_windowed_gaussian()
PUBLISHED_TOTALS = PUBLISHED_WINDOWED_GAUSSIAN.pop("Totals")


def _one_window(detections, length=20, probation=0):
    labels = metrics.NabLabels.from_windows("f", length, [(10, 14)], probation=probation)
    scores = np.zeros(length)
    scores[list(detections)] = 1.0
    return scores, labels


@pytest.mark.parametrize(
    "detections, length, expected",
    [
        ([10], 20, 1.0),
        ([14], 20, math.tanh(0.5) / math.tanh(2.5)),
        ([10, 14], 20, 1.0),
        ([15], 20, -1 - 0.11 * math.tanh(0.625)),
        ([30], 40, -1.11),
        ([5], 20, -1.11),
        ([], 20, -1.0),
    ],
)
def test_hand_worked_file_scores(detections, length, expected):
    scores, labels = _one_window(detections, length)
    assert metrics.nab_file_score(scores, labels, 0.5).score == pytest.approx(expected, abs=1e-12)


def test_hand_values_are_what_the_docstring_says():
    assert math.tanh(0.5) / math.tanh(2.5) == pytest.approx(0.468387, abs=1e-6)
    assert -1 - 0.11 * math.tanh(0.625) == pytest.approx(-1.061005, abs=1e-6)
    assert metrics.scaled_sigmoid([-1.0, 0.25, 3.0, 3.01]) == pytest.approx(
        [math.tanh(2.5), -math.tanh(0.625), -math.tanh(7.5), -1.0]
    )


def test_profiles_and_probation():
    assert {k: (p.tp, p.fp, p.fn) for k, p in metrics.NAB_PROFILES.items()} == {
        "standard": (1.0, 0.11, 1.0),
        "reward_low_fp": (1.0, 0.22, 1.0),
        "reward_low_fn": (1.0, 0.11, 2.0),
    }
    scores, labels = _one_window([])
    assert metrics.nab_file_score(scores, labels, 0.5, "reward_low_fn").score == -2.0
    scores, labels = _one_window([5])
    assert metrics.nab_file_score(scores, labels, 0.5, "reward_low_fp").score == pytest.approx(-1.22)
    assert data.probation_period(20) == 3 and data.probation_period(4032) == 604 and data.probation_period(9999) == 750
    scores, labels = _one_window([1], probation=3)
    result = metrics.nab_file_score(scores, labels, 0.5)
    assert (result.score, result.tp, result.fp, result.fn, result.tn) == (-1.0, 0, 0, 5, 12)


def test_counts():
    scores, labels = _one_window([10, 11, 15])
    result = metrics.nab_file_score(scores, labels, 0.5)
    assert (result.tp, result.fp, result.fn, result.tn) == (2, 1, 3, 14)


def test_normalisation_null_zero_perfect_hundred():
    # 3 windows of 5 points in 500: the null detector (constant 0.5) does best detecting nothing (-3; detecting
    # everything adds about -0.1 per point outside windows), and the perfect one finds each window at its start
    corpus = [
        metrics.NabLabels.from_windows("a", 200, [(100, 104)], probation=0),
        metrics.NabLabels.from_windows("b", 300, [(50, 54), (200, 204)], probation=0),
    ]
    perfect = {"a": np.zeros(200), "b": np.zeros(300)}
    perfect["a"][100] = perfect["b"][50] = perfect["b"][200] = 1.0
    result = metrics.nab_corpus_score(perfect, corpus)
    assert (result.raw, result.null, result.perfect) == (pytest.approx(3.0), -3.0, 3.0)
    assert result.score == pytest.approx(100.0)
    null = metrics.nab_corpus_score({"a": np.full(200, 0.5), "b": np.full(300, 0.5)}, corpus)
    assert null.score == 0.0 and null.threshold == 1.1
    # only file a's window found: raw 1 - 2 = -1 -> 100 * (-1 + 3) / (3 + 3)
    half = metrics.nab_corpus_score({"a": perfect["a"], "b": np.zeros(300)}, corpus)
    assert half.score == pytest.approx(100 * 2 / 6)


def test_null_detector_may_detect_everything():
    # NAB normalises by the null detector at its best threshold: in a file that is mostly window, detecting
    # every point beats detecting none. File of 4 points, window [1, 2] (width 2), nothing on probation:
    # detect all -> point 0 before any window -0.11; window found at its start +1; point 3 after the window at
    # (3 - 2) / (2 - 1) = 1 -> 0.11 * S(1) = -0.11 tanh(2.5). Null raw = 0.89 - 0.11 tanh(2.5) > -1.
    corpus = [metrics.NabLabels.from_windows("a", 4, [(1, 2)], probation=0)]
    result = metrics.nab_corpus_score({"a": np.full(4, 0.5)}, corpus)
    assert result.null == pytest.approx(0.89 - 0.11 * math.tanh(2.5)) and result.score == pytest.approx(0.0)


def test_threshold_sweep_picks_the_best():
    # a false alarm at 2 scores 0.9, the window start 0.8, the rest 0.1:
    # threshold 1.1 -> -1; 0.9 -> -0.11 - 1; 0.8 -> -0.11 + 1; 0.1 -> every point outside the window is an FP
    corpus = [metrics.NabLabels.from_windows("a", 20, [(10, 14)], probation=0)]
    scores = np.full(20, 0.1)
    scores[2], scores[10] = 0.9, 0.8
    thresholds, raws = metrics.nab_threshold_sweep({"a": scores}, corpus)
    assert thresholds.tolist() == [1.1, 0.9, 0.8, 0.1]
    assert raws[:3] == pytest.approx([-1.0, -1.11, 0.89])
    result = metrics.nab_corpus_score({"a": scores}, corpus)
    assert result.threshold == 0.8 and result.raw == pytest.approx(0.89)
    assert metrics.nab_corpus_score({"a": scores}, corpus, threshold=0.9).raw == pytest.approx(-1.11)


def _sweeper_port(files, weights):
    """NAB's ``Sweeper.calcSweepScore`` + ``calcScoreByThreshold`` (nab/sweeper.py), loop for loop."""

    def s(x):
        return -1.0 if x > 3.0 else 2 / (1 + math.exp(5 * x)) - 1.0

    points = []
    for name, scores, windows, probation in files:
        windows, current, prev_right, prev_width = list(windows), None, None, None
        for i, score in enumerate(scores):
            if windows and i == windows[0][0]:
                current = windows.pop(0)
                width = float(current[1] - current[0] + 1)
            if current is not None:
                weight, key = s(-(current[1] - i + 1) / width) * weights.tp / s(-1.0), f"{name}|{current[0]}"
            else:
                unweighted = -1.0 if prev_right is None else s(abs(prev_right - i) / float(prev_width - 1))
                weight, key = unweighted * weights.fp, None
            points.append((score, weight, key if i >= probation else "probationary"))
            if current is not None and i == current[1]:
                prev_right, prev_width, current = i, width, None
    scorable = sorted([p for p in points if p[2] != "probationary"], key=lambda p: p[0], reverse=True)
    parts = {"fp": 0.0, **{p[2]: -weights.fn for p in scorable if p[2] is not None}}
    out, threshold = [], 1.1
    for score, weight, key in scorable:
        if score != threshold:
            out.append((threshold, sum(parts.values())))
            threshold = score
        if key is None:
            parts["fp"] += weight
        else:
            parts[key] = max(parts[key], weight)
    out.append((threshold, sum(parts.values())))
    return out


def test_vectorised_sweep_equals_nab_loop(seed):
    rng = np.random.default_rng(seed)
    for trial in range(30):
        files, corpus, scores = [], [], {}
        for f in range(int(rng.integers(1, 4))):
            length, windows, position = int(rng.integers(30, 80)), [], int(rng.integers(0, 10))
            for _ in range(int(rng.integers(0, 3))):
                start = position + int(rng.integers(1, 15))
                end = start + int(rng.integers(1, 8))
                if end >= length:
                    break
                windows.append((start, end))
                position = end + 1
            values = np.round(rng.random(length), 1) if trial % 2 else rng.random(length)  # ties, then none
            probation = int(rng.integers(0, 10))
            files.append((f"f{f}", list(values), windows, probation))
            corpus.append(metrics.NabLabels.from_windows(f"f{f}", length, windows, probation))
            scores[f"f{f}"] = values
        for profile in metrics.NAB_PROFILES.values():
            expected = _sweeper_port(files, profile)
            thresholds, raws = metrics.nab_threshold_sweep(scores, corpus, profile)
            assert thresholds.tolist() == [t for t, _ in expected]
            assert raws == pytest.approx([r for _, r in expected], abs=1e-12)
            threshold = float(rng.choice(thresholds))
            total = sum(metrics.nab_file_score(scores[c.name], c, threshold, profile).score for c in corpus)
            assert total == pytest.approx(dict(expected)[threshold], abs=1e-12)


def test_scorer_bad_input():
    scores, labels = _one_window([10])
    with pytest.raises(ValueError, match="shape"):
        metrics.nab_file_score(scores[:-1], labels, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.nab_file_score(scores * 2, labels, 0.5)
    with pytest.raises(ValueError, match="unknown NAB profile"):
        metrics.nab_file_score(scores, labels, 0.5, "strict")
    with pytest.raises(ValueError, match="one point"):
        metrics.nab_file_score(scores, metrics.NabLabels.from_windows("f", 20, [(3, 3)], 0), 0.5)
    with pytest.raises(ValueError, match="no scores"):
        metrics.nab_corpus_score({}, [labels])
    with pytest.raises(ValueError, match="outside the corpus"):
        metrics.nab_corpus_score({"f": scores, "g": scores}, [labels])


def _gaussian_oracle(values, window, step):
    """Score t: 1 - Q(|x_t - m| / s) over the window NAB holds at t (grows to `window`, then slides by
    `step`), with scipy's Gaussian tail."""
    out = np.zeros(len(values))
    for t in range(1, len(values)):
        if t <= window:
            lo, hi = 0, t
        else:
            hi = window + step * ((t - window) // step)
            lo = hi - window
        mean, std = values[lo:hi].mean(), values[lo:hi].std() or 1e-6
        out[t] = 1 - stats.norm.sf(abs(values[t] - mean) / std)
    return out


def test_windowed_gaussian_matches_oracle(seed):
    values = np.random.default_rng(seed).normal(size=300).cumsum()
    values[150] += 30.0
    got = anomaly.windowed_gaussian_scores(values, window_size=50, step_size=7)
    assert got == pytest.approx(_gaussian_oracle(values, 50, 7), abs=1e-9)
    detector = anomaly.WindowedGaussian(window_size=50, step_size=7)
    assert [detector.update(v) for v in values[:60]] == got[:60].tolist()  # streaming == batch
    changed = values.copy()
    changed[200:] = 0.0
    assert anomaly.windowed_gaussian_scores(changed, 50, 7)[:200].tolist() == got[:200].tolist()  # no look-ahead


def test_null_and_random_detectors():
    assert anomaly.null_scores(np.arange(4.0)).tolist() == [0.5] * 4
    stream = random.Random(42)
    assert anomaly.random_scores(np.arange(5.0)).tolist() == [stream.uniform(0, 1) for _ in range(5)]
    with pytest.raises(ValueError, match="NaN"):
        anomaly.windowed_gaussian_scores([1.0, np.nan])


def test_read_nab_series(tmp_path):
    path = tmp_path / "s.csv"
    stamps = [f"2014-01-01 00:{m:02d}:00" for m in range(20)]
    path.write_text("timestamp,value\n" + "".join(f"{s},{i}\n" for i, s in enumerate(stamps)))
    series = data.read_nab_series(path, "cat/s.csv", [[stamps[10] + ".000000", stamps[14] + ".000000"]])
    assert series.in_window.nonzero()[0].tolist() == [10, 11, 12, 13, 14]
    assert series.window_index.tolist() == [[10, 14]] and series.probation == 3 and len(series) == 20
    assert series.timestamps.dtype == np.dtype("datetime64[ns]") and series.values.dtype == np.float64
    assert series.frame()["label"].sum() == 5
    with pytest.raises(ValueError, match="not a timestamp"):
        data.read_nab_series(path, "cat/s.csv", [["2013-01-01 00:00:00", stamps[3]]])
    path.write_text("time,value\n2014-01-01 00:00:00,1\n")
    with pytest.raises(ValueError, match="timestamp,value"):
        data.read_nab_series(path, "cat/s.csv", [])


def test_nab_is_registered():
    info = next(i for i in data.list_datasets() if i.name == "nab")
    assert info.kind == "anomaly" and len(info.files) == 60
    assert all(source.startswith("https://raw.githubusercontent.com/numenta/NAB/") for source in info.sources)
    with pytest.raises(ValueError, match="unknown NAB windows"):
        data.load_nab(windows="huge")


@pytest.fixture(scope="module")
def nab_corpus():
    return {series.name: series for series in data.load_nab(SHARED_DATA)}


@needs_nab
def test_load_nab_shared_copy(nab_corpus):
    assert len(nab_corpus) == 58 and sum(len(s.windows) for s in nab_corpus.values()) == 116
    taxi = nab_corpus["realKnownCause/nyc_taxi.csv"]
    assert (len(taxi), len(taxi.windows), taxi.probation) == (10320, 5, 750)
    labels = json.loads((SHARED_DATA / "nab/labels/combined_windows.json").read_text())
    assert str(taxi.windows[0][0]).startswith(labels["realKnownCause/nyc_taxi.csv"][0][0][:19].replace(" ", "T"))
    # NAB null detector totals (results/null/null_standard_scores.csv): FN 33495 window points after probation
    assert sum(s.in_window[s.probation :].sum() for s in nab_corpus.values()) == 33_495


def _as_published(scores: np.ndarray) -> np.ndarray:
    return np.array([float(f"{v:.12g}") for v in scores])  # NAB's results CSVs hold 12 significant digits


def _windowed_gaussian_result(series: data.NabSeries, scores: np.ndarray) -> tuple[float, int, int, int, int, int]:
    """``series``' row of NAB's results for the windowed-Gaussian ``scores`` at threshold 1.0."""
    result = metrics.nab_file_score(scores, series, threshold=1.0)
    return (result.score, result.tp, result.tn, result.fp, result.fn, len(series))


def test_published_results_fixture():
    assert len(PUBLISHED_WINDOWED_GAUSSIAN) == 58 and PUBLISHED_TOTALS[0] == -24.0131054891
    columns = list(zip(*PUBLISHED_WINDOWED_GAUSSIAN.values(), strict=True))
    assert sum(columns[0]) == pytest.approx(PUBLISHED_TOTALS[0], abs=1e-9)
    assert tuple(sum(column) for column in columns[1:]) == PUBLISHED_TOTALS[1:]


def test_load_nab_a_subset_of_the_files(tmp_path, monkeypatch):
    # fixtures/nab/ holds two series and the windows file, as NAB lays them out; each is checked against its sha256
    monkeypatch.delenv("RECURRAX_DATA", raising=False)
    corpus = data.load_nab(FIXTURES, files=[SHIPPED[1], *SHIPPED], cache_dir=tmp_path, download=False)
    assert [(s.name, len(s), len(s.windows), s.probation) for s in corpus] == [
        (SHIPPED[0], 1538, 3, 230),
        (SHIPPED[1], 1127, 4, 169),
    ]
    assert [s.name for s in data.load_nab(FIXTURES, files=SHIPPED[1], download=False)] == [SHIPPED[1]]
    with pytest.raises(ValueError, match=r"unknown NAB files \['speed_7578.csv'\]"):
        data.load_nab(FIXTURES, files=["speed_7578.csv"])
    with pytest.raises(data.DatasetError, match="downloading is off"):  # a file the folder lacks
        data.load_nab(FIXTURES, files=["realTraffic/speed_6005.csv"], cache_dir=tmp_path, download=False)
    with pytest.raises(data.DatasetError, match="downloading is off"):  # the whole corpus
        data.load_nab(FIXTURES, cache_dir=tmp_path, download=False)


@pytest.mark.parametrize("name", SHIPPED)
def test_windowed_gaussian_reproduces_nab_results_on_the_shipped_files(name):
    (series,) = data.load_nab(FIXTURES, files=[name], download=False)
    scores = _as_published(anomaly.windowed_gaussian_scores(series.values))
    assert _windowed_gaussian_result(series, scores) == pytest.approx(PUBLISHED_WINDOWED_GAUSSIAN[name], abs=1e-10)


@pytest.fixture(scope="module")
def windowed_gaussian_corpus(nab_corpus):
    """The windowed-Gaussian scores of the 58 files, as NAB's results hold them; computed once (about 4 s)."""
    return {name: _as_published(anomaly.windowed_gaussian_scores(s.values)) for name, s in nab_corpus.items()}


@needs_nab
def test_windowed_gaussian_reproduces_nab_results_on_every_file(nab_corpus, windowed_gaussian_corpus):
    """Score to 1e-10 and TP, TN, FP, FN exactly, file by file, against NAB's published results."""
    assert sorted(windowed_gaussian_corpus) == sorted(PUBLISHED_WINDOWED_GAUSSIAN)
    got = {name: _windowed_gaussian_result(nab_corpus[name], s) for name, s in windowed_gaussian_corpus.items()}
    wrong = {
        name: {"got": row, "published": PUBLISHED_WINDOWED_GAUSSIAN[name]}
        for name, row in got.items()
        if row != pytest.approx(PUBLISHED_WINDOWED_GAUSSIAN[name], abs=1e-10)
    }
    assert not wrong


@needs_nab
def test_windowed_gaussian_corpus_score(nab_corpus, windowed_gaussian_corpus):
    """NAB's published raw standard score -24.0131054891 (normalised 39.6; 20.9 and 47.4 for the others)."""
    corpus = list(nab_corpus.values())
    standard = metrics.nab_corpus_score(windowed_gaussian_corpus, corpus, "standard")
    assert standard.raw == pytest.approx(-24.0131054891, abs=1e-8) and standard.threshold == 1.0
    assert round(standard.score, 1) == 39.6
    assert round(metrics.nab_corpus_score(windowed_gaussian_corpus, corpus, "reward_low_fp").score, 1) == 20.9
    assert round(metrics.nab_corpus_score(windowed_gaussian_corpus, corpus, "reward_low_fn").score, 1) == 47.4
