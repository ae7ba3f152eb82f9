"""The generic fused scan (`recurrax.scan._fused_scan`): for every fusable cell, outputs, final carry and every
gradient equal to autodiff of the generic scan (forward, reverse, with lengths and an empty sequence); the
GRU against torch ``nn.GRU`` with copied weights (packed sequences, bidirectional); finite differences; the
dispatch in `RNN`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from helpers import assert_trees_close, randomize
from jax.test_util import check_grads

import recurrax as rx
from recurrax.scan import vendor_kernels
from recurrax.scan._fused_scan import fused_scan, is_fusable

B, T, D, H = 4, 5, 3, 4
# registry name -> constructor options; every cell here must run fused
FUSED_CELLS = {
    "gru": {},
    "gru_nobias": {"bias": False},
    "peephole": {},
    "nig": {},
    "nfg": {},
    "nog": {},
    "niaf": {},
    "noaf": {},
    "cifg": {},
    "rnn_tanh": {},
    "rnn_relu": {},
    "layernorm_lstm": {},
}


def _make(name: str, key):
    options = FUSED_CELLS[name]
    registry = name.removesuffix("_nobias")
    cell = rx.cells.make_cell(registry, D, H, key=key, **options)
    return randomize(cell, jax.random.fold_in(key, 1))


@jax.jit
def _all_paths(cell, xs, carry, lengths, cotangents):
    """Fused and generic, forward in time unmasked, reverse and forward with lengths, in one compilation."""

    def run(fused, reverse, lengths):
        def f(cell, xs, carry):
            return rx.RNN(cell, fused=fused)(xs, lengths, carry, reverse=reverse)

        out, vjp = jax.vjp(f, cell, xs, carry)
        return out, vjp(cotangents)

    settings = ((False, None), (True, lengths), (False, lengths))
    return {(r, m is not None, fused): run(fused, r, m) for r, m in settings for fused in (False, True)}


@pytest.mark.parametrize("name", sorted(FUSED_CELLS))
def test_fused_matches_generic_autodiff(name, key):
    cell = _make(name, key)
    rng = np.random.default_rng(len(name))
    normal = lambda *shape: jnp.asarray(rng.standard_normal(shape), jnp.float32)
    xs = normal(B, T, cell.input_size)
    carry = jax.tree.map(lambda leaf: normal(*leaf.shape), cell.init_carry(B))
    cotangents = (normal(B, T, cell.output_size), jax.tree.map(lambda leaf: normal(*leaf.shape), carry))
    lengths = jnp.array([T, 0, 2, 4], jnp.int32)
    results = _all_paths(cell, xs, carry, lengths, cotangents)
    for (reverse, masked, fused), ((ys, final), grads) in results.items():
        if not fused:
            continue
        (ys_ref, final_ref), grads_ref = results[(reverse, masked, False)]
        what = f"{name} reverse={reverse} lengths={masked}"
        assert_trees_close(ys, ys_ref, rtol=1e-5, atol=1e-6, what=f"{what} outputs")
        assert_trees_close(final, final_ref, rtol=1e-5, atol=1e-6, what=f"{what} final carry")
        assert_trees_close(grads, grads_ref, rtol=1e-5, atol=1e-5, what=f"{what} gradients")
        if masked:
            padded = np.arange(T)[None, :] >= np.asarray(lengths)[:, None]
            assert np.all(np.asarray(ys)[padded] == 0.0)


def _runs_fused_scan(layer, xs, key=None) -> bool:
    """Whether the traced layer call contains a custom VJP (the fused kernels are the only ones)."""
    return "custom_vjp_call" in str(jax.make_jaxpr(lambda x: layer(x, key=key))(xs))


def test_dispatch(key):
    xs = jnp.ones((2, 3, D), jnp.float32)
    for name in FUSED_CELLS:
        cell = _make(name, key)
        assert is_fusable(cell) and _runs_fused_scan(rx.RNN(cell), xs), name
        assert not _runs_fused_scan(rx.RNN(cell, fused=False), xs), name
        assert not _runs_fused_scan(rx.RNN(cell, recurrent_dropout=0.5), xs, key), name
        assert not _runs_fused_scan(rx.RNN(cell, zoneout=0.1), xs), name
    # no fused kernel: Cho's GRU, FGR, LSTMP, MGU, MUT (more than one recurrent matmul); depth-gated (slower)
    for name, options in (("gru_cho", {}), ("fgr", {}), ("lstm", {"proj_size": 2}), ("mgu", {}), ("mut1", {}),
                          ("depth_gated", {})):  # fmt: skip
        cell = rx.cells.make_cell(name, D, D if name == "mut1" else H, key=key, **options)
        with vendor_kernels(False):  # LSTMP runs oneDNN's projection LSTM otherwise (tests/test_onednn.py)
            assert not is_fusable(cell) and not _runs_fused_scan(rx.RNN(cell), xs), name
    with pytest.raises(ValueError, match="no fused path"):
        fused_scan(rx.GRUCell(D, H, key=key, cho=True), jnp.ones((3, 2, 3 * H)), jnp.zeros((2, H)))


@pytest.mark.parametrize("name", ["gru", "peephole", "layernorm_lstm"])
def test_check_grads_float64(name, key):
    """Reverse-mode gradients of `fused_scan` against finite differences, with a sequence that stops early
    and an empty one."""
    with jax.enable_x64(True):
        cell = jax.tree.map(lambda a: a.astype(jnp.float64), _make(name, key))
        xs = jax.random.normal(jax.random.fold_in(key, 2), (3, T, D), jnp.float64)
        valid = jnp.arange(T)[:, None] < jnp.array([T, 2, 0])[None, :]

        def loss(cell, xs):
            carry = cell.init_carry(3, jnp.float64)
            carry = jax.tree.map(lambda c: c + 0.3, carry)
            ys, final = fused_scan(cell, cell.project_input(jnp.swapaxes(xs, 0, 1)), carry, valid)
            return jnp.sum(jnp.sin(ys)) + sum(jnp.sum(f**2) for f in jax.tree.leaves(final))

        check_grads(jax.jit(loss), (cell, xs), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


def test_gru_matches_torch_packed_bidirectional(key):
    """`rx.GRU` (fused) from a torch ``nn.GRU`` with copied weights: padded outputs, ``h_n`` and the gradients
    of a random linear loss w.r.t. every weight and the inputs, on packed sequences, to 1e-5."""
    torch.manual_seed(0)
    module = torch.nn.GRU(D, H, num_layers=2, bidirectional=True, batch_first=True).eval()
    model = rx.interop.from_torch(module)
    assert _runs_fused_scan(model.layers[0].forward, jnp.ones((2, 3, D), jnp.float32))
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((B, T, D)).astype(np.float32)
    lengths = np.array([T, 1, 3, 4])
    w_ys = rng.standard_normal((B, T, 2 * H)).astype(np.float32)
    w_h = rng.standard_normal((4, B, H)).astype(np.float32)

    x_t = torch.tensor(xs, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x_t, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    ys_t, h_t = module(packed)
    ys_t, _ = torch.nn.utils.rnn.pad_packed_sequence(ys_t, batch_first=True, total_length=T)
    ((ys_t * torch.tensor(w_ys)).sum() + (h_t * torch.tensor(w_h)).sum()).backward()

    @jax.jit
    def run(model, xs):
        def loss(model, xs):
            ys, h = model(xs, jnp.asarray(lengths))
            return jnp.sum(ys * w_ys) + jnp.sum(h * w_h), (ys, h)

        return jax.grad(loss, argnums=(0, 1), has_aux=True)(model, xs)

    (g_model, g_xs), (ys, h) = run(model, xs)
    close = lambda a, e, what: np.testing.assert_allclose(np.asarray(a), e, rtol=1e-5, atol=1e-5, err_msg=what)
    close(ys, ys_t.detach().numpy(), "outputs")
    close(h, h_t.detach().numpy(), "h_n")
    close(g_xs, x_t.grad.numpy(), "d xs")
    for name, grad in rx.interop.to_torch(g_model).items():
        close(grad.numpy(), dict(module.named_parameters())[name].grad.numpy(), name)
