"""One inference per task: every registered task with an ``inference``, over a grid of its options (cells,
stride, heads, scalers, ensembles, covariates, levels, kinds), gives the same numbers through the library's own
predict, the exported StableHLO artifact, its ONNX file (one case of each task that offers ONNX) and the HTTP
service; a task without ONNX refuses it.

The oracle is the library path: what a user of `predict_classifier`, `forecast.predict`, `score_series`,
`predict_ctc`, `translate`, `policy_step` or the language model itself gets. Untrained weights are as good as trained ones for this comparison.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np
import pytest
from fastapi.testclient import TestClient

from recurrax.config import to_dict
from recurrax.serve import create_app, export_run, load_artifact
from recurrax.tasks import anomaly as A
from recurrax.tasks import classify as C
from recurrax.tasks import forecast as F
from recurrax.tasks import ctc, lm, rl, seq2seq, task_names
from recurrax.train import save_checkpoint

TOL = {"rtol": 2e-5, "atol": 2e-5}
ONNX_TOL = {"rtol": 1e-4, "atol": 1e-4}
RNG = np.random.default_rng(11)


@dataclasses.dataclass
class Case:
    """A saved run, the function its artifact runs on ``inputs``, the library's ``expected`` outputs, the HTTP
    ``request`` body and ``answer(json) -> outputs`` reading the service's reply; ``onnx`` exports ONNX too."""

    run: Path
    function: str
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    request: dict[str, Any]
    answer: Callable[[dict[str, Any]], dict[str, np.ndarray]]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    onnx: bool = False
    view: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None  # the artifact's outputs as expected
    session: Callable[[TestClient], None] | None = None  # more checks through the service's sessions


def _save(root: Path, name: str, model: Any, meta: dict[str, Any]) -> Path:
    save_checkpoint(root / name / "checkpoints" / "best", model, {"data_fingerprint": "f" * 64, **meta})
    return root / name


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    return np.stack([_softmax(row) for row in z])


def _ragged(x: np.ndarray, lengths: np.ndarray) -> list:
    return [x[i, :n].tolist() for i, n in enumerate(lengths)]


CLASSIFY = {  # cell, bidirectional, pooling, stride, ensemble, input_norm
    "lstm_last": ("lstm", False, "last", 1, 1, "none"),
    "gru_bi_attention_stride2": ("gru", True, "attention", 2, 1, "none"),
    "ensemble_mean_stride3": ("lstm", False, "mean", 3, 2, "series"),
}


def classify_case(root: Path, name: str) -> Case:
    cell, bidirectional, pooling, stride, ensemble, norm = CLASSIFY[name]
    model_cfg = C.ModelConfig(cell=cell, hidden_size=6, bidirectional=bidirectional, pooling=pooling,
                              attention_size=4, ensemble=ensemble, input_norm=norm)  # fmt: skip
    cfg = C.ClassifyConfig(model=model_cfg, data=C.DataConfig(stride=stride))
    model = C.build_model(cfg.model, 3, 4, key=jax.random.key(1))
    meta = {"task": "classify", "config": to_dict(cfg), "classes": list("abcd"), "input_size": 3,
            "scaler": {"mean": [1.0, -2.0, 0.5], "std": [2.0, 0.5, 1.0]}}  # fmt: skip
    run = _save(root, name, model, meta)
    x = RNG.normal(size=(4, 9, 3)).astype(np.float32) * 2
    lengths = np.array([9, 1, 5, 8], np.int32)
    _, probs = C.predict_classifier(run, x, lengths)
    return Case(run, "predict_proba", {"x": x, "lengths": lengths}, {"probs": probs},
                {"inputs": _ragged(x, lengths)}, lambda body: {"probs": np.array(body["probabilities"])})  # fmt: skip


FORECAST = {  # kind, head, scaler, scope, ensemble, covariates, levels
    "direct_point_meanabs": ("direct", "point", "meanabs", "window", 1, False, None),
    "recursive_gaussian_robust": ("recursive", "gaussian", "robust", "window", 1, False, (0.1, 0.5, 0.9)),
    "quantile_series_ensemble": ("direct", "quantile", "standard", "series", 3, False, (0.2, 0.5, 0.8)),
    "student_t_last": ("direct", "student_t", "last", "window", 1, False, (0.25, 0.75)),
    "seq2seq_covariates": ("seq2seq", "gaussian", "standard", "window", 1, True, None),
}


