"""Volatility forecasting: predictive scores against scipy and plain loops, rolling origins that never look
ahead (LSTM and GARCH), and the GARCH(1,1) baseline against its own recursion and known parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast import _volatility as volatility

pytest.importorskip("arch")


def garch_series(n: int, seed: int, omega=0.05, alpha=0.1, beta=0.85, nu=8.0) -> np.ndarray:
    """A GARCH(1,1) path with mean 0.05 and unit-variance Student-t innovations."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n) * np.sqrt((nu - 2) / nu)
    e, s2 = np.zeros(n), omega / (1 - alpha - beta)
    for t in range(n):
        s2 = omega + alpha * (e[t - 1] ** 2 if t else s2) + beta * s2
        e[t] = np.sqrt(s2) * z[t]
    return 0.05 + e


def test_predictive_against_scipy():
    rng = np.random.default_rng(0)
    loc, scale, y = rng.normal(size=6), rng.uniform(0.5, 2, 6), rng.normal(size=6) * 2
    df = np.array([2.5, 4.0, 9.0, 30.0, np.inf, np.inf])
    p = fc.Predictive(loc, scale, df)
    t_part, n_part = slice(0, 4), slice(4, 6)
    np.testing.assert_allclose(p.nll(y)[t_part], -stats.t.logpdf(y[t_part], df[t_part], loc[t_part], scale[t_part]),
                               rtol=1e-10)  # fmt: skip
    np.testing.assert_allclose(p.nll(y)[n_part], -stats.norm.logpdf(y[n_part], loc[n_part], scale[n_part]), rtol=1e-10)
    levels = [0.05, 0.5, 0.95]
    want = np.stack([stats.t.ppf(levels, d, m, s) if np.isfinite(d) else stats.norm.ppf(levels, m, s)
                     for m, s, d in zip(loc, scale, df)])  # fmt: skip
    np.testing.assert_allclose(p.quantiles(levels), want, rtol=1e-8)
    np.testing.assert_allclose(
        p.std, [stats.t.std(d, m, s) if np.isfinite(d) else s for m, s, d in zip(loc, scale, df)]
    )


def test_scores_against_loops():
    rng = np.random.default_rng(1)
    y = rng.standard_t(4, (2, 50))
    p = fc.Predictive(rng.normal(size=(2, 50)) * 0.1, rng.uniform(0.5, 1.5, (2, 50)), 5.0)
    got = fc.volatility_scores(y, p, levels=(0.95, 0.05))
    q = p.quantiles([0.05, 0.95])
    pinball = [max(a * (y[i, t] - q[i, t, k]), (a - 1) * (y[i, t] - q[i, t, k]))
               for i in range(2) for t in range(50) for k, a in enumerate((0.05, 0.95))]  # fmt: skip
    inside = sum(q[i, t, 0] <= y[i, t] <= q[i, t, 1] for i in range(2) for t in range(50))
    assert got["pinball"] == pytest.approx(np.mean(pinball), rel=1e-12)
    assert got["coverage"] == inside / 100
    assert got["nll"] == pytest.approx(np.mean(-stats.t.logpdf(y, 5.0, p.loc, p.scale)), rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        fc.volatility_scores(y[:, :3], p)


def test_diebold_mariano_against_a_t_statistic_and_a_loop():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=200) + 0.1, rng.normal(size=200)
    plain = fc.diebold_mariano(a, b, lags=0)  # no autocovariances: the one-sample t statistic with ddof 0
    t = stats.ttest_1samp(a - b, 0.0)
    assert plain["stat"] == pytest.approx(t.statistic * np.sqrt(200 / 199), rel=1e-10)
    assert plain["p"] == pytest.approx(2 * stats.norm.sf(abs(plain["stat"])), rel=1e-10)
    d = np.convolve(rng.normal(size=303), np.ones(4), "valid") + 0.2  # MA(3): autocorrelated differences
    got = fc.diebold_mariano(d, np.zeros(300), lags=3)
    c = d - d.mean()
    gamma = [sum(c[t] * c[t - k] for t in range(k, 300)) / 300 for k in range(4)]
    variance = gamma[0] + 2 * sum((1 - k / 4) * gamma[k] for k in range(1, 4))
    assert got["stat"] == pytest.approx(d.mean() / np.sqrt(variance / 300), rel=1e-10)
    assert fc.diebold_mariano(d, np.zeros(300))["lags"] == 6
    with pytest.raises(ValueError, match="T >= 3"):
        fc.diebold_mariano([1.0], [2.0])


