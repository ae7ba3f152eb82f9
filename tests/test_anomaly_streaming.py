"""StreamingScorer: one point at a time equals the batch scores, no look-ahead, the per-point step compiled
once, online learning from seen data only; FleetScorer: many series at once equal each series scored alone;
the [0, 1] transforms (likelihood, novelty) against plain loops; the NAB-style online detector."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from recurrax.tasks.anomaly import (
    FleetScorer,
    ScorerConfig,
    StreamingScorer,
    anomaly_likelihood,
    fit_scorer,
    log_likelihood_score,
    novelty_score,
    online_scores,
    score_series,
)
from recurrax.tasks.anomaly._streaming import _forecast_step
from recurrax.train import OptimConfig, TrainConfig

WINDOW = 12
UNTRAINED = TrainConfig(steps=0)  # equality and learning need no trained model; saves compiling fits


def sine(length: int, seed: int = 0, features: int = 2) -> np.ndarray:
    t = np.arange(length)[:, None] + np.arange(features)[None, :] * 3
    return np.sin(2 * np.pi * t / 16) + 0.02 * np.random.default_rng(seed).normal(size=(length, features))


@pytest.fixture(scope="module")
def scorers():
    """Small scorers per kind, untrained (scaler fitted), a two-layer forecaster to carry a stacked state."""
    values = sine(300)
    out = {}
    for index, kind in enumerate(("prediction", "nll", "reconstruction")):
        cfg = ScorerConfig(kind=kind, hidden_size=8, num_layers=2 if kind == "prediction" else 1, window=WINDOW)
        out[kind] = fit_scorer(values, cfg, optim=OptimConfig(), train=UNTRAINED, key=jax.random.key(index))
    return out


@pytest.mark.parametrize("kind", ["prediction", "nll", "reconstruction"])
def test_streamed_scores_equal_batch_scores(scorers, kind):
    scorer = scorers[kind]
    values = sine(200, seed=1)
    expected = score_series(scorer, values)
    one = StreamingScorer(scorer)
    point_by_point = np.array([one.update(x) for x in values])
    np.testing.assert_allclose(point_by_point, expected, rtol=1e-5, atol=1e-6)
    assert np.isnan(point_by_point[: WINDOW - (kind == "reconstruction")]).all()
    if kind != "nll":  # blocks of any size: the same numbers (nll shares the forecaster's code path)
        blocks = StreamingScorer(scorer)
        pieces = [blocks.update_many(values[a:b]) for a, b in ((0, 1), (1, 7), (7, 71), (71, 200))]
        np.testing.assert_allclose(np.concatenate(pieces), expected, rtol=1e-5, atol=1e-6)


def test_long_blocks_cross_the_scan_chunk(scorers):
    scorer = scorers["prediction"]
    values = sine(1100, seed=2)  # over CHUNK = 1024: two scans, the second padded
    np.testing.assert_allclose(StreamingScorer(scorer).update_many(values), score_series(scorer, values),
                               rtol=1e-4, atol=1e-5)  # fmt: skip


def test_no_look_ahead(scorers):
    for kind, scorer in scorers.items():
        values = sine(80, seed=3)
        changed = values.copy()
        changed[50:] += 5.0
        before = StreamingScorer(scorer).update_many(values)
        after = StreamingScorer(scorer).update_many(changed)
        np.testing.assert_array_equal(before[:50], after[:50])
        assert not np.allclose(before[50:], after[50:]), kind


def test_per_point_step_compiles_once_per_architecture(scorers, key):
    values = sine(40, seed=4)
    for x in values[:5]:
        StreamingScorer(scorers["prediction"]).update(x)
    size = _forecast_step._cache_size()
    other = fit_scorer(sine(100, seed=5), scorers["prediction"].config, optim=OptimConfig(),
                       train=TrainConfig(steps=0), key=key)  # same architecture, other weights  # fmt: skip
    stream = StreamingScorer(other)
    for x in values:
        stream.update(x)
    assert _forecast_step._cache_size() == size


def test_learning_online_adapts_to_a_new_regime(scorers):
    scorer = scorers["prediction"]
    shifted = 2.0 * sine(600, seed=6) + 1.5  # a regime the model never saw
    frozen = StreamingScorer(scorer).update_many(shifted)
    online = StreamingScorer(scorer, learn=True, lr=1e-2, every=4, batch=8)
    learned = online.update_many(shifted)
    assert online.updates == (600 - (WINDOW + 1 + 8 - 1)) // 4 + 1  # one step every 4 points, once it can
    first_update = 20  # points scored before the first update are the frozen model's
    np.testing.assert_allclose(learned[:first_update], frozen[:first_update], rtol=1e-5, atol=1e-6)
    assert np.mean(learned[-100:]) < 0.5 * np.mean(frozen[-100:])
    assert scorer.model is scorers["prediction"].model  # the trained scorer itself is untouched


def test_learning_uses_only_seen_points(scorers):
    scorer = scorers["prediction"]
    values = sine(120, seed=7)
    changed = values.copy()
    changed[90:] -= 3.0
    runs = [StreamingScorer(scorer, learn=True, lr=1e-2, every=5, batch=8) for _ in range(2)]
    a, b = runs[0].update_many(values), np.array([runs[1].update(x) for x in changed])
    np.testing.assert_allclose(a[:90], b[:90], rtol=1e-5, atol=1e-6)


def test_bad_input_is_a_clear_error(scorers):
    stream = StreamingScorer(scorers["prediction"])
    with pytest.raises(ValueError, match="expected 2 features"):
        stream.update(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        stream.update(np.array([0.0, np.inf]))
    recon = scorers["reconstruction"]
    mean_cfg = ScorerConfig(kind="reconstruction", hidden_size=8, window=WINDOW, reduce="mean")
    with pytest.raises(ValueError, match="reduce='last'"):
        StreamingScorer(type(recon)(recon.model, recon.loc, recon.scale, mean_cfg))
    with pytest.raises(ValueError, match="every"):
        StreamingScorer(scorers["prediction"], learn=True, every=0)


@pytest.mark.parametrize("kind", ["prediction", "nll", "reconstruction"])
def test_a_fleet_scores_each_series_as_if_alone(scorers, kind):
    scorer = scorers[kind]
    series = np.stack([sine(90, seed=20 + i) * (1 + i) for i in range(5)], axis=1)  # [T, S = 5, D = 2]
    alone = np.stack([score_series(scorer, series[:, i]) for i in range(5)], axis=1)
    fleet = FleetScorer(scorer, streams=5)
    point_by_point = np.stack([fleet.update(x) for x in series[:40]])
    in_blocks = np.concatenate([point_by_point, fleet.update_many(series[40:55]), fleet.update_many(series[55:])])
    np.testing.assert_allclose(in_blocks, alone, rtol=1e-5, atol=1e-6)
    assert fleet.seen == 90 and np.isnan(in_blocks[: WINDOW - (kind == "reconstruction")]).all()


def test_a_fleet_refuses_the_wrong_shape(scorers):
    fleet = FleetScorer(scorers["prediction"], streams=3)
    with pytest.raises(ValueError, match=r"expected values \[3, 2\]"):
        fleet.update(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"expected values \[n, 3, 2\]"):
        fleet.update_many(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="finite"):
        fleet.update(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="streams"):
        FleetScorer(scorers["prediction"], streams=0)


def loop_likelihood(raw, short, long, learning):
    """`anomaly_likelihood` by a plain loop over time (Ahmad et al. 2017, steps 1-3)."""
    out, averages, seen = [], [], 0
    for t, e in enumerate(raw):
        if not np.isfinite(e):
            out.append(0.5)
            averages.append(None)
            continue
        seen += 1
        recent = [x for x in raw[max(0, t - short + 1) : t + 1] if np.isfinite(x)]
        a = sum(recent) / len(recent)
        history = [x for x in averages[max(0, t - long) : t] if x is not None]
        averages.append(a)
        if seen <= learning or not history:
            out.append(0.5)
            continue
        mu = sum(history) / len(history)
        sd = max(np.sqrt(max(sum(x * x for x in history) / len(history) - mu * mu, 0.0)), 1e-6)
        out.append(0.5 * math.erfc(-(a - mu) / sd / math.sqrt(2)))
    return np.array(out)


def test_anomaly_likelihood_matches_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    raw = np.abs(rng.normal(size=300))
    raw[:7] = np.nan
    raw[200] = 9.0
    got = anomaly_likelihood(raw, short=3, long=50, learning=20)
    np.testing.assert_allclose(got, loop_likelihood(raw, 3, 50, 20), rtol=1e-9, atol=1e-12)
    assert np.argmax(got) == 200 and got[200] > 0.9999
    scores = log_likelihood_score(got)
    assert scores.min() >= 0 and scores.max() <= 1
    np.testing.assert_allclose(log_likelihood_score(np.array([0.5, 0.9, 0.99999])),
                               [math.log(0.5) / math.log(1e-10), 0.1, 0.5], rtol=1e-6)  # fmt: skip


def test_novelty_score_matches_a_plain_loop(seed):
    raw = np.abs(np.random.default_rng(seed).normal(size=200))
    raw[:5] = np.nan
    expected = []
    for t, e in enumerate(raw):
        past = [x for x in raw[max(0, t - 30) : t] if np.isfinite(x)]
        m = max(past, default=0.0)
        expected.append(0.0 if not np.isfinite(e) else e / (e + m))
    np.testing.assert_allclose(novelty_score(raw, long=30), expected, rtol=1e-12)
    with pytest.raises(ValueError, match=">= 0"):
        novelty_score(np.array([1.0, -1.0]))
    quantiled = []
    for t, e in enumerate(raw):
        past = [x for x in raw[max(0, t - 30) : t] if np.isfinite(x)]
        m = float(np.quantile(past, 0.9)) if past else 0.0
        quantiled.append(0.0 if not np.isfinite(e) else e / (e + m))
    np.testing.assert_allclose(novelty_score(raw, long=30, quantile=0.9), quantiled, rtol=1e-12)


def test_online_scores_learn_from_the_probation_only(key):
    values = sine(400, seed=8, features=1)[:, 0]
    values[300] += 4.0
    cfg = ScorerConfig(hidden_size=8, window=WINDOW)
    train = TrainConfig(steps=0)  # untrained: what matters here is the data flow
    scores, raw = online_scores(values, 100, cfg, optim=OptimConfig(), train=train, key=key)
    changed = values.copy()
    changed[200:] = 0.0
    again, _ = online_scores(changed, 100, cfg, optim=OptimConfig(), train=train, key=key)
    np.testing.assert_array_equal(scores[:200], again[:200])  # nothing after t shapes score t
    np.testing.assert_array_equal(scores, novelty_score(raw))
    assert ((scores >= 0) & (scores <= 1)).all()
    with pytest.raises(ValueError, match="probation"):
        online_scores(values, 0, cfg, optim=OptimConfig(), train=train, key=key)