def forecast_case(root: Path, name: str) -> Case:
    kind, head, scaler, scope, ensemble, covariates, levels = FORECAST[name]
    extra = {"exogenous": ("price",), "static": ("size",)} if covariates else {}
    data = F.DataConfig(input_size=8, horizon=3, scaler=scaler, scale_scope=scope, **extra)
    cfg = F.ForecastConfig(model=F.ModelConfig(hidden_size=5, kind=kind, head=head, ensemble=ensemble), data=data)
    channels = len(cfg.data.covariate_names)
    model = F.build_model(cfg.model, 3, key=jax.random.key(2), covariates=channels)
    sizes = (3, 7, 12, 15, 5)
    values = [RNG.normal(size=n) * 3 + 10 for n in sizes]
    fitted = F.Scaler.fit(values, scaler) if scope == "series" else None
    covariate_scaler = F.CovariateScaler(np.array([50.0, 1000.0]), np.array([10.0, 300.0])) if channels else None
    meta = {"task": "forecast", "config": to_dict(cfg), "scaler": fitted and fitted.to_json(),
            "covariate_scaler": covariate_scaler and covariate_scaler.to_json()}  # fmt: skip
    run = _save(root, name, model, meta)
    wanted = levels or (tuple(model.quantiles) if head != "point" else None)
    lengths = np.array(sizes, np.int32)
    history = np.zeros((len(sizes), max(sizes)), np.float32)
    for i, v in enumerate(values):
        history[i, : len(v)] = v
    inputs: dict[str, np.ndarray] = {"history": history, "lengths": lengths}
    request: dict[str, Any] = {"history": [v.tolist() for v in values]}
    given: dict[str, Any] = {}
    if fitted is not None:
        inputs["series"] = np.arange(len(sizes), dtype=np.int32)
        request["series"] = list(range(len(sizes)))
    if channels:
        past = [np.stack([RNG.normal(size=n) * 10 + 50, np.full(n, 900.0 + 50 * i)], -1) for i, n in enumerate(sizes)]
        future = np.stack([np.stack([RNG.normal(size=3) * 10 + 50, np.full(3, 900.0 + 50 * i)], -1)
                           for i in range(len(sizes))]).astype(np.float32)  # fmt: skip
        padded = np.zeros((len(sizes), max(sizes), channels), np.float32)
        for i, p in enumerate(past):
            padded[i, : len(p)] = p
        inputs |= {"past": padded, "future": future}
        request |= {"past": [p.tolist() for p in past], "future": future.tolist()}
        given = {"covariates": past, "future": future, "covariate_scaler": covariate_scaler}
    forecast = F.predict(model, cfg, values, scaler=fitted, levels=wanted, **given)
    expected = {"mean": forecast.mean}
    if wanted:
        expected["quantiles"] = forecast.quantiles

    def answer(body: dict[str, Any]) -> dict[str, np.ndarray]:
        out = {"mean": np.array(body["mean"])}
        if body["quantiles"] is not None:
            out["quantiles"] = np.array(body["quantiles"])
        return out

    options = {"levels": levels} if levels else {}
    return Case(run, "forecast", inputs, expected, request, answer, options, onnx=name == "direct_point_meanabs")


ANOMALY = {"prediction_lstm": ("prediction", "lstm", 1), "nll_gru_2_layers": ("nll", "gru", 2)}


def anomaly_case(root: Path, name: str) -> Case:
    kind, cell, layers = ANOMALY[name]
    cfg = A.ScorerConfig(kind=kind, cell=cell, hidden_size=5, num_layers=layers, window=3)
    train = RNG.normal(size=(40, 2)) * [3.0, 0.5] + [5.0, -1.0]
    network = A._scorers.build_network(cfg, 2, key=jax.random.key(3))
    scorer = A.Scorer(network, train.mean(axis=0), train.std(axis=0), cfg)
    A.save_scorer(scorer, cfg, root / name / "checkpoints" / "best")
    lengths = np.array([12, 4, 7], np.int32)
    values = (RNG.normal(size=(3, 12, 2)) * [3.0, 0.5] + [5.0, -1.0]).astype(np.float32)
    expected = np.full((3, 12), np.nan)
    for i, n in enumerate(lengths):
        expected[i, :n] = A.score_series(scorer, values[i, :n])

    def answer(body: dict[str, Any]) -> dict[str, np.ndarray]:
        scores = np.full((3, 12), np.nan)
        for i, row in enumerate(body["scores"]):
            scores[i, : len(row)] = [np.nan if s is None else s for s in row]
        return {"scores": scores}

    return Case(root / name, "score", {"values": values, "lengths": lengths}, {"scores": expected},
                {"values": _ragged(values, lengths)}, answer)  # fmt: skip