def test_returns_and_origins():
    prices = np.array([[100.0, 110.0, 99.0], [10.0, 10.0, 20.0]])
    np.testing.assert_allclose(fc.log_returns(prices), 100 * np.log([[1.1, 0.9], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="positive"):
        fc.log_returns([1.0, 0.0])
    dates = np.array(["2011-12-29", "2011-12-30", "2012-01-03", "2012-01-04", "2013-01-02"], "datetime64[D]")
    assert fc.year_origins(dates, [2012, 2013]) == [2, 4]
    with pytest.raises(ValueError, match="2014"):
        fc.year_origins(dates, [2014])


@pytest.fixture(scope="module")
def simulated() -> np.ndarray:
    return np.stack([garch_series(3000, 0), garch_series(3000, 1)])


def test_garch_recovers_parameters_and_runs_its_recursion(simulated):
    origins = [2500, 2800]
    forecast, params = fc.garch_rolling(simulated, origins, "t")
    first = params[0]
    assert (first["series"], first["origin"]) == (0, 2500)
    assert first["alpha"] == pytest.approx(0.1, abs=0.04) and first["beta"] == pytest.approx(0.85, abs=0.06)
    assert first["nu"] == pytest.approx(8.0, abs=3.5)
    # the variance recursion with each origin's parameters, from far back (the start value is forgotten)
    for i, series in enumerate(simulated):
        for k, (start, stop) in enumerate(zip(origins, [2800, 3000])):
            p = params[i * 2 + k]
            e, s2, var = series - p["mu"], np.var(series), []
            for t in range(1, stop):
                s2 = p["omega"] + p["alpha"] * e[t - 1] ** 2 + p["beta"] * s2
                var.append(s2)
            scale = np.sqrt(np.array(var[start - 1 :]) * (p["nu"] - 2) / p["nu"])
            np.testing.assert_allclose(forecast.scale[i, start - 2500 : stop - 2500], scale, rtol=1e-8)
            np.testing.assert_allclose(forecast.loc[i, start - 2500 : stop - 2500], p["mu"])
    normal, _ = fc.garch_rolling(simulated[:1, :2600], [2500], "normal")
    assert np.all(np.isinf(normal.df)) and normal.loc.shape == (1, 100)


def test_gjr_garch_runs_its_recursion(simulated):
    forecast, (p,) = fc.garch_rolling(simulated[:1, :2600], [2500], "normal", asymmetric=True)
    e, s2, var = simulated[0, :2600] - p["mu"], np.var(simulated[0]), []
    for t in range(1, 2600):
        s2 = p["omega"] + (p["alpha"] + p["gamma"] * (e[t - 1] < 0)) * e[t - 1] ** 2 + p["beta"] * s2
        var.append(s2)
    np.testing.assert_allclose(forecast.scale[0], np.sqrt(var[2499:]), rtol=1e-8)
    with pytest.raises(ValueError, match="dist"):
        fc.garch_rolling(simulated, [2500], "skewt")


def test_garch_never_looks_ahead(simulated):
    r = simulated[:, :2700]
    changed = r.copy()
    changed[:, 2550] += 5.0
    before, _ = fc.garch_rolling(r, [2500, 2600], "normal")
    after, _ = fc.garch_rolling(changed, [2500, 2600], "normal")
    np.testing.assert_array_equal(before.scale[:, :51], after.scale[:, :51])  # targets 2500..2550
    assert np.all(before.scale[:, 51] != after.scale[:, 51])


def test_lstm_rolling_never_looks_ahead_and_reads_the_last_window(simulated, tmp_path, monkeypatch):
    # `fit_forecast` replaced by a spy that records each origin's history and returns an untrained model with
    # fixed weights and the history's scaler: a future return reaching a fit would change its scaler
    seen = []

    def fit(cfg, history, run_dir, progress=False):
        seen.append(np.stack(history.values))
        model = fc.build_model(cfg.model, 1, key=jax.random.key(0))
        return fc.ForecastRun(run_dir, model, fc.Scaler.fit(history.values, "standard"), cfg, None)

    monkeypatch.setattr(volatility, "fit_forecast", fit)
    r, origins, size = simulated[:, :120] * 2.0, [100, 110], 8
    cfg = fc.volatility_config(size, 4, 3)
    changed = r.copy()
    changed[:, 105] -= 7.0
    before = fc.lstm_rolling(r, origins, cfg, tmp_path)
    assert [h.shape for h in seen] == [(2, 100), (2, 110)] and np.array_equal(seen[1], r[:, :110])
    after = fc.lstm_rolling(changed, origins, cfg, tmp_path)
    np.testing.assert_array_equal(before.loc[:, :6], after.loc[:, :6])  # targets 100..105
    np.testing.assert_array_equal(before.scale[:, :6], after.scale[:, :6])
    assert np.all(before.scale[:, 6] != after.scale[:, 6])
    # the plain loop: each target's window of the `size` returns before it, the head mapped back by hand
    run = fit(cfg, fc.SeriesSet.from_arrays(list(r[:, :110])), tmp_path)
    m, s = r[:, :110].mean(axis=1, keepdims=True), r[:, :110].std(axis=1, keepdims=True)
    targets = [110, 113, 119]
    windows = np.stack([(r[:, t - size : t] - m) / s for t in targets], axis=1).reshape(-1, size)  # [2 * 3, size]
    raw = np.asarray(run.model(jnp.asarray(windows, jnp.float32), jnp.full(6, size)), np.float64).reshape(2, 3, 3)
    picked = before[:, [t - 100 for t in targets]]
    np.testing.assert_allclose(picked.loc, raw[..., 0] * s + m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(picked.scale, (np.logaddexp(0, raw[..., 1]) + 1e-3) * s, rtol=1e-5)
    np.testing.assert_allclose(picked.df, 2 + np.logaddexp(0, raw[..., 2]), rtol=1e-5)
    with pytest.raises(ValueError, match="input_size"):
        volatility.one_step(run, r, 5, 10)
    with pytest.raises(ValueError, match="origins"):
        fc.lstm_rolling(r, [150], cfg, tmp_path)


@pytest.mark.slow  # the whole protocol on the real series, trained 20-step LSTMs (about 1-2 minutes on 2 cores)
def test_tiny_volatility_study_through_the_cli(tmp_path):
    import json

    from typer.testing import CliRunner

    from recurrax.cli import app

    result = CliRunner().invoke(app, ["study", "volatility", "--budget", "tiny", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    valid = {json.dumps(c): results["valid"][json.dumps(c)]["nll"] for c in results["candidates"]}
    assert json.dumps(results["chosen"]) == min(valid, key=valid.get)  # chosen on validation alone
    frame = fc.index_returns()
    returns, origins = frame.to_numpy().T, fc.year_origins(frame.index, results["data"]["test_years"])
    garch, _ = fc.garch_rolling(returns, origins, "t")
    assert results["test"]["garch_t"]["nll"] == pytest.approx(
        fc.volatility_scores(returns[:, origins[0] :], garch)["nll"]
    )
    seeds = results["test"]["lstm"]["seeds"]
    assert [s["seed"] for s in seeds] == [0, 1, 2] and results["configs_on_test"] == 4
    assert f"{np.mean([s['nll'] for s in seeds]):.4f} ±" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "volatility.png").stat().st_size > 10_000
    bad = CliRunner().invoke(app, ["study", "volatility", "--budget", "huge", "--out", str(tmp_path)])
    assert bad.exit_code != 0
