"""Parity with ``torch.nn.LSTM`` / ``torch.nn.GRU`` through `recurrax.interop`.

On seeded random configurations (layers, directions, projection, bias, batch, time, sizes, packed lengths,
initial state), a model from `from_torch` gives torch's padded outputs, final state, and gradients with
respect to the inputs, the initial state and every weight, for a fixed random linear loss, to 1e-5 in
float32. `to_torch` round-trips exactly and gives torch modules that compute what the recurrax model does.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import randomize

import recurrax as rx

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN:UserWarning")

ATOL = 1e-5


@dataclasses.dataclass(frozen=True)
class Config:
    kind: str  # "lstm" or "gru"
    num_layers: int
    bidirectional: bool
    proj_size: int
    bias: bool
    packed: bool  # lengths through pack_padded_sequence, else full-length sequences and lengths=None
    initial_state: bool
    batch_first: bool
    batch: int
    steps: int
    input_size: int
    hidden_size: int
    seed: int

    def __str__(self) -> str:
        flags = [
            self.kind, f"L{self.num_layers}", "bi" if self.bidirectional else "uni",
            f"proj{self.proj_size}" if self.proj_size else "", "" if self.bias else "nobias",
            "packed" if self.packed else "full", "h0" if self.initial_state else "",
            f"B{self.batch}", f"T{self.steps}", f"D{self.input_size}", f"H{self.hidden_size}",
        ]  # fmt: skip
        return "-".join(flag for flag in flags if flag)


def _configs(kind: str, count: int, seed: int) -> list[Config]:
    """Seeded random configurations; the structural options follow the bits of the index, so that
    both values of each (and every combination of direction, projection and packing for the LSTM) appear."""
    rng = np.random.default_rng(seed)
    configs = []
    for i in range(count):
        hidden = int(rng.integers(1, 7))
        proj = kind == "lstm" and bool(i & 2)
        configs.append(
            Config(
                kind=kind,
                num_layers=int(rng.integers(1, 4)),
                bidirectional=bool(i & 1),
                proj_size=int(rng.integers(1, hidden)) if proj and hidden > 1 else 0,
                bias=i % 3 != 2,
                packed=not (i & 4) if kind == "lstm" else i % 3 != 0,
                initial_state=i % 4 != 1,
                batch_first=bool(rng.integers(2)),
                batch=int(rng.integers(1, 6)),
                steps=int(rng.integers(1, 10)),
                input_size=int(rng.integers(1, 6)),
                hidden_size=hidden,
                seed=int(rng.integers(2**31)),
            )
        )
    return configs


CONFIGS = _configs("lstm", 12, seed=20240) + _configs("gru", 6, seed=20241)


def _torch_module(config: Config):
    torch.manual_seed(config.seed)
    options = dict(
        num_layers=config.num_layers, bias=config.bias, batch_first=config.batch_first,
        dropout=0.25 if config.num_layers > 1 else 0.0, bidirectional=config.bidirectional,
    )  # fmt: skip
    if config.kind == "lstm":
        return torch.nn.LSTM(config.input_size, config.hidden_size, proj_size=config.proj_size, **options).eval()
    return torch.nn.GRU(config.input_size, config.hidden_size, **options).eval()


def _problem(config: Config) -> dict[str, np.ndarray | None]:
    """Inputs, lengths (``[1, T]``, one full), the initial state and the loss weights, as float32 NumPy."""
    rng = np.random.default_rng(config.seed)
    batch, steps, layers = config.batch, config.steps, config.num_layers * (2 if config.bidirectional else 1)
    out = config.proj_size or config.hidden_size
    lengths = None
    if config.packed:
        lengths = rng.integers(1, steps + 1, batch)
        lengths[rng.integers(batch)] = steps
    state_shapes = [(layers, batch, out)] + ([(layers, batch, config.hidden_size)] if config.kind == "lstm" else [])
    normal = lambda shape: rng.standard_normal(shape).astype(np.float32)
    width = out * (2 if config.bidirectional else 1)
    return dict(
        xs=normal((batch, steps, config.input_size)),
        lengths=lengths,
        state=[normal(s) for s in state_shapes] if config.initial_state else None,
        w_ys=normal((batch, steps, width)),
        w_state=[normal(s) for s in state_shapes],
    )


def _torch_run(module, problem, batch_first: bool) -> dict[str, np.ndarray]:
    """Torch's padded outputs ``[B, T, ...]``, final state and the gradients of the linear loss."""
    xs = torch.tensor(problem["xs"], requires_grad=True)
    inputs = xs if batch_first else xs.transpose(0, 1)
    lengths = problem["lengths"]
    if lengths is not None:
        inputs = torch.nn.utils.rnn.pack_padded_sequence(
            inputs, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
    state = None if problem["state"] is None else [torch.tensor(s, requires_grad=True) for s in problem["state"]]
    hx = None if state is None else (tuple(state) if len(state) == 2 else state[0])
    ys, final = module(inputs, hx)
    if lengths is not None:
        ys, _ = torch.nn.utils.rnn.pad_packed_sequence(ys, batch_first=batch_first, total_length=xs.shape[1])
    ys = ys if batch_first else ys.transpose(0, 1)
    finals = list(final) if isinstance(final, tuple) else [final]
    loss = (ys * torch.tensor(problem["w_ys"])).sum()
    loss = loss + sum((f * torch.tensor(w)).sum() for f, w in zip(finals, problem["w_state"]))
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    grads["xs"] = xs.grad.numpy()
    if state is not None:
        grads.update({f"state{i}": s.grad.numpy() for i, s in enumerate(state)})
    return dict(ys=ys.detach().numpy(), finals=[f.detach().numpy() for f in finals], grads=grads)


@jax.jit
def _jax_run(model, xs, lengths, state, w_ys, w_state):
    """The same loss on the recurrax model, with its outputs, final state and gradients (one compile each)."""

    def loss(model, xs, state):
        ys, final = model(xs, lengths, state)
        finals = list(final) if isinstance(final, tuple) else [final]
        value = jnp.sum(ys * w_ys) + sum(jnp.sum(f * w) for f, w in zip(finals, w_state))
        return value, (ys, finals)

    (_, (ys, finals)), grads = jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(model, xs, state)
    return ys, finals, grads


@pytest.fixture(scope="module", params=CONFIGS, ids=str)
def parity(request):
    """A torch module, its `from_torch` conversion, and both runs of the same problem."""
    config = request.param
    module = _torch_module(config)
    model = rx.interop.from_torch(module)
    problem = _problem(config)
    expected = _torch_run(module, problem, config.batch_first)
    state = None if problem["state"] is None else tuple(problem["state"])
    state = state[0] if state is not None and config.kind == "gru" else state
    ys, finals, (g_model, g_xs, g_state) = _jax_run(
        model, problem["xs"], problem["lengths"], state, problem["w_ys"], problem["w_state"]
    )
    grads = {name: t.numpy() for name, t in rx.interop.to_torch(g_model).items()}
    grads["xs"] = np.asarray(g_xs)
    if g_state is not None:
        grads.update({f"state{i}": np.asarray(g) for i, g in enumerate(jax.tree.leaves(g_state))})
    actual = dict(ys=np.asarray(ys), finals=[np.asarray(f) for f in finals], grads=grads)
    return config, module, model, expected, actual


def _assert_close(actual, expected, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch's {expected.shape}"
    error = float(np.max(np.abs(actual - expected), initial=0.0))
    assert error <= ATOL, f"{what}: max abs error {error:.3g} > {ATOL}"


def test_outputs_match_torch(parity):
    _, _, _, expected, actual = parity
    _assert_close(actual["ys"], expected["ys"], "outputs")


def test_final_state_matches_torch(parity):
    _, _, _, expected, actual = parity
    assert len(actual["finals"]) == len(expected["finals"])
    for name, a, e in zip(("h_n", "c_n"), actual["finals"], expected["finals"]):
        _assert_close(a, e, name)


def test_gradients_match_torch(parity):
    """Gradients w.r.t. the inputs, the initial state (when given) and every parameter."""
    _, _, _, expected, actual = parity
    assert sorted(actual["grads"]) == sorted(expected["grads"])
    for name, e in expected["grads"].items():
        _assert_close(actual["grads"][name], e, f"gradient of {name}")


def test_to_torch_round_trips_exactly(parity):
    config, module, model, _, _ = parity
    state = rx.interop.to_torch(model)
    reference = module.state_dict()
    assert list(state) == list(reference)
    for name, tensor in reference.items():
        assert state[name].dtype == tensor.dtype and torch.equal(state[name], tensor), name
    expected_config = dict(
        input_size=config.input_size, hidden_size=config.hidden_size, num_layers=config.num_layers,
        bias=config.bias, batch_first=True, dropout=module.dropout, bidirectional=config.bidirectional,
        dtype=torch.float32, **({"proj_size": config.proj_size} if config.kind == "lstm" else {}),
    )  # fmt: skip
    assert rx.interop.torch_config(model) == expected_config


@pytest.mark.parametrize(
    "make",
    [
        lambda key: rx.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, key=key),
        lambda key: rx.GRU(2, 4, num_layers=2, bidirectional=True, bias=False, key=key),
    ],
    ids=["lstm", "gru"],
)
def test_torch_module_loading_to_torch_computes_the_same(make, key):
    """A recurrax model built and randomised natively; torch loads its state_dict strictly and agrees."""
    build = eqx.filter_jit(lambda k: randomize(make(jax.random.fold_in(k, 0)), jax.random.fold_in(k, 1)))
    model = build(key)  # one compilation instead of an eager op per initialiser
    config = rx.interop.torch_config(model)
    module = (torch.nn.LSTM if "proj_size" in config else torch.nn.GRU)(**config).eval()
    module.load_state_dict(rx.interop.to_torch(model), strict=True)
    xs = np.asarray(jax.random.normal(jax.random.fold_in(key, 2), (3, 6, model.input_size)), np.float32)
    lengths = np.array([6, 2, 4])
    ys, final = jax.jit(lambda m, x, n: m(x, n))(model, xs, lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(xs), torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    with torch.no_grad():
        expected_ys, expected_final = module(packed)
    expected_ys, _ = torch.nn.utils.rnn.pad_packed_sequence(expected_ys, batch_first=True, total_length=6)
    _assert_close(np.asarray(ys), expected_ys.numpy(), "outputs")
    expected_final = list(expected_final) if isinstance(expected_final, tuple) else [expected_final]
    for a, e in zip(jax.tree.leaves(final), expected_final, strict=True):
        _assert_close(np.asarray(a), e.numpy(), "final state")


def test_float64_parity_with_x64():
    """A float64 torch module converts to float64 parameters and agrees to float64 precision."""
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double().eval()
    xs = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        expected, (h_n, c_n) = module(xs)
    with jax.enable_x64(True):
        model = rx.interop.from_torch(module)
        assert {leaf.dtype for leaf in jax.tree.leaves(model)} == {jnp.dtype(jnp.float64)}
        ys, (h, c) = model(jnp.asarray(xs.numpy()))
        for a, e in ((ys, expected), (h, h_n), (c, c_n)):
            np.testing.assert_allclose(np.asarray(a), e.numpy(), rtol=0, atol=1e-12)
        assert rx.interop.to_torch(model)["weight_hh_l1_reverse"].dtype == torch.float64


def test_float64_without_x64_is_an_error():
    with pytest.raises(ValueError, match="jax_enable_x64"):
        rx.interop.from_torch(torch.nn.GRU(2, 3).double())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_dtypes_round_trip(dtype):
    torch.manual_seed(0)
    module = torch.nn.LSTM(2, 3, proj_size=2).to(getattr(torch, dtype))
    model = rx.interop.from_torch(module)
    assert {leaf.dtype for leaf in jax.tree.leaves(model)} == {jnp.dtype(dtype)}
    state = rx.interop.to_torch(model)
    for name, tensor in module.state_dict().items():
        assert state[name].dtype == tensor.dtype and torch.equal(state[name], tensor), name


def test_from_torch_rejects_other_modules():
    with pytest.raises(TypeError, match="torch.nn.LSTM and torch.nn.GRU"):
        rx.interop.from_torch(torch.nn.RNN(2, 3))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda key: rx.RNNStack(2, 3, cell="peephole", key=key), "peepholes"),
        (lambda key: rx.RNNStack(2, 3, cell="cifg", key=key), "coupled=True"),
        (lambda key: rx.RNNStack(2, 3, cell="rnn", key=key), "LSTMCell or GRUCell"),
        (lambda key: rx.GRU(2, 3, cho=True, key=key), "cho=True"),
        (lambda key: rx.LSTM(2, 3, zoneout=0.1, key=key), "zoneout"),
        (lambda key: rx.LSTMCell(2, 3, key=key), "RNNStack"),
    ],
    ids=["peephole", "cifg", "elman", "gru_cho", "zoneout", "bare_cell"],
)
def test_to_torch_rejects_what_torch_cannot_represent(make, match, key):
    model = eqx.filter_eval_shape(make, key)  # the structure is all to_torch checks
    with pytest.raises((TypeError, ValueError), match=match):
        rx.interop.to_torch(model)


def test_package_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import recurrax; print(recurrax.interop.from_torch.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from_torch"