LM = {"lstm_2_layers": ("lstm", 2), "gru": ("gru", 1)}


def lm_case(root: Path, name: str) -> Case:
    cell, layers = LM[name]
    cfg = lm.LMConfig(model=lm.ModelConfig(cell=cell, embed_size=6, hidden_size=8, num_layers=layers))
    tokenizer = lm.CharTokenizer.fit("hello world")
    model = lm.build_model(cfg.model, len(tokenizer), key=jax.random.key(4))
    run = _save(root, name, model, {"task": "lm", "config": to_dict(cfg), "tokenizer": tokenizer.to_json()})
    tokens = np.array([int(t) for t in tokenizer.encode("hel")], np.int32)
    logits, _ = lm.load_lm(run).model(tokens[None])  # the library: the whole prompt at once
    probs = _softmax(np.asarray(logits[0, -1], np.float64))
    return Case(run, "step", {"tokens": tokens}, {"probs": probs},
                {"text": "hel", "max_tokens": 0, "return_probabilities": True},
                lambda body: {"probs": np.array(body["probabilities"])}, onnx=name == "gru")  # fmt: skip


CTC = {"bilstm": ("lstm", True, 1)}


def ctc_case(root: Path, name: str) -> Case:
    cell, bidirectional, layers = CTC[name]
    cfg = ctc.CTCConfig(model=ctc.ModelConfig(cell=cell, hidden_size=6, num_layers=layers, bidirectional=bidirectional),
                        data=ctc.DataConfig(height=5))  # fmt: skip
    model = ctc.build_model(cfg.model, 5, key=jax.random.key(5))
    run = _save(root, name, model, {"task": "ctc", "config": to_dict(cfg), "alphabet": ctc.ALPHABET, "input_size": 5})
    lengths = np.array([9, 3, 6], np.int32)
    lines = [RNG.integers(0, 256, size=(n, 5)).astype(np.uint8) for n in lengths]
    columns = np.zeros((3, 9, 5), np.float32)
    for row, line in enumerate(lines):
        columns[row, : len(line)] = line
    log_probs, _ = ctc.frame_log_probs(ctc.load_ctc(run).model, lines, None, 4, 8)  # the library's chunks
    texts = ctc.predict_ctc(run, lines, columns=True, decode_cfg=ctc.DecodeConfig(method="greedy"))

    def padded(rows: list) -> np.ndarray:
        out = np.zeros((3, 9, len(ctc.ALPHABET) + 1))
        for row, values in enumerate(rows):
            out[row, : len(values)] = values
        return out

    def view(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        labels = [ctc.collapse(out["labels"][row, :n]) for row, n in enumerate(lengths)]
        assert [ctc.decode(path) for path in labels] == texts  # the function's greedy labels decode as predict_ctc
        return {"log_probs": padded([out["log_probs"][row, :n] for row, n in enumerate(lengths)])}

    def answer(body: dict[str, Any]) -> dict[str, np.ndarray]:
        assert body["texts"] == texts and body["frames"] == lengths.tolist()
        return {"log_probs": padded(body["log_probs"])}

    return Case(run, "recognize", {"columns": columns, "lengths": lengths}, {"log_probs": padded(log_probs)},
                {"columns": [line.tolist() for line in lines], "return_log_probs": True}, answer, view=view)  # fmt: skip


SEQ2SEQ = {"additive": "additive"}


def seq2seq_case(root: Path, name: str) -> Case:
    numbers = [3, 17, 42, 99, 160]
    source = seq2seq.Vocab.build([seq2seq.english(n) for n in numbers])
    target = seq2seq.Vocab.build([seq2seq.french(n) for n in numbers])
    cfg = seq2seq.Seq2SeqConfig(model=seq2seq.ModelConfig(attention=SEQ2SEQ[name], embed_size=4, hidden_size=6))
    model = seq2seq.build_model(cfg.model, len(source), len(target), key=jax.random.key(6))
    meta = {"task": "seq2seq", "config": to_dict(cfg), "source_vocab": list(source.tokens),
            "target_vocab": list(target.tokens), "lengths": [6, 7]}  # fmt: skip
    run = _save(root, name, model, meta)
    sentences = [seq2seq.english(n) for n in numbers[:3]]
    ids = [source.encode(s) for s in sentences]
    src = np.zeros((3, max(map(len, ids))), np.int32)
    for row, sentence in enumerate(ids):
        src[row, : len(sentence)] = sentence
    lengths = np.array([len(i) for i in ids], np.int32)
    translations = seq2seq.translate(run, sentences)  # the library

    def words(rows: list[list[str]]) -> np.ndarray:
        out = np.full((3, 8), -1)
        for row, tokens in enumerate(rows):
            out[row, : len(tokens)] = target.ids(tokens)
        return out

    def view(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"words": words([target.words(row.tolist()) for row in out["tokens"]])}

    def answer(body: dict[str, Any]) -> dict[str, np.ndarray]:
        assert body["translations"] == translations
        return {"words": words(body["tokens"])}

    expected = words([seq2seq.tokenize(t) for t in translations])
    return Case(run, "translate", {"src": src, "src_lengths": lengths}, {"words": expected},
                {"sentences": sentences}, answer, view=view)  # fmt: skip


RL = {"gru_2_layers": ("gru", 2)}


def rl_case(root: Path, name: str) -> Case:
    cell, layers = RL[name]
    cfg = rl.RLConfig(model=rl.PolicyConfig(cell=cell, hidden_size=6, num_layers=layers, head_size=5))
    env = rl.make_jax_env(cfg.env)
    policy = rl.build_policy(cfg.model, env.obs_size, env.num_actions, key=jax.random.key(7))
    params = jax.tree.map(lambda leaf: leaf[None], eqx.filter(policy, eqx.is_inexact_array))  # one seed
    meta = {"task": "rl", "config": to_dict(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seeds=1))),
            "obs_size": env.obs_size, "num_actions": env.num_actions}  # fmt: skip
    run = _save(root, name, params, meta)
    lengths = np.array([5, 2], np.int32)
    obs = RNG.normal(size=(2, 5, env.obs_size)).astype(np.float32)
    starts = np.zeros((5, 2), bool)
    starts[0] = True
    _, logits, values = rl.load(run).policy(0)(policy.initial_carry(2), np.swapaxes(obs, 0, 1), starts)
    probs = np.asarray(jax.nn.softmax(np.swapaxes(np.asarray(logits, np.float64), 0, 1)))
    values = np.swapaxes(np.asarray(values), 0, 1)
    mask = np.arange(5)[None, :, None] < lengths[:, None, None]

    def answer(body: dict[str, Any]) -> dict[str, np.ndarray]:
        out = {"probs": np.zeros((2, 5, env.num_actions)), "values": np.zeros((2, 5))}
        for row, n in enumerate(lengths):
            out["probs"][row, :n], out["values"][row, :n] = body["probabilities"][row], body["values"][row]
        return out

    def view(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"probs": np.where(mask, out["probs"], 0), "values": np.where(mask[..., 0], out["values"], 0)}

    def session(client: TestClient) -> None:  # episode 0 stepped by an agent, one observation per request
        agent = client.post("/v1/sessions").json()["id"]
        for t in range(lengths[0]):
            reply = client.post(f"/v1/sessions/{agent}/step", json={"observation": obs[0, t].tolist()}).json()
            np.testing.assert_allclose(reply["probabilities"], probs[0, t], **TOL)
            assert reply["action"] == int(np.argmax(probs[0, t])) and reply["steps"] == t + 1

    expected = {"probs": np.where(mask, probs, 0), "values": np.where(mask[..., 0], values, 0)}
    return Case(run, "act", {"obs": obs, "lengths": lengths}, expected,
                {"episodes": _ragged(obs, lengths)}, answer, view=view, session=session)  # fmt: skip


