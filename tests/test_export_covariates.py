"""Forecasters with covariates (calendar + exogenous + static) through `export_run` and the HTTP service: the
exported function, its ONNX file and the served mean equal `predict` with the run's (non-identity) covariate
scaler, histories shorter and longer than ``input_size``; bad covariates are refused with the expected shape."""

from __future__ import annotations

import contextlib
import re

import jax
import numpy as np
import pytest
from fastapi.testclient import TestClient

from recurrax.config import to_dict
from recurrax.serve import create_app, load_artifact
from recurrax.serve import export_run
from recurrax.tasks import forecast as F
from recurrax.train import save_checkpoint

TOL = {"rtol": 1e-5, "atol": 1e-5}
SIZES = (3, 7, 12, 15, 5)  # histories shorter and longer than input_size = 8
NAMES = ["month_sin", "month_cos", "price", "size"]
MODELS = {  # kind, attention, head, scaler, scope
    "direct": ("direct", False, "quantile", "standard", "series"),
    "seq2seq": ("seq2seq", True, "gaussian", "meanabs", "window"),
}
COVARIATE_SCALER = F.CovariateScaler(np.array([0.0, 0.0, 50.0, 1000.0]), np.array([1.0, 1.0, 10.0, 300.0]))


def _covariates(rng, n, start, size):
    """``[n, 4]``: month sine and cosine from month ``start`` on, a price around 50, a constant store size."""
    angle = 2 * np.pi * ((start + np.arange(n)) % 12) / 12
    return np.stack([np.sin(angle), np.cos(angle), rng.normal(size=n) * 10 + 50, np.full(n, size)], axis=-1)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Tiny untrained forecasters with 4 covariates (and one without) saved as runs and exported; the data."""
    root = tmp_path_factory.mktemp("covariates")
    rng = np.random.default_rng(0)
    values = [rng.normal(size=n) * 3 + 10 for n in SIZES]
    stores = rng.normal(size=len(SIZES)) * 300 + 1000
    full = [_covariates(rng, n + 3, i, s) for i, (n, s) in enumerate(zip(SIZES, stores))]
    past, future = [c[:-3] for c in full], np.stack([c[-3:] for c in full])
    runs = {}
    for name, (kind, attention, head, scaler, scope) in MODELS.items():
        data = F.DataConfig(input_size=8, horizon=3, scaler=scaler, scale_scope=scope, calendar=("month",),
                            exogenous=("price",), static=("size",))  # fmt: skip
        cfg = F.ForecastConfig(model=F.ModelConfig(hidden_size=5, kind=kind, attention=attention, head=head), data=data)
        model = F.build_model(cfg.model, 3, key=jax.random.key(4), covariates=4)
        fitted = F.Scaler.fit(values, scaler) if scope == "series" else None
        meta = {"task": "forecast", "config": to_dict(cfg), "scaler": fitted and fitted.to_json(),
                "covariate_scaler": COVARIATE_SCALER.to_json(), "data_fingerprint": "f" * 64}  # fmt: skip
        save_checkpoint(root / name / "checkpoints" / "best", model, meta)
        runs[name] = (root / name, model, cfg, fitted, load_artifact(export_run(root / name, root / f"{name}_art")))
    cfg = F.ForecastConfig(model=F.ModelConfig(hidden_size=5), data=F.DataConfig(input_size=8, horizon=3))
    plain = F.build_model(cfg.model, 3, key=jax.random.key(5))
    save_checkpoint(root / "plain", plain, {"task": "forecast", "config": to_dict(cfg), "scaler": None})
    runs["plain"] = (root / "plain", plain, cfg, None, load_artifact(export_run(root / "plain", root / "plain_art")))
    return {"runs": runs, "values": values, "past": past, "future": future}


def _expected(case, name, rows, levels=None):
    """`predict` of the histories ``rows`` with their covariates and the run's covariate scaler."""
    run, model, cfg, scaler, _ = case["runs"][name]
    assert F.load_forecast(run).covariate_scaler.to_json() == COVARIATE_SCALER.to_json()
    if scaler is not None:  # predict scales row i with series i's statistics
        scaler = F.Scaler(scaler.loc[rows], scaler.scale[rows], scaler.method)
    return F.predict(model, cfg, [case["values"][i] for i in rows], scaler=scaler, levels=levels,
                     covariates=[case["past"][i] for i in rows], future=case["future"][rows],
                     covariate_scaler=COVARIATE_SCALER)  # fmt: skip


def _padded(case, rows, steps=16, fill=0.0):
    """``history`` ``[B, steps]``, ``lengths``, ``past`` ``[B, steps, 4]`` (padding ``fill``) and ``future``."""
    history = np.full((len(rows), steps), fill, np.float32)
    past = np.full((len(rows), steps, 4), fill, np.float32)
    for row, i in enumerate(rows):
        history[row, : SIZES[i]], past[row, : SIZES[i]] = case["values"][i], case["past"][i]
    lengths = np.array([SIZES[i] for i in rows], np.int32)
    return {"history": history, "lengths": lengths, "past": past, "future": case["future"][rows].astype(np.float32)}


