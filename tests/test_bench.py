"""``recurrax.bench`` and ``recurrax bench``: the timing helper against a fake clock, the timed recurrax
fwd+bwd against torch's on copied weights (so the benchmark times the same computation), and the command
end to end on a tiny config, its JSON checked against the printed table; bad options fail in one line."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recurrax import bench
from recurrax.bench import _peers, _timing
from recurrax.cli import main
from recurrax.interop import from_torch, to_torch

torch = pytest.importorskip("torch")

TINY = "B2T5D3H4"


class FakeClock:
    """A clock that moves only when a timed call says how long it took."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def taking(self, durations: list[float]):
        """A callable whose n-th call advances the clock by ``durations[n]`` seconds."""
        calls = iter(durations)

        def run() -> None:
            self.now += next(calls)

        return run


def _plan(rounds: int, min_rounds: int, warmup: int, budget_s: float = 1e9) -> bench.Plan:
    return bench.Plan("cpu", False, True, rounds, min_rounds, warmup, budget_s, [], [], [])


def test_measure_returns_the_median_of_the_timed_rounds_after_first_call_and_warmup():
    clock = FakeClock()
    a = bench.Entry("a", "fwd_bwd", run=clock.taking([9.0, 7.0, 0.003, 0.001, 0.002]))  # first, warm-up, 3 rounds
    b = bench.Entry("b", "fwd_bwd", run=clock.taking([5.0, 6.0, 0.010, 0.040, 0.020]))
    bench.measure([a, b], _plan(rounds=3, min_rounds=3, warmup=1), clock=clock)
    assert a.first_s == 9.0 and b.first_s == 5.0
    assert a.times == pytest.approx([0.003, 0.001, 0.002]) and b.times == pytest.approx([0.010, 0.040, 0.020])
    assert a.summary() == pytest.approx({"ms": 2.0, "first_call_s": 9.0, "repeats": 3, "error": None})
    assert b.summary()["ms"] == pytest.approx(20.0)
    assert a.run is None and b.run is None  # compiled functions released


def test_measure_stops_at_the_budget_and_records_failures():
    clock = FakeClock()
    slow = bench.Entry("slow", "fwd", run=clock.taking([1.0, 2.0, 4.0, 8.0]))

    def broken() -> None:
        raise RuntimeError("boom\nsecond line")

    failing = bench.Entry("failing", "fwd", run=broken)
    bench.measure([slow, failing], _plan(rounds=10, min_rounds=2, warmup=0, budget_s=5.0), clock=clock)
    assert slow.times == [2.0, 4.0]  # round 1 took 2 s (< 5 s budget), after round 2 6 s have passed: stop
    assert failing.summary() == {"ms": None, "first_call_s": None, "repeats": 0, "error": "fails: RuntimeError: boom"}