BUILDERS = {"classify": (classify_case, CLASSIFY), "forecast": (forecast_case, FORECAST),
            "anomaly": (anomaly_case, ANOMALY), "lm": (lm_case, LM), "ctc": (ctc_case, CTC),
            "seq2seq": (seq2seq_case, SEQ2SEQ), "rl": (rl_case, RL)}  # fmt: skip
GRID = [(task, name) for task, (_, names) in BUILDERS.items() for name in names]


def test_every_exportable_task_has_conformance_cases():
    assert sorted(task_names("inference")) == sorted(BUILDERS)
    assert sorted(task_names("serving")) == sorted(BUILDERS)


def test_a_memoryless_policy_is_not_exported(tmp_path):
    cfg = rl.RLConfig(model=rl.PolicyConfig(cell="mlp", hidden_size=4, num_layers=1, head_size=3))
    env = rl.make_jax_env(cfg.env)
    policy = rl.build_policy(cfg.model, env.obs_size, env.num_actions, key=jax.random.key(0))
    params = jax.tree.map(lambda leaf: leaf[None], eqx.filter(policy, eqx.is_inexact_array))
    meta = {"task": "rl", "config": to_dict(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seeds=1))),
            "obs_size": env.obs_size, "num_actions": env.num_actions}  # fmt: skip
    with pytest.raises(ValueError, match="an MLP policy keeps no state"):
        export_run(_save(tmp_path, "mlp", params, meta), tmp_path / "artifact")


