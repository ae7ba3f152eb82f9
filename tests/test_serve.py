"""The HTTP service against tiny exported models: answers equal `Artifact.call` and the in-memory models, bad
payloads and auth are refused, metrics count, sessions carry state, batching merges and pads without
changing results."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import subprocess
import sys
import time

import httpx
import jax
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from recurrax._dispatch import FLAG
from recurrax.cli import main
from recurrax.cli._serve import is_loopback
from recurrax.config import to_dict
from recurrax.serve import (
    Artifact,
    DriftMonitor,
    ReferenceProfile,
    SessionStore,
    create_app,
    export_run,
    load_artifact,
)
from recurrax.serve._batching import DynamicBatcher, bucket
from recurrax.tasks import anomaly as A
from recurrax.tasks import classify as C
from recurrax.tasks import forecast as fc
from recurrax.tasks import lm
from recurrax.tasks.anomaly._scorers import build_network
from recurrax.train import save_checkpoint

TEXT = "red is a colour.\noak is a tree.\ncat is a pet.\n"
AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Untrained tiny models of the three servable tasks, saved as checkpoints and exported."""
    root = tmp_path_factory.mktemp("serve")
    key = jax.random.key(7)
    tokenizer = lm.CharTokenizer.fit(TEXT)
    lm_cfg = lm.LMConfig(model=lm.ModelConfig(embed_size=8, hidden_size=12, num_layers=1))
    lm_model = lm.build_model(lm_cfg.model, len(tokenizer), key=key)
    save_checkpoint(root / "lm_ckpt", lm_model, {"task": "lm", "config": to_dict(lm_cfg),
                                                 "tokenizer": tokenizer.to_json()})  # fmt: skip
    c_cfg = C.ClassifyConfig(model=C.ModelConfig(hidden_size=8))
    c_model = C.build_model(c_cfg.model, 2, 3, key=key)
    save_checkpoint(
        root / "c_ckpt",
        c_model,
        {
            "task": "classify",
            "config": to_dict(c_cfg),
            "classes": ["a", "b", "c"],
            "input_size": 2,
            "scaler": {"mean": [0.5, -1.0], "std": [2.0, 0.5]},
        },
    )
    training = np.random.default_rng(3).normal(size=(2000, 2)) * [2.0, 0.5] + [0.5, -1.0]
    ReferenceProfile.from_values(training).save(root / "c_ckpt" / "reference_profile.json")  # as fit writes it
    f_cfg = fc.ForecastConfig(model=fc.ModelConfig(head="gaussian", hidden_size=8),
                              data=fc.DataConfig(input_size=8, horizon=3))  # fmt: skip
    f_model = fc.build_model(f_cfg.model, 3, key=key)
    save_checkpoint(root / "f_ckpt", f_model, {"task": "forecast", "config": to_dict(f_cfg), "scaler": None})
    a_cfg = A.ScorerConfig(kind="prediction", hidden_size=8, window=4)
    scorer = A.Scorer(build_network(a_cfg, 2, key=key), np.array([0.5, -1.0]), np.array([2.0, 0.5]), a_cfg)
    A.save_scorer(scorer, a_cfg, root / "a_ckpt")
    arts = {}
    for task, options in (("lm", {}), ("c", {}), ("f", {"levels": (0.1, 0.5, 0.9)}), ("a", {})):
        arts[task] = load_artifact(export_run(root / f"{task}_ckpt", root / task, **options))
    return {"root": root, "lm": (arts["lm"], lm_model, tokenizer), "classify": (arts["c"], c_model),
            "forecast": (arts["f"], f_model, f_cfg), "anomaly": (arts["a"], scorer)}  # fmt: skip


@pytest.fixture(scope="module")
def clients(built):
    """One authenticated service per task (max_batch 8, max_length 64, max_tokens 20, 3 sessions)."""
    limits = {"token": "s3cret", "max_batch": 8, "max_length": 64, "max_tokens": 20, "max_body_bytes": 20_000}
    tasks = ("lm", "classify", "forecast", "anomaly")
    apps = {task: create_app(built[task][0], max_sessions=3, **limits) for task in tasks}
    with contextlib.ExitStack() as stack:
        yield {task: stack.enter_context(TestClient(apps[task])) for task in tasks}


def softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def metric(client, name, **labels):
    """The value of sample ``name`` with ``labels`` on /metrics (0 when absent)."""
    for family in text_string_to_metric_families(client.get("/metrics", headers=AUTH).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@dataclasses.dataclass(frozen=True)
class CountingArtifact(Artifact):
    """An artifact that records the input shapes of every call (and may sleep in it)."""

    calls: list = dataclasses.field(default_factory=list)
    delay: float = 0.0

    def call(self, name, **arrays):
        self.calls.append({k: np.shape(v) for k, v in arrays.items()})
        time.sleep(self.delay)
        return super().call(name, **arrays)


def counting(art, delay=0.0):
    return CountingArtifact(art.path, art.meta, art.weights, art.exported, delay=delay)


@dataclasses.dataclass(frozen=True)
class FailingArtifact(CountingArtifact):
    """A forecaster whose call raises when a history holds 666 (an input the model cannot take)."""

    def call(self, name, **arrays):
        failed = bool((arrays["history"] == 666.0).any())
        self.calls.append({"rows": len(arrays["history"]), "failed": failed})
        if failed:
            raise FloatingPointError("666 in a history")
        return Artifact.call(self, name, **arrays)


async def post_all(app, requests):
    """``requests`` ``[(path, body)]`` sent concurrently to ``app`` (one ASGI client); the answers, in order."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = await asyncio.gather(*(client.post(path, json=body) for path, body in requests))
        await app.state.service.close()
        return answers


def test_bucket_sizes():
    assert [bucket(n) for n in (1, 2, 3, 4, 5, 9, 16, 17)] == [1, 2, 4, 4, 8, 16, 16, 32]
    assert bucket(20, cap=16) == 20 and bucket(9, cap=12) == 12 and bucket(3, cap=12) == 4
    with pytest.raises(ValueError, match="n >= 1"):
        bucket(0)


def test_padding_never_changes_a_result(built, seed):
    """Ragged requests merged into one padded call give each one what its own unpadded call gives."""
    rng = np.random.default_rng(seed)
    art = built["classify"][0]
    batcher = DynamicBatcher(lambda a: art.call("predict_proba", **a), art.schema("predict_proba"), max_batch=16)
    requests = []
    for rows, steps in ((1, 3), (2, 5), (3, 9)):
        x = rng.normal(size=(rows, steps, 2)).astype(np.float32)
        x[0, 0, 1] = np.nan
        requests.append({"x": x, "lengths": rng.integers(1, steps + 1, rows).astype(np.int32)})
    for request, got in zip(requests, batcher.run(requests)):
        np.testing.assert_allclose(got["probs"], art.call("predict_proba", **request)["probs"], rtol=1e-5, atol=1e-6)
    assert batcher.shapes == {(8, 16)}  # 6 rows -> 8, 9 steps -> 16

    art = built["forecast"][0]
    batcher = DynamicBatcher(lambda a: art.call("forecast", **a), art.schema("forecast"), max_batch=16)
    requests = [{"history": rng.normal(size=(b, t)).astype(np.float32) + 5, "lengths": np.full(b, t, np.int32)}
                for b, t in ((2, 5), (1, 11))]  # fmt: skip
    for request, got in zip(requests, batcher.run(requests)):
        want = art.call("forecast", **request)
        for k in ("mean", "quantiles"):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-5)

    art = built["lm"][0]  # the state's batch axis is 1 ([L, B, H])
    batcher = DynamicBatcher(lambda a: art.call("step", **a), art.schema("step"), max_batch=16)
    states = [art.init_state(n) for n in (1, 2)]
    states[1] = {k: rng.normal(size=v.shape).astype(v.dtype) for k, v in states[1].items()}
    requests = [{"tokens": np.array(t, np.int32), **s} for t, s in zip(([3], [1, 5]), states)]
    for request, got in zip(requests, batcher.run(requests)):
        want = art.call("step", **request)
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)


def test_classify_answers_equal_the_artifact(clients, built):
    art = built["classify"][0]
    inputs = [[[0.1, 0.2], [0.3, None], [1.0, -1.0]], [[2.0, 0.5]]]
    r = clients["classify"].post("/v1/predict", json={"inputs": inputs, "lengths": [2, 1]}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    for i, (row, n) in enumerate(zip(inputs, (2, 1))):
        x = np.array([[np.nan if v is None else v for v in step] for step in row], np.float32)[None]
        want = art.call("predict_proba", x=x, lengths=np.array([n], np.int32))["probs"][0]
        np.testing.assert_allclose(body["probabilities"][i], want, rtol=1e-5, atol=1e-6)
        assert body["label_ids"][i] == int(np.argmax(want)) and body["labels"][i] == "abc"[int(np.argmax(want))]
    assert body["classes"] == ["a", "b", "c"]


def test_forecast_answers_equal_the_in_memory_model(clients, built):
    _, model, cfg = built["forecast"]
    history = [[10.0, 11.0, 12.5, 12.0, 13.0, 14.0, 13.5, 15.0, 16.0, 15.5], [3.0, 2.5, 2.0]]
    r = clients["forecast"].post("/v1/predict", json={"history": history}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    want = fc.predict(model, cfg, [np.array(h) for h in history], levels=[0.1, 0.5, 0.9])
    np.testing.assert_allclose(body["mean"], want.mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(body["quantiles"], want.quantiles, rtol=1e-4, atol=1e-4)
    assert body["levels"] == [0.1, 0.5, 0.9]
    (interval,) = body["intervals"]
    assert interval["coverage"] == 0.8
    np.testing.assert_array_equal(interval["lower"], np.array(body["quantiles"])[..., 0])
    np.testing.assert_array_equal(interval["upper"], np.array(body["quantiles"])[..., 2])


def test_lm_generation_equals_the_in_memory_model_and_a_sampling_loop(clients, built):
    art, model, tokenizer = built["lm"]
    client = clients["lm"]
    r = client.post("/v1/predict", json={"prompt": "oak is", "max_tokens": 12, "temperature": 0}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert "oak is" + r.json()["text"] == lm.generate(model, tokenizer, "oak is", 12, greedy=True)
    assert r.json()["prompt_tokens"] == 6

    body = {"prompt": "cat", "max_tokens": 10, "temperature": 0.8, "top_k": 5, "seed": 4}
    got = client.post("/v1/predict", json=body, headers=AUTH).json()
    rng, state, tokens, logits = np.random.default_rng(4), art.init_state(1), [], None
    for t in [*tokenizer.encode("cat").tolist()] + [None] * 10:  # the loop a client would write with the artifact
        if t is None:
            z = logits[0].astype(np.float64) / 0.8
            z = np.where(z < np.sort(z)[-5], -np.inf, z)
            t = int(rng.choice(z.size, p=softmax(z)))
            tokens.append(t)
        out = art.call("step", tokens=np.array([t], np.int32), **state)
        logits, state = out["logits"], {k: out[k] for k in state}
    assert got["tokens"] == tokens and got["text"] == tokenizer.decode(tokens)
    assert client.post("/v1/predict", json=body, headers=AUTH).json() == got


def test_sessions_carry_state_between_steps(clients, built):
    art, _, tokenizer = built["lm"]
    client = clients["lm"]

    def step(session, **body):
        r = client.post(f"/v1/sessions/{session}/step", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        return r.json()

    whole = client.post("/v1/sessions", headers=AUTH).json()["id"]
    pieces = client.post("/v1/sessions", json={"seed": 1}, headers=AUTH).json()["id"]
    one = step(whole, text="oak is", max_tokens=0, return_probabilities=True)
    step(pieces, text="oak", max_tokens=0)
    two = step(pieces, text=" is", max_tokens=0, return_probabilities=True)
    assert one["steps"] == two["steps"] == 6 and one["tokens"] == []
    np.testing.assert_allclose(two["probabilities"], one["probabilities"], rtol=1e-5, atol=1e-7)
    state = art.init_state(1)
    for t in tokenizer.encode("oak is"):
        out = art.call("step", tokens=np.array([t], np.int32), **state)
        state = {k: out[k] for k in state}
    np.testing.assert_allclose(one["probabilities"], softmax(out["logits"][0]), rtol=1e-5, atol=1e-7)

    greedy = [step(pieces, max_tokens=1, temperature=0)["tokens"][0] for _ in range(5)]  # token by token
    assert step(whole, max_tokens=5, temperature=0)["tokens"] == greedy
    full = client.post("/v1/predict", json={"prompt": "oak is", "max_tokens": 5, "temperature": 0}, headers=AUTH)
    assert full.json()["tokens"] == greedy

    assert client.delete(f"/v1/sessions/{whole}", headers=AUTH).status_code == 200
    gone = client.post(f"/v1/sessions/{whole}/step", json={"max_tokens": 1}, headers=AUTH)
    assert gone.status_code == 404 and "no open session" in gone.json()["detail"]
    new = client.post("/v1/sessions", headers=AUTH).json()["id"]
    refused = client.post(f"/v1/sessions/{new}/step", json={"max_tokens": 1}, headers=AUTH)
    assert refused.status_code == 422 and "fed text" in refused.json()["detail"]
    bad = client.post(f"/v1/sessions/{new}/step", json={"tokens": [0, len(tokenizer)]}, headers=AUTH)
    assert bad.status_code == 422 and f"tokens must be ids in [0, {len(tokenizer) - 1}]" in bad.json()["detail"]
    client.post("/v1/sessions", headers=AUTH)  # the third (max_sessions = 3)
    full = client.post("/v1/sessions", headers=AUTH)
    assert full.status_code == 429 and "3 sessions are open" in full.json()["detail"]
    for session in (pieces, new):
        client.delete(f"/v1/sessions/{session}", headers=AUTH)
    no_stream = clients["classify"].post("/v1/sessions", headers=AUTH)
    assert no_stream.status_code == 400 and "no streaming sessions" in no_stream.json()["detail"]


def test_anomaly_scores_equal_the_in_memory_scorer_in_one_call_and_point_by_point(clients, built):
    _, scorer = built["anomaly"]
    client = clients["anomaly"]
    series = np.random.default_rng(3).normal(size=(9, 2)).round(3)
    r = client.post("/v1/predict", json={"values": [series.tolist(), series[:6].tolist()]}, headers=AUTH)
    assert r.status_code == 200, r.text
    want = A.score_series(scorer, series)  # in memory: NaN for the first window = 4 points
    for got, n in zip(r.json()["scores"], (9, 6)):
        assert got[:4] == [None] * 4 and len(got) == n
        np.testing.assert_allclose(got[4:], want[4:n], rtol=1e-5, atol=1e-6)
    session = client.post("/v1/sessions", headers=AUTH).json()["id"]
    first = client.post(f"/v1/sessions/{session}/step", json={"points": series[:5].tolist()}, headers=AUTH).json()
    second = client.post(f"/v1/sessions/{session}/step", json={"points": series[5:].tolist()}, headers=AUTH).json()
    assert second["steps"] == 9 and first["scores"][:4] == [None] * 4
    np.testing.assert_allclose(first["scores"][4:] + second["scores"], want[4:], rtol=1e-5, atol=1e-6)
    bad = client.post(f"/v1/sessions/{session}/step", json={"points": [[1.0, 2.0, 3.0]]}, headers=AUTH)
    assert bad.status_code == 422 and "points have 3 features, the model takes 2" in bad.json()["detail"]
    assert client.delete(f"/v1/sessions/{session}", headers=AUTH).status_code == 200


def test_unused_sessions_expire_in_the_service(built):
    with TestClient(create_app(built["lm"][0], session_ttl_s=1.0)) as client:
        session = client.post("/v1/sessions").json()["id"]
        assert metric(client, "recurrax_sessions_active") == 1
        time.sleep(1.05)
        r = client.post(f"/v1/sessions/{session}/step", json={"text": "oak"})
        assert r.status_code == 404 and "expired after 1 s" in r.json()["detail"]
        assert metric(client, "recurrax_sessions_expired_total") == 1
        assert metric(client, "recurrax_sessions_active") == 0


def test_session_store_expires_after_the_ttl():
    now = [0.0]
    changes = []
    store = SessionStore(max_sessions=2, ttl_s=10.0, clock=lambda: now[0], on_change=lambda *a: changes.append(a))
    first = store.create({"h": np.zeros(1)})
    now[0] = 6.0
    second = store.create({})
    now[0] = 12.0  # first unused for 12 s, second for 6 s
    with pytest.raises(KeyError, match="expired"):
        store.get(first.id)
    assert store.get(second.id) is second and len(store) == 1
    now[0] = 21.0  # the get at 12 s restarted second's TTL
    assert store.get(second.id) is second
    assert changes == [(1, 0), (2, 0), (1, 1)]
    with pytest.raises(ValueError, match="max_sessions"):
        SessionStore(max_sessions=0)


BAD = [
    ("classify", b'{"inputs": [[[NaN, 1.0]]]}', 422, "finite number"),
    ("classify", b'{"inputs": [[[1.0, Infinity]]]}', 422, "finite number"),
    ("classify", b'{"inputs": [[[1.0, 2.0]]], "extra": 1}', 422, "extra: Extra inputs are not permitted"),
    ("classify", b'{"inputs": [[[1.0, 2.0, 3.0]]]}', 422, "inputs[0] has 3 features per step, the model takes 2"),
    ("classify", b'{"inputs": [[[1.0, 2.0], [3.0]]]}', 422, "same number of features"),
    ("classify", b'{"inputs": [[[1.0, 2.0]], []]}', 422, "inputs[1] is empty"),
    ("classify", b'{"inputs": [[[1.0, 2.0]]], "lengths": [2]}', 422, "lengths must be 1 values"),
    ("classify", b'{"inputs": "x"}', 422, "body.inputs: Input should be a valid list"),
    ("classify", b'{"inputs": [[[1.0, 2.0]]]', 422, "JSON decode error"),
    ("classify", b'{"inputs": [' + b",".join([b"[[1.0, 2.0]]"] * 9) + b"]}", 413, "over the limit max_batch = 8"),
    ("classify", b'{"inputs": [[' + b",".join([b"[1.0, 2.0]"] * 65) + b"]]}", 413, "max_length = 64"),
    ("classify", b'{"inputs": [[[' + b"1.0," * 10_000 + b"2.0]]]}", 413, "max_body_bytes = 20000"),
    ("forecast", b'{"history": [[1.0, null, 3.0]]}', 422, "history holds null (missing) values"),
    ("forecast", b'{"history": [[1.0, 2.0]], "series": [0]}', 422, "this one does not"),
    ("lm", b'{"prompt": "oak", "temperature": -1}', 422, "body.temperature: Input should be greater than"),
    ("lm", b'{"prompt": ""}', 422, "body.prompt: String should have at least 1 character"),
    ("lm", b'{"prompt": "oak", "max_tokens": 21}', 413, "max_tokens is 21, over the limit max_tokens = 20"),
    ("lm", b'{"prompt": "oak", "seed": -1}', 422, "body.seed: Input should be greater than or equal to 0"),
    ("forecast", b'{"history": [[1.0, 1e39]]}', 422, "body.history.0.1: Input should be a number that float32 holds"),
    ("classify", b'{"inputs": [[[-3.5e38, 1.0]]]}', 422, "body.inputs.0.0.0: Input should be a number that float32"),
    ("anomaly", b'{"values": [[[1.0, 1e300]]]}', 422, "body.values.0.0.1: Input should be a number that float32"),
    ("forecast", b'{"history": [' + b",".join([b"[3e38, 3e38, 3e38]"] * 2) + b"]}", 422,
     "the model's output is not finite for history[0], history[1] (inputs far outside the training range?)"),
    ("anomaly", b'{"values": [[[0.1, 0.2], [0.3, 0.4]], [' + b",".join([b"[3e38, 3e38]"] * 6) + b"]]}", 422,
     "the model's output is not finite for values[1] (inputs far outside"),
]


@pytest.mark.parametrize("task, body, status, message", BAD)
def test_bad_payloads_get_4xx_with_a_message(clients, task, body, status, message):
    headers = {**AUTH, "content-type": "application/json"}
    r = clients[task].post("/v1/predict", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_a_streamed_body_over_the_limit_gets_413(clients):
    chunks = (b'{"history": [[' + b"1.0," * 4000 + b"2.0]]}" for _ in range(2))  # no content-length: chunked
    r = clients["forecast"].post("/v1/predict", content=chunks, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"] == "the request body is larger than max_body_bytes = 20000"


def test_bearer_token_auth(clients):
    client = clients["classify"]
    body = {"inputs": [[[1.0, 2.0]]]}
    missing = client.post("/v1/predict", json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "missing bearer token" in missing.json()["detail"]
    wrong = client.post("/v1/predict", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json()["detail"] == "wrong bearer token"
    assert client.post("/v1/predict", json=body, headers=AUTH).status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/health").json() == {"status": "ok", "task": "classify", "functions": ["predict_proba"],
                                            "sessions": 0}  # fmt: skip
    model = client.get("/v1/model", headers=AUTH).json()
    assert model["task"] == "classify" and model["data"]["classes"] == ["a", "b", "c"]
    assert [i["name"] for i in model["functions"]["predict_proba"]["inputs"]] == ["x", "lengths"]


def test_the_openapi_schema_and_pages_need_the_token_when_one_is_set(clients, built):
    client = clients["classify"]
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 403, path
        assert client.get(path, headers=AUTH).status_code == 200, path
    paths = client.get("/openapi.json", headers=AUTH).json()["paths"]
    assert "ClassifyRequest" in str(paths["/v1/predict"]["post"]["requestBody"])
    assert not {"/docs", "/redoc", "/openapi.json"} & set(paths)
    assert "swagger-ui" in client.get("/docs", headers=AUTH).text
    with TestClient(create_app(built["classify"][0])) as open_client:  # no token: all open, as before
        for path in ("/docs", "/redoc", "/openapi.json", "/health"):
            assert open_client.get(path).status_code == 200, path
        assert open_client.get("/openapi.json").json()["paths"] == paths


def histories(n, seed=0):
    rng = np.random.default_rng(seed)
    return [(10 + rng.normal(size=int(rng.integers(2, 12)))).round(3).tolist() for _ in range(n)]


def alone(art, history):
    """The forecaster's answer to one history in its own call."""
    return art.call("forecast", history=np.array([history]), lengths=np.array([len(history)], np.int32))


def test_a_number_beyond_float32_is_refused_before_it_joins_a_batch(built):
    art = counting(built["forecast"][0])
    app = create_app(art, max_batch=32, max_wait_ms=300)
    good = histories(30)
    bad = [1.0, 2.0, 1e39, 4.0]
    answers = asyncio.run(post_all(app, [("/v1/predict", {"history": [h]}) for h in [*good[:15], bad, *good[15:]]]))
    refused = answers.pop(15)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("body.history.0.2: Input should be a number that float32 holds")
    for history, answer in zip(good, answers):
        assert answer.status_code == 200, answer.text
        want = alone(built["forecast"][0], history)
        np.testing.assert_allclose(answer.json()["mean"], want["mean"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(answer.json()["quantiles"], want["quantiles"], rtol=1e-5, atol=1e-5)
    assert sum(call["history"][0] for call in art.calls) >= 30 and len(art.calls) < 30  # merged, none failed


def test_a_failing_model_call_fails_only_its_own_request_as_json(built):
    base = built["forecast"][0]
    art = FailingArtifact(base.path, base.meta, base.weights, base.exported)
    app = create_app(art, max_batch=32, max_wait_ms=1000)  # the first request waits 1 s for the others
    good = histories(30, seed=1)
    answers = asyncio.run(post_all(app, [("/v1/predict", {"history": [h]}) for h in [[1.0, 666.0], *good]]))
    failed = answers.pop(0)
    assert failed.status_code == 500 and failed.headers["content-type"] == "application/json"
    assert failed.json()["detail"] == "the model call failed for this request: FloatingPointError: 666 in a history"
    for history, answer in zip(good, answers):
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(answer.json()["mean"], alone(base, history)["mean"], rtol=1e-5, atol=1e-5)
    merged = next(i for i, call in enumerate(art.calls) if call["failed"] and call["rows"] > 1)
    alone_calls = list(itertools.takewhile(lambda c: c["rows"] == 1, art.calls[merged + 1 :]))
    assert len(alone_calls) > 1  # then the batch's requests one by one: only the 666 one fails again
    assert sum(c["failed"] for c in alone_calls) == 1


def test_the_batcher_retries_a_failed_batch_request_by_request(built):
    """When the merged call raises, each request runs alone: only the one whose own call raises gets the error."""
    art = built["classify"][0]
    calls = []

    def call(arrays):
        calls.append(len(arrays["x"]))
        if (arrays["x"] > 100).any():
            raise ValueError("a value over 100")
        return art.call("predict_proba", **arrays)

    batcher = DynamicBatcher(call, art.schema("predict_proba"), max_batch=16, max_wait_ms=300)
    rng = np.random.default_rng(5)
    requests = [{"x": rng.normal(size=(rows, 4, 2)).astype(np.float32), "lengths": np.full(rows, 4, np.int32)}
                for rows in (1, 2, 3, 1)]  # fmt: skip
    requests[2]["x"][1, 3, 0] = 1000.0

    async def submit_all():
        try:
            return await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)
        finally:
            await batcher.close()

    outcomes = asyncio.run(submit_all())
    assert calls == [8, 1, 2, 4, 1]  # 7 rows padded to 8, then each request alone (3 rows padded to 4)
    assert isinstance(outcomes[2], ValueError) and str(outcomes[2]) == "a value over 100"
    for i in (0, 1, 3):
        np.testing.assert_allclose(outcomes[i]["probs"], art.call("predict_proba", **requests[i])["probs"], rtol=1e-6)
    assert batcher.run([requests[0]])[0]["probs"].shape == (1, 3)  # and it keeps serving


FAR = "(inputs far outside the training range?)"


def test_a_session_step_beyond_float32_or_with_outputs_not_finite_is_refused_and_keeps_the_state(clients, built):
    _, scorer = built["anomaly"]
    client = clients["anomaly"]
    series = np.random.default_rng(4).normal(size=(8, 2)).round(3)
    session = client.post("/v1/sessions", headers=AUTH).json()["id"]
    url = f"/v1/sessions/{session}/step"
    first = client.post(url, json={"points": series[:5].tolist()}, headers=AUTH).json()
    huge = client.post(url, json={"points": [[1.0, 1e39]]}, headers=AUTH)
    assert huge.status_code == 422 and huge.json()["detail"].startswith("body.points.0.1: Input should be a number")
    far = client.post(url, json={"points": [series[5].tolist(), [3e38, -3e38]]}, headers=AUTH)
    assert far.status_code == 422, far.text
    assert far.json()["detail"] == "the model's output is not finite for points[1] " + FAR
    second = client.post(url, json={"points": series[5:].tolist()}, headers=AUTH).json()
    assert second["steps"] == 8  # neither refused step moved the session
    np.testing.assert_allclose(first["scores"][4:] + second["scores"], A.score_series(scorer, series)[4:], rtol=1e-5)
    assert client.delete(url.removesuffix("/step"), headers=AUTH).status_code == 200


def test_unexpected_errors_are_a_json_500_that_keeps_the_connection(built):
    app = create_app(built["forecast"][0])

    @app.get("/boom")
    async def boom():
        raise RuntimeError("a bug")

    with TestClient(app) as client:  # raise_server_exceptions: the error would surface here had it escaped the app
        r = client.get("/boom")
        assert r.status_code == 500 and r.json() == {"detail": "internal error: RuntimeError (logged by the server)"}
        assert client.get("/health").status_code == 200
        assert metric(client, "recurrax_requests_total", endpoint="/boom", method="GET", status="500") == 1


def test_a_vanishing_temperature_samples_the_most_likely_token(clients):
    client = clients["lm"]
    body = {"prompt": "oak is", "max_tokens": 4, "temperature": 0}
    greedy = client.post("/v1/predict", json=body, headers=AUTH).json()["tokens"]
    tiny = client.post("/v1/predict", json={**body, "temperature": 1e-320}, headers=AUTH)
    assert tiny.status_code == 200 and tiny.json()["tokens"] == greedy


def test_metrics_count_requests_errors_latency_and_batches(clients):
    client = clients["forecast"]
    labels = {"endpoint": "/v1/predict", "method": "POST"}
    before = {s: metric(client, "recurrax_requests_total", status=s, **labels) for s in ("200", "422")}
    latency = metric(client, "recurrax_request_latency_seconds_count", endpoint="/v1/predict")
    rows = metric(client, "recurrax_batch_rows_sum", function="forecast")
    for _ in range(3):
        assert client.post("/v1/predict", json={"history": [[1.0, 2.0], [3.0, 4.0]]}, headers=AUTH).status_code == 200
    client.post("/v1/predict", json={"history": [[]]}, headers=AUTH)
    client.post("/v1/predict", json={"history": [[1.0]]})  # 401
    assert metric(client, "recurrax_requests_total", status="200", **labels) == before["200"] + 3
    assert metric(client, "recurrax_requests_total", status="422", **labels) == before["422"] + 1
    assert metric(client, "recurrax_request_errors_total", endpoint="/v1/predict", status="401") >= 1
    assert metric(client, "recurrax_request_latency_seconds_count", endpoint="/v1/predict") == latency + 5
    assert metric(client, "recurrax_batch_rows_sum", function="forecast") == rows + 6
    assert metric(client, "recurrax_requests_total", endpoint="/metrics", method="GET", status="200") >= 5


def test_dynamic_batching_merges_concurrent_requests(built):
    art = counting(built["classify"][0])
    app = create_app(art, max_batch=8, max_wait_ms=500)
    rng = np.random.default_rng(0)
    bodies = [{"inputs": rng.normal(size=(rows, steps, 2)).tolist()} for rows, steps in ((1, 3), (2, 5), (3, 9))]

    async def send_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = await asyncio.gather(*(client.post("/v1/predict", json=b) for b in bodies))
            await app.state.service.batcher.close()
            return answers

    answers = asyncio.run(send_all())
    assert art.calls == [{"x": (8, 16, 2), "lengths": (8,)}]  # 6 rows -> 8, 9 steps -> 16: one call
    for body, answer in zip(bodies, answers):
        x = np.array(body["inputs"], np.float32)
        want = built["classify"][0].call("predict_proba", x=x, lengths=np.full(len(x), x.shape[1], np.int32))
        np.testing.assert_allclose(answer.json()["probabilities"], want["probs"], rtol=1e-5, atol=1e-6)


def test_slow_requests_time_out_with_504(built):
    app = create_app(counting(built["forecast"][0], delay=0.5), timeout_s=0.05)
    with TestClient(app) as client:
        r = client.post("/v1/predict", json={"history": [[1.0, 2.0], [3.0, 4.0]]})
    assert r.status_code == 504 and r.json()["detail"] == "no answer within timeout_s = 0.05 s"


def test_input_drift_is_reported_on_metrics(built):
    rng = np.random.default_rng(1)
    profile = ReferenceProfile.from_values(rng.normal(size=(2000, 2)), names=["f0", "f1"])
    app = create_app(built["classify"][0], drift=DriftMonitor(profile, window=400, min_count=100))
    with TestClient(app) as client:
        for _ in range(5):  # f0 as in training, f1 shifted by 3 standard deviations
            x = np.stack([rng.normal(size=(8, 10)), rng.normal(3.0, 1.0, size=(8, 10))], axis=-1)
            assert client.post("/v1/predict", json={"inputs": x.tolist()}).status_code == 200
        assert metric(client, "recurrax_drift_observed_rows") == 400
        assert metric(client, "recurrax_drift_alert", feature="f0") == 0.0
        assert metric(client, "recurrax_drift_alert", feature="f1") == 1.0
        assert metric(client, "recurrax_drift_psi", feature="f1") > 1.0


def test_the_artifacts_drift_profile_is_monitored_by_default(built):
    rng = np.random.default_rng(2)
    app = create_app(built["root"] / "c")  # its drift_profile.json: x0 ~ N(0.5, 2^2), x1 ~ N(-1, 0.5^2)
    with TestClient(app) as client:
        for _ in range(5):  # 400 training-like rows
            x = rng.normal(size=(8, 10, 2)) * [2.0, 0.5] + [0.5, -1.0]
            assert client.post("/v1/predict", json={"inputs": x.tolist()}).status_code == 200
        assert metric(client, "recurrax_drift_observed_rows") == 400
        assert metric(client, "recurrax_drift_psi", feature="x0") < 0.1
        assert metric(client, "recurrax_drift_psi", feature="x1") < 0.1
        assert metric(client, "recurrax_drift_alert", feature="x0") == 0.0
        assert metric(client, "recurrax_drift_alert", feature="x1") == 0.0
        for _ in range(8):  # then 640 rows with x1 shifted by 3 of its standard deviations
            x = rng.normal(size=(8, 10, 2)) * [2.0, 0.5] + [0.5, 0.5]
            assert client.post("/v1/predict", json={"inputs": x.tolist()}).status_code == 200
        assert metric(client, "recurrax_drift_alert", feature="x0") == 0.0
        assert metric(client, "recurrax_drift_alert", feature="x1") == 1.0
    assert create_app(built["root"] / "c", drift=None).state.service.drift is None
    with pytest.raises(ValueError, match="the drift profile has 1 features; the classify model's inputs have 2"):
        create_app(built["classify"][0], drift=DriftMonitor(ReferenceProfile.from_values(np.arange(10.0))))


def test_cli_serve_says_whether_drift_is_monitored(built, monkeypatch, capsys):
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, log_level: None)
    artifact = str(built["root"] / "c")
    assert main(["serve", artifact]) == 0
    assert "input drift monitoring: on, 2 features against the artifact drift profile" in capsys.readouterr().out
    assert main(["serve", artifact, "--no-drift"]) == 0
    assert "input drift monitoring: off" in capsys.readouterr().out
    assert main(["serve", str(built["root"] / "f")]) == 0  # a forecaster exported without a profile
    out = capsys.readouterr().out
    assert "input drift monitoring: off" in out
    banner = "asynchronous (JAX was started before serve)" if jax.config.values[FLAG] else "inline"
    assert f"CPU dispatch: {banner}" in out  # as this process's JAX client was made


def _dispatch_in_a_fresh_process(script: str, **env: str) -> list[str]:
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, **env})  # fmt: skip
    return run.stdout.split()