def test_timed_fwd_bwd_of_recurrax_equals_torch_on_copied_weights(seed):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    xs = torch.randn(2, 5, 3)
    torch_fwd_bwd, torch_fwd = bench.torch_pair(lstm, xs)
    torch_loss = torch_fwd_bwd()
    torch_grads = {name: p.grad.numpy() for name, p in lstm.named_parameters()}
    with torch.no_grad():
        torch_ys = lstm(xs)[0].numpy()

    model = from_torch(lstm)
    fwd_bwd, fwd = bench.recurrax_pair(model, jnp.asarray(xs.numpy()))
    loss, grads = fwd_bwd()
    np.testing.assert_allclose(float(loss), float(torch_loss), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(loss), torch_ys.sum(), rtol=1e-5, atol=1e-5)  # loss = sum of the outputs
    np.testing.assert_allclose(np.asarray(fwd()), torch_ys, rtol=1e-5, atol=1e-6)
    assert torch_fwd() is None
    grad_model = eqx.combine(grads, eqx.partition(model, eqx.is_inexact_array)[1])
    ours = {name: value.numpy() for name, value in to_torch(grad_model).items()}
    assert ours.keys() == torch_grads.keys()
    for name, expected in torch_grads.items():
        np.testing.assert_allclose(ours[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_missing_peer_package_is_not_available_not_an_error(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "flax", None)  # import flax raises ImportError
    cfg = bench.parse_config(TINY)
    entries = _timing.entries_for("flax", lambda: _peers.build_flax(cfg, jax.random.key(0)))
    assert [e.error for e in entries] == ["n/a: flax is not installed (pip install 'recurrax[bench]')"] * 2


def test_plan_resolves_configs_peers_and_repeats():
    plan = bench.make_plan("cpu", True, 1, configs=["c1", TINY + "L2"], peers=["equinox", "torch"], cells=False)
    assert [c.label for c in plan.configs] == ["c1 B4 T12 D8 H16", "custom B2 T5 D3 H4, 2 layers"]
    assert plan.impls == ["torch", "equinox", "recurrax", "recurrax_xla", "recurrax_bf16", "recurrax_generic"]
    assert (plan.rounds, plan.min_rounds, plan.variant_configs, plan.compile_steps) == (1, 1, [], (100, 1000))
    full = bench.make_plan("cpu")
    assert [c.key for c in full.configs] == ["c1", "c2", "c3"] and full.rounds == 10
    assert bench.parse_config("g1-bfloat16") == bench.GPU_CONFIGS[4]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """``recurrax bench --quick`` on B2 T5 D3 H4 against torch, one round: exit code, JSON, stdout, stderr."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    printed, progress = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(printed), redirect_stderr(progress):
        for name in ("OMP_WAIT_POLICY", "XLA_PYTHON_CLIENT_PREALLOCATE"):
            patch.delenv(name, raising=False)  # restored after: bench sets one for JAX
        code = main(["bench", "--quick", "--configs", TINY, "--peers", "torch", "--repeats", "1", "--no-cells",
                     "--no-first-call", "--out", str(out)])  # fmt: skip
    return code, json.loads(out.read_text()), printed.getvalue(), progress.getvalue()


def test_cli_writes_json_with_every_timing(tiny_run):
    code, report, _, progress = tiny_run
    assert code == 0
    assert set(report) == {"device", "on_gpu", "quick", "machine", "results", "variants", "compile", "elapsed_s",
                           "configs"}  # fmt: skip
    assert (report["device"], report["quick"], report["variants"], report["compile"]) == ("cpu", True, {}, {})
    assert report["configs"] == [{"name": "custom", "batch": 2, "steps": 5, "inputs": 3, "hidden": 4, "layers": 1,
                                  "dtype": "float32", "label": "custom B2 T5 D3 H4"}]  # fmt: skip
    row = report["results"]["custom B2 T5 D3 H4"]
    assert set(row) == {"torch", "recurrax", "recurrax_xla", "recurrax_bf16", "recurrax_generic"}
    for name, impl in row.items():
        for mode in ("fwd_bwd", "fwd"):
            assert impl[mode]["error"] is None and impl[mode]["repeats"] == (2 if name == "torch" else 1)
            assert impl[mode]["ms"] > 0 and impl[mode]["first_call_s"] > 0
    for mode in ("fwd_bwd", "fwd"):  # torch timed before and after the JAX rows, its time their mean
        before, after = row["torch"][mode]["ms_runs"]
        assert row["torch"][mode]["ms"] == pytest.approx((before + after) / 2) and before > 0 and after > 0
    assert {"cpu", "cores", "jax", "torch", "flax", "equinox", "recurrax", "env"} <= set(report["machine"])
    assert "JAX implementations at custom B2 T5 D3 H4" in progress
    assert "torch, every config, in its own process (before the JAX rows)" in progress
    assert progress.index("(before the JAX rows)") < progress.index("JAX implementations") < progress.index("(after")
    assert not jax.config.values["jax_disable_most_optimizations"]  # --quick's setting is undone


def test_cli_prints_the_ratios_of_the_json(tiny_run):
    _, report, printed, _ = tiny_run
    row = report["results"]["custom B2 T5 D3 H4"]
    ref = row["torch"]["fwd_bwd"]["ms"]
    line = next(line for line in printed.splitlines() if line.strip().startswith("recurrax  "))
    ms = row["recurrax"]["fwd_bwd"]["ms"]
    assert line.split()[1:3] == [f"{ms:.2f}", f"{ref / ms:.2f}x"]  # x = torch time / recurrax time
    before, after = (f"{ms:.2f}" for ms in row["torch"]["fwd_bwd"]["ms_runs"])
    note = f"torch before / after the JAX rows (ms; its time above is their mean): fwd+bwd {before} / {after}"
    assert note in printed
    assert "recurrax cells" not in printed and "first call (compile" not in printed  # --no-cells, --no-first-call
    assert printed.rstrip().splitlines()[-1].startswith("wrote ") and printed.rstrip().endswith("results.json")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--configs", "c1,c9"], "unknown config 'c9'"),
        (["--configs", "B0T5D3H4"], "every size must be at least 1"),
        (["--peers", "torch,mxnet"], "unknown peer 'mxnet'"),
        (["--repeats", "-1"], "Invalid value for '--repeats'"),
        (["--device", "tpu"], "Invalid value for '--device'"),
    ],
)
def test_cli_bad_options_fail_in_one_line(args, message, capsys):
    code = main(["bench", *args])
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(bench._configs.gpu_available(), reason="needs a machine without a GPU")
def test_cli_gpu_without_gpu_fails_unless_quick(capsys):
    assert main(["bench", "--device", "gpu"]) == 1
    assert "--device gpu: JAX sees no GPU" in capsys.readouterr().err