def test_onnx_is_refused_for_a_task_that_does_not_offer_it(tmp_path):
    case = classify_case(tmp_path, "lstm_last")
    with pytest.raises(ValueError, match="ONNX export is not offered for a classify run"):
        export_run(case.run, tmp_path / "artifact", onnx=True)


def _artifact_outputs(case: Case, art: Any) -> dict[str, np.ndarray]:
    """The artifact's outputs named as ``case.expected``: a language model's prompt is stepped token by token, a
    policy's episodes observation by observation; ``case.view`` reads them."""
    if case.function == "act":
        state, steps = art.init_state(len(case.inputs["obs"])), []
        for t in range(case.inputs["obs"].shape[1]):
            start = np.full(len(case.inputs["obs"]), int(t == 0), np.int32)
            out = art.call("act", obs=case.inputs["obs"][:, t], start=start, **state)
            state = {k: out[k] for k in state}
            steps.append(out)
        probs = np.stack([_softmax_rows(out["logits"].astype(np.float64)) for out in steps], axis=1)
        return case.view({"probs": probs, "values": np.stack([out["value"] for out in steps], axis=1)})
    if case.function != "step":
        out = art.call(case.function, **case.inputs)
        return case.view(out) if case.view is not None else out
    state = art.init_state(1)
    for token in case.inputs["tokens"]:
        out = art.call("step", tokens=np.array([token], np.int32), **state)
        state = {k: out[k] for k in state}
    return {"probs": _softmax(out["logits"][0].astype(np.float64))}


def _onnx_outputs(case: Case, path: Path) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path / f"{case.function}.onnx"), options)
    names = [o.name for o in session.get_outputs()]
    if case.function != "step":
        return dict(zip(names, session.run(None, case.inputs)))
    art = load_artifact(path)
    state = art.init_state(1)
    for token in case.inputs["tokens"]:
        out = dict(zip(names, session.run(None, {"tokens": np.array([token], np.int32), **state})))
        state = {k: out[f"{k}_out"] for k in state}
    return {"probs": _softmax(out["logits"][0].astype(np.float64))}


def _http_outputs(case: Case, path: Path) -> dict[str, np.ndarray]:
    with TestClient(create_app(path, max_batch=8)) as client:
        if case.function == "step":
            session = client.post("/v1/sessions").json()["id"]
            reply = client.post(f"/v1/sessions/{session}/step", json=case.request)
        else:
            reply = client.post("/v1/predict", json=case.request)
        if case.session is not None:
            case.session(client)
    assert reply.status_code == 200, reply.text
    return case.answer(reply.json())


@pytest.mark.parametrize(("task", "name"), GRID, ids=[f"{t}-{n}" for t, n in GRID])
def test_library_artifact_onnx_and_http_give_the_same_numbers(task, name, tmp_path):
    builder, _ = BUILDERS[task]
    case = builder(tmp_path, name)
    sequences = [v for k, v in case.inputs.items() if k in ("x", "history", "values")]
    onnx = {"onnx": True, "onnx_steps": sequences[0].shape[1] if sequences else None} if case.onnx else {}
    path = export_run(case.run, tmp_path / "artifact", **case.options, **onnx)
    assert load_artifact(path).task == task
    routes = {"artifact": _artifact_outputs(case, load_artifact(path)), "http": _http_outputs(case, path)}
    if case.onnx:
        routes["onnx"] = _onnx_outputs(case, path)
    for route, outputs in routes.items():
        assert sorted(outputs) == sorted(case.expected), route
        for key, expected in case.expected.items():
            tolerance = ONNX_TOL if route == "onnx" else TOL
            np.testing.assert_allclose(outputs[key], expected, **tolerance, err_msg=f"{route} {key}")