def test_import_recurrax_makes_cpu_dispatch_inline_before_the_first_computation():
    flag = "jax.config.values['jax_cpu_enable_async_dispatch']"
    imported_first = f"import jax, recurrax; print({flag}); jax.numpy.ones(2).sum().block_until_ready()"
    assert _dispatch_in_a_fresh_process(imported_first) == ["False"]
    computed_first = (
        "import jax; jax.numpy.ones(2).sum().block_until_ready(); import recurrax; "
        f"print({flag}, recurrax.inline_cpu_dispatch(), {flag})"
    )
    assert _dispatch_in_a_fresh_process(computed_first) == ["True", "False", "True"]  # too late: JAX's default
    opted_out = (
        f"import jax, recurrax; print({flag}); from recurrax.serve import inline_cpu_dispatch as inline; "
        f"print(inline(), {flag})"
    )
    assert _dispatch_in_a_fresh_process(opted_out, RECURRAX_ASYNC_DISPATCH="1") == ["True", "True", "False"]


def test_cli_refuses_public_binding_without_a_token(built, monkeypatch, capsys):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("example.org")
    monkeypatch.delenv("RECURRAX_SERVE_TOKEN", raising=False)
    artifact = str(built["root"] / "f")
    assert main(["serve", artifact, "--host", "0.0.0.0"]) == 2
    assert "give --token (or set RECURRAX_SERVE_TOKEN)" in capsys.readouterr().err
    started = {}
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, log_level: started.update(app=app, host=host, port=port))
    monkeypatch.setenv("RECURRAX_SERVE_TOKEN", "s3cret")
    assert main(["serve", artifact, "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert (started["host"], started["port"]) == ("0.0.0.0", 8123)
    with TestClient(started["app"]) as client:
        assert client.post("/v1/predict", json={"history": [[1.0]]}).status_code == 401
