"""What is specific to the GRU, Elman RNN, MGU and MUT cells (the generic scan == loop == NumPy checks live in
tests/test_cells.py): registry names, argument errors, the two GRU forms, torch parity of the GRU and Elman
cells, the recurrent dropout mask against the NumPy references, and dtype kept through a step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from cell_cases import CELL_CASES
from helpers import assert_trees_close, randomize, to_numpy
from numpy_reference import REFERENCES

import recurrax as rx

B, T = 2, 5
FAMILY_CASES = ("gru", "gru_nobias", "gru_cho", "rnn_tanh", "rnn_relu", "mgu", "mut1", "mut2", "mut3")


@pytest.mark.parametrize(
    "name, cls, attrs",
    [
        ("gru", rx.GRUCell, {"cho": False}),
        ("gru_cho", rx.GRUCell, {"cho": True}),
        ("rnn", rx.RNNCell, {"nonlinearity": "tanh"}),
        ("rnn_tanh", rx.RNNCell, {"nonlinearity": "tanh"}),
        ("rnn_relu", rx.RNNCell, {"nonlinearity": "relu"}),
        ("mgu", rx.MGUCell, {}),
        ("mut1", rx.MUT1Cell, {}),
        ("mut2", rx.MUT2Cell, {}),
        ("mut3", rx.MUT3Cell, {}),
    ],
)
def test_registry_names_build_the_right_cell(name, cls, attrs, key):
    cell = rx.cells.make_cell(name, 4, 4, key=key, layer=1, num_layers=2)
    assert type(cell) is cls
    for attr, value in attrs.items():
        assert getattr(cell, attr) == value


@pytest.mark.parametrize("cls", [rx.MUT1Cell, rx.MUT2Cell])
def test_mut1_mut2_embed_an_input_of_another_size(cls, key):
    """D == H: the paper's cell, no embedding; D != H: ``W_e`` [H, D], the other weights drawn as before."""
    square = cls(4, 4, key=key)
    assert square.weight_embed is None
    cell = cls(3, 4, key=key)
    assert cell.weight_embed.shape == (4, 3) and cell.weight_hh.shape == (4, 4)
    np.testing.assert_array_equal(cell.weight_hh, square.weight_hh)
    stack = rx.RNNStack(3, 4, num_layers=2, cell=cls.__name__[:4].lower(), key=key)
    ys, _ = stack(jnp.ones((2, 5, 3)))
    assert ys.shape == (2, 5, 4) and stack.layers[1].cell.weight_embed is None


def test_mut3_takes_any_input_size(key):
    cell = rx.MUT3Cell(3, 4, key=key)
    assert cell.weight_ih.shape == (12, 3) and cell.weight_hh_gates.shape == (8, 4)


def test_unknown_nonlinearity_names_the_options(key):
    with pytest.raises(ValueError, match=r"'tanh', 'relu'.*'sigmoid'"):
        rx.RNNCell(3, 4, key=key, nonlinearity="sigmoid")


def test_gru_forms_differ_on_the_same_weights(key):
    """cuDNN form (reset after the matmul) and Cho form (reset before it) are different functions."""
    k_cell, k_rand, k_x = jax.random.split(key, 3)
    default = randomize(rx.GRUCell(3, 4, key=k_cell), k_rand)
    cho = randomize(rx.GRUCell(3, 4, key=k_cell, cho=True), k_rand)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_array_equal(getattr(default, name), getattr(cho, name))
    xs = jax.random.normal(k_x, (B, T, 3))
    ys_default, _ = rx.RNN(default)(xs)
    ys_cho, _ = rx.RNN(cho)(xs)
    assert np.max(np.abs(np.asarray(ys_default) - np.asarray(ys_cho))) > 1e-2