@pytest.mark.parametrize(("name", "rows"), [("direct", [0, 1, 2, 3, 4]), ("direct", [3]), ("seq2seq", [4, 0, 2])])
def test_exported_forecast_with_covariates_equals_predict(case, name, rows):
    art = case["runs"][name][-1]
    inputs = _padded(case, rows, fill=1e3)  # padding is ignored, however large
    if name == "direct":
        inputs["series"] = np.array(rows, np.int32)
    levels = art.meta["data"]["levels"]
    expected = _expected(case, name, rows, levels)
    out = art.call("forecast", **inputs)
    np.testing.assert_allclose(out["mean"], expected.mean, **TOL)
    np.testing.assert_allclose(out["quantiles"], expected.quantiles, **TOL)
    _, model, cfg, scaler, _ = case["runs"][name]
    raw = F.predict(model, cfg, [case["values"][i] for i in rows], scaler=scaler and F.Scaler(
        scaler.loc[rows], scaler.scale[rows], scaler.method), covariates=[case["past"][i] for i in rows],
        future=case["future"][rows], covariate_scaler=F.CovariateScaler.identity(4))  # fmt: skip
    assert np.abs(out["mean"] - raw.mean).max() > 1e-3  # the covariate scaler matters, and is applied


def test_artifact_records_covariate_names_scaler_and_inputs(case):
    art = case["runs"]["seq2seq"][-1]
    assert art.meta["data"]["covariates"] == NAMES
    assert art.meta["data"]["covariate_scaler"] == COVARIATE_SCALER.to_json()
    np.testing.assert_array_equal(art.weights["covariates.loc"], [0, 0, 50, 1000])
    np.testing.assert_array_equal(art.weights["covariates.scale"], [1, 1, 10, 300])
    inputs = art.schema("forecast")["inputs"]
    assert [(s["name"], s["shape"]) for s in inputs] == [
        ("history", ["B", "T"]), ("lengths", ["B"]), ("past", ["B", "T", 4]), ("future", ["B", 3, 4])
    ]  # fmt: skip
    plain = case["runs"]["plain"][-1]
    assert [s["name"] for s in plain.schema("forecast")["inputs"]] == ["history", "lengths"]
    assert "covariates" not in plain.meta["data"] and not any(k.startswith("covariates.") for k in plain.weights)
    with pytest.raises(ValueError, match=r"inputs are \['history', 'lengths', 'past', 'future'\]; missing \['past'"):
        art.call("forecast", **{k: v for k, v in _padded(case, [0]).items() if k != "past"})
    with pytest.raises(ValueError, match=r"future must have shape \['B', 3, 4\]"):
        art.call("forecast", **{**_padded(case, [0]), "future": np.zeros((1, 2, 4), np.float32)})


def test_onnx_export_of_a_covariate_model_equals_the_artifact(case, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("jax2onnx")
    run = case["runs"]["seq2seq"][0]
    path = export_run(run, tmp_path / "art", onnx=True)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path / "forecast.onnx"), options)
    assert [i.name for i in session.get_inputs()] == ["history", "lengths", "past", "future"]
    inputs = _padded(case, [1, 4, 0], steps=8)  # the ONNX time dimension is input_size
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
    np.testing.assert_allclose(got["mean"], _expected(case, "seq2seq", [1, 4, 0]).mean, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def clients(case):
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(TestClient(create_app(case["runs"][name][-1], max_batch=8)))
               for name in ("direct", "seq2seq", "plain")}  # fmt: skip


def _body(case, rows, **changes):
    body = {"history": [case["values"][i].tolist() for i in rows], "past": [case["past"][i].tolist() for i in rows],
            "future": case["future"][rows].tolist()}  # fmt: skip
    return {**body, **changes}


@pytest.mark.parametrize(("name", "rows"), [("direct", [2, 0, 4]), ("seq2seq", [0, 1, 2, 3, 4])])
def test_served_forecast_with_covariates_equals_predict(case, clients, name, rows):
    body = _body(case, rows, **({"series": rows} if name == "direct" else {}))
    r = clients[name].post("/v1/predict", json=body)
    assert r.status_code == 200, r.text
    expected = _expected(case, name, rows, case["runs"][name][-1].meta["data"]["levels"])
    np.testing.assert_allclose(r.json()["mean"], expected.mean, **TOL)
    np.testing.assert_allclose(r.json()["quantiles"], expected.quantiles, **TOL)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"future": None}, r"takes 4 covariates: give past \[B\]\[n_i\]\[4\] .* future \[B\]\[3\]\[4\]"),
        ({"past": None}, r"covariates \['month_sin', 'month_cos', 'price', 'size'\]"),
        (
            {"past": [[[0.0] * 4] * 3, [[0.0] * 4] * 6]},
            r"one 4-vector per history value, \[3, 7\] per series, got \[3, 6",
        ),
        ({"past": [[[0.0] * 3] * 3, [[0.0] * 4] * 7]}, r"past\[0\] has 3 features per step, the model takes 4"),
        ({"future": [[[0.0] * 4] * 2] * 2}, r"future must have shape \[B, H, K\] = \[2, 3, 4\], got \[2, 2, 4\]"),
        ({"future": [[[0.0] * 4] * 3, [[0.0] * 4] * 2]}, r"expected past \[B\]\[n_i\]\[4\]"),
    ],
)
def test_bad_covariates_are_refused_naming_the_expected_shape(case, clients, changes, message):
    body = {k: v for k, v in _body(case, [0, 1], **changes).items() if v is not None}
    r = clients["seq2seq"].post("/v1/predict", json=body)
    assert r.status_code == 422 and re.search(message, r.json()["detail"]), r.text


def test_a_model_without_covariates_refuses_them(case, clients):
    client = clients["plain"]
    r = client.post("/v1/predict", json=_body(case, [0]))
    assert r.status_code == 422 and "this model takes no covariates" in r.json()["detail"]
    ok = client.post("/v1/predict", json={"history": [case["values"][0].tolist()]})
    _, model, cfg, _, _ = case["runs"]["plain"]
    np.testing.assert_allclose(ok.json()["mean"], F.predict(model, cfg, case["values"][:1]).mean, **TOL)