@pytest.mark.parametrize("cho", [False, True], ids=["cudnn", "cho"])
def test_gru_stack_builds_both_forms(cho, key):
    """`rx.GRU` passes ``bias`` and ``cho`` through to every layer's `GRUCell`; ``h_n`` is the last output."""
    model = rx.GRU(3, 4, num_layers=2, key=key, cho=cho)
    assert all(type(layer.cell) is rx.GRUCell and layer.cell.cho is cho for layer in model.layers)
    ys, h_n = model(jax.random.normal(key, (B, T, 3)))
    assert_trees_close(h_n[-1], ys[:, -1], rtol=0, atol=0, what="h_n of the last layer")


def _torch_step(torch_cell, jax_cell, xs):
    """Copy the torch-named parameters into ``torch_cell`` and run it over ``xs``; returns ``[B, T, H]``."""
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(torch_cell, name).copy_(torch.from_numpy(np.asarray(getattr(jax_cell, name), np.float64)))
    h = torch.zeros(xs.shape[0], jax_cell.hidden_size, dtype=torch.float64)
    outputs = []
    for t in range(xs.shape[1]):
        h = torch_cell(torch.from_numpy(np.asarray(xs[:, t], np.float64)), h)
        outputs.append(h.detach().numpy())
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize(
    "make_jax, make_torch",
    [
        (lambda k: rx.GRUCell(3, 4, key=k), lambda: torch.nn.GRUCell(3, 4, dtype=torch.float64)),
        (
            lambda k: rx.RNNCell(3, 4, key=k, nonlinearity="tanh"),
            lambda: torch.nn.RNNCell(3, 4, nonlinearity="tanh", dtype=torch.float64),
        ),
        (
            lambda k: rx.RNNCell(3, 4, key=k, nonlinearity="relu"),
            lambda: torch.nn.RNNCell(3, 4, nonlinearity="relu", dtype=torch.float64),
        ),
    ],
    ids=["gru", "rnn_tanh", "rnn_relu"],
)
def test_matches_torch_cell_with_copied_weights(make_jax, make_torch, key):
    k_cell, k_rand, k_x = jax.random.split(key, 3)
    cell = randomize(make_jax(k_cell), k_rand)
    xs = jax.random.normal(k_x, (B, T, 3))
    ys, _ = rx.RNN(cell)(xs)
    assert_trees_close(ys, _torch_step(make_torch(), cell, xs), what="outputs against torch")


@pytest.mark.parametrize("case", FAMILY_CASES)
def test_recurrent_mask_matches_reference(case, key):
    """The mask multiplies h_{t-1} where it enters the recurrent matmuls, not in the final blend."""
    input_size, make = CELL_CASES[case]
    k_cell, k_rand, k_x, k_h, k_mask = jax.random.split(key, 5)
    cell = randomize(make(k_cell), k_rand)
    x = jax.random.normal(k_x, (B, input_size))
    h = jax.random.normal(k_h, (B, cell.hidden_size))
    mask = 2.0 * jax.random.bernoulli(k_mask, 0.5, (B, cell.hidden_size)).astype(jnp.float32)
    h_new, y = cell.step(h, cell.project_input(x), mask)
    expected_h, expected_y = REFERENCES[type(cell)](cell, *to_numpy((h, x)), recurrent_mask=to_numpy(mask))
    assert_trees_close((h_new, y), (expected_h, expected_y), what="masked step")
    unmasked, _ = cell.step(h, cell.project_input(x))
    assert np.max(np.abs(np.asarray(h_new) - np.asarray(unmasked))) > 1e-3


@pytest.mark.parametrize("case", FAMILY_CASES)
def test_bfloat16_is_kept_through_a_step(case, key):
    input_size, _ = CELL_CASES[case]
    name, options = ("gru", {"bias": False}) if case == "gru_nobias" else (case, {})
    cell = rx.cells.make_cell(name, input_size, 4, key=key, dtype=jnp.bfloat16, **options)
    carry, y = cell(cell.init_carry(B), jnp.ones((B, input_size), jnp.bfloat16))
    assert carry.dtype == y.dtype == jnp.bfloat16
