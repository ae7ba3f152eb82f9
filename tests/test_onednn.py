"""The oneDNN LSTM and GRU kernels (`recurrax.scan._onednn`, `recurrax.native`) and the native kernels of the cells
without a oneDNN primitive (`recurrax.scan._native`: NIAF, NOAF, the layer-norm and depth-gated LSTMs, MUT1-3)
against recurrax's own XLA kernels.

Oracle: `fused_lstm` under ``vendor_kernels(False)``, itself tested against torch ``nn.LSTM`` with copied weights
and a float64 NumPy loop (tests/test_fused_lstm.py, tests/test_torch_parity.py). Also: when the kernel is chosen,
and that exports never contain it.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recurrax.native import bfloat16_matmuls, load_onednn, onednn_unavailable_reason
from recurrax.scan import _onednn, vendor_kernels
from recurrax.scan._fused_lstm import fused_lstm

BUILT_HERE = (
    platform.system() == "Linux" and platform.machine() == "x86_64" and os.environ.get("RECURRAX_ONEDNN") != "0"
)
needs_kernel = pytest.mark.skipif(not BUILT_HERE, reason="the oneDNN kernel is built on Linux x86-64 only")
# Weight gradients sum T * B float32 terms in another order than XLA's: up to 8e-5 relative at T = 30
RTOL, ATOL = 1e-4, 5e-5
TARGET = "recurrax_onednn_lstm"  # the LSTM targets; the GRU tests name theirs


@pytest.fixture(autouse=True, scope="module")
def kernels_at_every_size():
    """The kernels on the small layers here too (`worth_a_vendor_call` leaves single steps and calls under 128
    rows to XLA by default; tests/test_single_stream.py checks that)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_onednn, "MIN_STEPS", 1)
        patch.setattr(_onednn, "MIN_ROWS", 1)
        yield


@needs_kernel
def test_the_install_built_the_kernel():
    assert load_onednn() is not None, onednn_unavailable_reason()


def _layer(key, steps, batch, inputs, hidden, bias=True):
    k = jax.random.split(key, 9)
    n = lambda i, shape, s=0.4: s * jax.random.normal(k[i], shape, jnp.float32)
    weights = (n(0, (4 * hidden, inputs)), n(1, (4 * hidden, hidden)), n(2, (4 * hidden,)) if bias else None)
    inputs_ = (n(3, (steps, batch, inputs), 1.0), n(4, (batch, hidden), 1.0), n(5, (batch, hidden), 1.0))
    cotangents = (n(6, (steps, batch, hidden), 1.0), (n(7, (batch, hidden), 1.0), n(8, (batch, hidden), 1.0)))
    return weights, inputs_, cotangents


def _vjp(vendor: bool, weights, inputs, cotangents):
    with vendor_kernels(vendor):
        out, pullback = jax.vjp(lambda *a: fused_lstm(*a), *weights, *inputs)
    return out, pullback(cotangents)


@needs_kernel
@pytest.mark.parametrize(
    ("steps", "batch", "inputs", "hidden", "bias"),
    [(7, 3, 5, 4, True), (1, 1, 1, 1, True), (13, 8, 16, 32, False), (30, 2, 3, 64, True)],
)
def test_outputs_and_every_gradient_equal_the_xla_kernel(key, steps, batch, inputs, hidden, bias):
    weights, inputs_, cotangents = _layer(key, steps, batch, inputs, hidden, bias)
    if not bias:
        weights = weights[:2] + (None,)
    ours, our_grads = _vjp(True, weights, inputs_, cotangents)
    ref, ref_grads = _vjp(False, weights, inputs_, cotangents)
    for a, b in zip(jax.tree.leaves((ours, our_grads)), jax.tree.leaves((ref, ref_grads)), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@needs_kernel
def test_inference_without_gradients_equals_the_training_forward(key):
    weights, inputs_, _ = _layer(key, 9, 4, 6, 8)
    inference = jax.jit(lambda *a: fused_lstm(*a))(*weights, *inputs_)
    training, _ = _vjp(True, weights, inputs_, jax.tree.map(jnp.zeros_like, inference))
    for a, b in zip(jax.tree.leaves(inference), jax.tree.leaves(training), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@needs_kernel
def test_vmapped_members_equal_each_member_alone(key):
    layers = [_layer(k, 6, 3, 4, 5) for k in jax.random.split(key, 3)]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *[(w, i) for w, i, _ in layers])
    loss = lambda w, i: jnp.sum(fused_lstm(*w, *i)[0] ** 2)
    grads = jax.vmap(jax.grad(loss))(*stacked)
    for member, (w, i, _) in enumerate(layers):
        alone = jax.grad(loss)(w, i)
        for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(a[member], b, rtol=1e-5, atol=1e-6)


def _targets(fn, *args) -> str:
    return jax.jit(fn).lower(*args).as_text()


@needs_kernel
def test_dispatch_runs_onednn_only_where_it_computes_the_same_layer(key):
    weights, (xs, h0, c0), _ = _layer(key, 5, 2, 3, 4)
    grad = jax.grad(lambda x, valid=None: fused_lstm(*weights, x, h0, c0, valid)[0].sum())
    assert TARGET in _targets(grad, xs)
    assert TARGET not in _targets(lambda x: grad(x, jnp.ones((5, 2), bool)), xs)  # lengths: the XLA kernel
    assert TARGET not in _targets(lambda x: fused_lstm(*weights, x, h0, c0, matmul_dtype="bfloat16")[0], xs)
    with vendor_kernels(False):
        assert TARGET not in _targets(grad, xs)
    with jax.enable_x64(True):
        w64, xs64, h64, c64 = jax.tree.map(lambda a: a.astype(jnp.float64), (weights, xs, h0, c0))
        lowered = _targets(lambda x: fused_lstm(*w64, x, h64, c64)[0], xs64)
    assert TARGET not in lowered


@needs_kernel
def test_an_exported_module_never_calls_the_kernel(key):
    """Concrete sizes, so that only `vendor_kernels(False)` in the export keeps the custom call out."""
    from recurrax.models import LSTM
    from recurrax.serve._export import export_function
    from recurrax.tasks import Function, Input

    model = LSTM(3, 4, key=key)
    function = Function(
        fn=lambda w, a: {"ys": model(a["xs"] * w["scale"])[0]}, inputs=(Input("xs", (2, 5, 3), "float32"),)
    )
    assert TARGET in _targets(lambda x: function.fn({"scale": jnp.float32(1)}, {"xs": x}), jnp.ones((2, 5, 3)))
    module, _ = export_function(function, {"scale": np.float32(1)})
    assert TARGET.encode() not in module


@pytest.mark.parametrize("own, expected", [({}, "1000"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "None"),
                                           ({"GOMP_SPINCOUNT": "5"}, "5")])  # fmt: skip
def test_the_openmp_spin_is_short_unless_the_user_set_a_policy(own, expected):
    """libgomp's default spin at oneDNN's per-step barrier starves a neighbouring process's threads."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    script = "import os, recurrax.native; print(os.environ.get('GOMP_SPINCOUNT'))"
    done = subprocess.run([sys.executable, "-c", script], env={**env, **own}, capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == expected


_REUSE = r"""
import recurrax, ctypes, resource
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(100 << 20)
    ctypes.memset(block, 1, 100 << 20)
    libc.free(block)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults(), faults())
"""


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc's allocator")
@pytest.mark.parametrize("own", [{}, {"RECURRAX_ONEDNN": "0"}, {"MALLOC_ARENA_MAX": "2"}])
def test_a_freed_100_mib_block_is_reused_unless_the_user_set_the_allocator(own):
    """After ``import recurrax`` a second 100 MiB block reuses the first one's pages (no page faults:
    `recurrax._malloc`, 1 GiB thresholds), where glibc's defaults map and fault in every one of its 25,600 pages
    again; a ``MALLOC_*`` variable or ``RECURRAX_ONEDNN=0`` keeps the defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "RECURRAX_ONEDNN"}
    done = subprocess.run([sys.executable, "-c", _REUSE], env={**env, **own}, capture_output=True, text=True,
                          check=True)  # fmt: skip
    first, second = map(int, done.stdout.split())
    assert first > 25_000
    assert second < 100 if not own else second > 25_000


@needs_kernel
def test_a_failed_build_says_why_and_the_xla_kernel_runs(tmp_path):
    """A fresh cache and no working compiler: the library is None with the compiler's message, and the LSTM
    still runs (on the XLA kernel), in a fresh process."""
    script = (
        "import jax, jax.numpy as jnp, recurrax as rx\n"
        "from recurrax.native import bfloat16_matmuls, load_onednn, onednn_unavailable_reason\n"
        "ys, _ = rx.LSTM(3, 4, key=jax.random.key(0))(jnp.ones((2, 5, 3)))\n"
        "assert load_onednn() is None and ys.shape == (2, 5, 4)\n"
        "print(onednn_unavailable_reason())\n"
    )
    env = {**os.environ, "RECURRAX_CACHE": str(tmp_path), "CXX": str(tmp_path / "no-compiler")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no-compiler" in done.stdout and not list(tmp_path.glob("native/*.so"))


def _noisy_stack(key, cell: str, hidden: int = 6, noise_scale: float = 0.3, **options):
    """A 2-layer `RNNStack` of ``cell`` on 5 inputs whose weights (biases included) are perturbed off their init
    by normal noise of sd ``noise_scale``."""
    import equinox as eqx

    from recurrax.models import RNNStack

    stack = RNNStack(5, hidden, 2, key=key, cell=cell, **options)
    noise = lambda a: a + noise_scale * jax.random.normal(jax.random.fold_in(key, a.size), a.shape, a.dtype)
    return jax.tree.map(noise, stack, is_leaf=eqx.is_inexact_array)


def _gru_stack(key, bias=True, cho=False):
    return _noisy_stack(key, "gru", bias=bias, cho=cho)


def _assert_equals_the_xla_kernels(stack, xs, target: str, inference: str | None = None) -> None:
    """The stack's outputs, states and every gradient with the vendor kernels (``target`` in its gradient's program,
    ``inference`` in its forward's) equal those under ``vendor_kernels(False)``."""
    import equinox as eqx

    loss = lambda m: jnp.sum(jnp.sin(m(xs)[0])) + sum(jnp.sum(s**2) for s in jax.tree.leaves(m(xs)[1]))
    assert target in eqx.filter_jit(eqx.filter_grad(loss)).lower(stack).as_text()
    assert inference is None or inference in eqx.filter_jit(lambda m: m(xs)[0]).lower(stack).as_text()
    run = eqx.filter_jit(lambda m: (m(xs), eqx.filter_grad(loss)(m)))  # traced once per kernel choice
    ours = run(stack)
    with vendor_kernels(False):
        ref = run(stack)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@needs_kernel
@pytest.mark.parametrize("bias", [True, False])
def test_gru_outputs_and_every_gradient_equal_the_xla_kernel(key, bias):
    import equinox as eqx

    stack = _gru_stack(key, bias)
    xs, h0 = jax.random.normal(key, (3, 9, 5)), jax.random.normal(jax.random.fold_in(key, 1), (2, 3, 6))
    loss = lambda m: jnp.sum(jnp.sin(m(xs, state=h0)[0])) + jnp.sum(m(xs, state=h0)[1] ** 2)
    # this small a layer trains on the native kernel (`trains_natively`) and infers on oneDNN's lbr_gru
    assert "recurrax_gru_forward" in eqx.filter_jit(eqx.filter_grad(loss)).lower(stack).as_text()
    assert "recurrax_onednn_gru_inference" in eqx.filter_jit(lambda m: m(xs, state=h0)[0]).lower(stack).as_text()
    run = eqx.filter_jit(lambda m: (m(xs, state=h0), eqx.filter_grad(loss)(m)))  # traced once per kernel choice
    ours = run(stack)
    with vendor_kernels(False):
        ref = run(stack)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@needs_kernel
@pytest.mark.parametrize("bias, bidirectional", [(True, False), (False, False), (True, True)])
def test_cho_gru_outputs_and_every_gradient_equal_the_xla_kernel(key, bias, bidirectional):
    """Cho's form (the reset gate before the recurrent matmul) on oneDNN's ``gru``: one bias per gate; the
    reverse direction on the flipped sequence."""
    stack = _noisy_stack(key, "gru", bias=bias, cho=True, bidirectional=bidirectional)
    _assert_equals_the_xla_kernels(stack, jax.random.normal(key, (3, 9, 5)), "recurrax_onednn_cho_gru")


@needs_kernel
@pytest.mark.parametrize("bias, bidirectional", [(True, False), (False, False), (True, True)])
def test_mgu_on_the_cho_gru_equals_the_generic_scan(key, bias, bidirectional):
    """The MGU as Cho's GRU with tied gates (`onednn_mgu_layer`: reset = forget, update = its complement): outputs,
    states and every gradient (the forget gate's weights collect both tied blocks' gradients) equal autodiff of the
    generic scan; with lengths the scan runs."""
    import equinox as eqx

    stack = _noisy_stack(key, "mgu", bias=bias, bidirectional=bidirectional)
    xs = jax.random.normal(key, (3, 9, 5))
    _assert_equals_the_xla_kernels(stack, xs, "recurrax_onednn_cho_gru_forward", "recurrax_onednn_cho_gru_inference")
    with_lengths = eqx.filter_jit(lambda m: m(xs, jnp.array([9, 4, 2]))[0]).lower(stack).as_text()
    assert "recurrax_onednn" not in with_lengths


@needs_kernel
def test_gru_dispatch_picks_each_form_and_leaves_lengths_to_the_xla_kernels(key):
    import equinox as eqx

    xs = jnp.ones((2, 4, 5))
    lowered = lambda m, *a: eqx.filter_jit(lambda m: m(xs, *a)[0]).lower(m).as_text()
    cho = lowered(_gru_stack(key, cho=True))
    assert "recurrax_onednn_cho_gru_inference" in cho and "recurrax_onednn_gru_" not in cho
    assert "recurrax_onednn_cho_gru" not in lowered(_gru_stack(key))
    assert "recurrax_onednn" not in lowered(_gru_stack(key), jnp.array([4, 2]))


@needs_kernel
@pytest.mark.parametrize("peepholes", [("i", "f", "o"), ("f",), ("i", "o")])
def test_peephole_lstm_outputs_and_every_gradient_equal_the_xla_kernel(key, peepholes):
    """Any subset of peepholes: oneDNN takes all three rows, the absent ones zeros without gradient. A layer this
    small trains on the native kernel (`trains_natively`) and infers on oneDNN's peephole LSTM."""
    stack = _noisy_stack(key, "lstm", peepholes=peepholes)
    xs = jax.random.normal(key, (3, 9, 5))
    _assert_equals_the_xla_kernels(stack, xs, "recurrax_lstm_variant", "recurrax_onednn_peephole_lstm_inference")


@needs_kernel
@pytest.mark.parametrize(
    "cell, options, target",
    [
        ("nig", {}, "recurrax_onednn_peephole_lstm"),  # Greff's ablations keep the other peepholes
        ("nfg", {}, "recurrax_onednn_peephole_lstm"),
        ("nog", {}, "recurrax_onednn_peephole_lstm"),
        ("lstm", {"forget_gate": False, "output_gate": False}, "recurrax_onednn_lstm"),
        ("cifg", {}, "recurrax_onednn_peephole_lstm"),  # i = 1 - f as the forget gate's blocks negated
        ("lstm", {"coupled": True}, "recurrax_onednn_lstm"),
        ("lstm", {"coupled": True, "peepholes": ("o",)}, "recurrax_onednn_peephole_lstm"),
    ],
)
def test_removed_gates_run_saturated_and_equal_the_xla_kernel(key, cell, options, target):
    """An absent gate is a zero block with bias 30: sigmoid(30) is 1 in float32 and sends no gradient back; a
    coupled input gate is the forget gate's blocks negated, its gradient summed into the forget gate's."""
    stack = _noisy_stack(key, cell, **options)
    xs = 3.0 * jax.random.normal(key, (3, 9, 5))
    _assert_equals_the_xla_kernels(stack, xs, "recurrax_lstm_variant", f"{target}_inference")  # trained natively


@needs_kernel
@pytest.mark.parametrize(
    "cell, options, batch, hidden, target",
    [
        ("nig", {}, 128, 512, "recurrax_onednn_peephole_lstm_forward"),  # B H^2 = 2^25: oneDNN trains it
        ("nig", {}, 64, 512, "recurrax_lstm_variant_forward"),  # 2^24 with peepholes: the native kernel
        ("cifg", {"peepholes": ()}, 64, 128, "recurrax_onednn_lstm_forward"),  # 2^20 without peepholes
        ("lstm", {}, 64, 128, "recurrax_onednn_lstm_forward"),
        ("gru", {}, 128, 512, "recurrax_onednn_gru_forward"),  # 2^25 for the GRU
    ],
)
def test_large_layers_train_on_onednn_and_equal_the_xla_kernel(key, cell, options, batch, hidden, target):
    """From ``B H^2 = 2^25`` with peepholes and for the GRU, ``2^20`` without, oneDNN's training kernels run
    (`trains_natively`): the saturated and negated blocks through its backward primitive equal the XLA kernel."""
    stack = _noisy_stack(key, cell, hidden=hidden, noise_scale=0.05, **options)  # 0.3 saturates 256 units
    _assert_equals_the_xla_kernels(stack, jax.random.normal(key, (batch, 3, 5)), target)


@needs_kernel
def test_lstm_stacks_batch_major_and_bidirectional_equal_the_xla_kernel(key):
    """Forward layers hand oneDNN the batch-major input (no transposes in the program); the reverse direction of
    a bidirectional stack runs it time-major. Outputs, states and every gradient equal the XLA kernels."""
    import equinox as eqx

    xs = jax.random.normal(key, (3, 9, 5))
    for bidirectional in (False, True):
        stack = _noisy_stack(key, "lstm", bidirectional=bidirectional)
        forward = eqx.filter_jit(lambda m: m(xs)[0]).lower(stack).as_text()
        assert "recurrax_onednn_lstm_inference" in forward
        assert bidirectional or "transpose" not in forward
        _assert_equals_the_xla_kernels(stack, xs, "recurrax_lstm_variant")  # trained natively at this size


@needs_kernel
def test_lstmp_outputs_and_every_gradient_equal_the_xla_scan(key):
    """LSTMP (``proj_size``) runs oneDNN's projection LSTM in layers without lengths (the reverse direction on the
    flipped sequence); with lengths or with ``vendor_kernels(False)`` the generic scan, whose numbers it must
    equal."""
    import equinox as eqx

    for bidirectional in (False, True):
        stack = _noisy_stack(key, "lstm", hidden=8, proj_size=3, bidirectional=bidirectional)
        xs = jax.random.normal(key, (3, 9, 5))
        lengths = jnp.array([9, 4, 2])
        assert "onednn" not in eqx.filter_jit(lambda m: m(xs, lengths)[0]).lower(stack).as_text()
        _assert_equals_the_xla_kernels(stack, xs, "recurrax_onednn_projection_lstm")


@needs_kernel
@pytest.mark.parametrize(
    "cell, options, batch",
    [
        ("niaf", {}, 3),  # Greff's NIAF and NOAF keep all three peepholes
        ("noaf", {}, 3),
        ("niaf", {"bidirectional": True}, 3),  # the reverse direction on the flipped sequence
        ("lstm", {"input_activation": False, "output_activation": False}, 1),  # one row: one thread has none
        ("lstm", {"output_activation": False, "input_gate": False, "peepholes": ("f",)}, 4),  # saturated gate
        ("lstm", {"input_activation": False, "coupled": True, "peepholes": ("f", "o")}, 2),  # CIFG's negated blocks
    ],
)
def test_activation_ablations_run_the_native_kernel_and_equal_the_xla_kernel(key, cell, options, batch):
    """NIAF and NOAF have no oneDNN primitive: `recurrax.scan._native` runs them (oneDNN's matmul, its own
    vectorised step, batch rows split over threads). Outputs, states and every gradient equal the XLA kernel's."""
    stack = _noisy_stack(key, cell, **options)
    _assert_equals_the_xla_kernels(stack, 3.0 * jax.random.normal(key, (batch, 9, 5)), "recurrax_lstm_variant")


@needs_kernel
def test_activation_ablations_with_lengths_run_the_xla_kernel(key):
    import equinox as eqx

    stack, xs = _noisy_stack(key, "niaf"), jnp.ones((2, 4, 5))
    lowered = lambda *a: eqx.filter_jit(lambda m: m(xs, *a)[0]).lower(stack).as_text()
    assert "recurrax_lstm_variant_forward" in lowered()
    assert "recurrax_lstm_variant" not in lowered(jnp.array([4, 2]))


@needs_kernel
@pytest.mark.parametrize(
    "options, batch", [({}, 3), ({"bias": False}, 2), ({"bidirectional": True}, 3), ({"eps": 1e-3}, 1)]
)
def test_layernorm_lstm_runs_the_native_kernel_and_equals_the_xla_kernel(key, options, batch):
    """The layer-norm LSTM (both normalisations of the gate pre-activations and the cell state's in the native
    step; the three additive vectors as one sum): outputs, states and every gradient equal the XLA kernel's."""
    stack = _noisy_stack(key, "layernorm_lstm", **options)
    _assert_equals_the_xla_kernels(stack, 3.0 * jax.random.normal(key, (batch, 9, 5)), "recurrax_layernorm_lstm")


@needs_kernel
@pytest.mark.parametrize("bias, batch", [(True, 3), (False, 1)])
def test_depth_gated_lstm_runs_the_native_kernel_and_equals_the_xla_scan(key, bias, batch):
    """The depth-gated stack (Yao et al. 2015): its upper layers' depth gate, read from the lower layer's emitted
    memory, on the native kernel (the gradient w.r.t. those emitted cell states included); outputs, states and
    every gradient equal the generic scan's."""
    stack = _noisy_stack(key, "depth_gated", bias=bias)
    _assert_equals_the_xla_kernels(stack, 3.0 * jax.random.normal(key, (batch, 9, 5)), "recurrax_lstm_variant")


@needs_kernel
@pytest.mark.parametrize("cell, bidirectional, batch", [("mut1", False, 3), ("mut2", True, 3), ("mut3", False, 1)])
def test_mut_cells_run_the_native_kernel_and_equal_the_xla_scan(key, cell, bidirectional, batch):
    """MUT1-3 (two or three recurrent matmuls a step, MUT3's through tanh(h)) on the native kernel; outputs, states
    and every gradient equal the generic scan's."""
    stack = _noisy_stack(key, cell, bidirectional=bidirectional)
    _assert_equals_the_xla_kernels(stack, 3.0 * jax.random.normal(key, (batch, 9, 5)), "recurrax_mut")


@needs_kernel
@pytest.mark.parametrize(
    "cell, hidden, target",
    [("niaf", 256, "lstm_variant"), ("layernorm_lstm", 256, "layernorm_lstm"), ("mut1", 512, "mut"),
     ("mut3", 512, "mut")],
)  # fmt: skip
def test_native_kernels_with_reordered_weights_equal_the_xla_kernel(key, cell, hidden, target):
    """From 2**18 weight elements (W_hh [4H, H] at H = 256, [H, H] at H = 512) the native kernels run oneDNN's
    matmul primitive on a reordered copy of the weight instead of sgemm: the same numbers."""
    import equinox as eqx

    from recurrax.cells import make_cell
    from recurrax.scan import RNN

    layer = RNN(make_cell(cell, 5, hidden, key=key))
    layer = jax.tree.map(lambda a: a + 0.05 * jax.random.normal(key, a.shape, a.dtype), layer,
                         is_leaf=eqx.is_inexact_array)  # fmt: skip
    _assert_equals_the_xla_kernels(layer, jax.random.normal(key, (3, 4, 5)), f"recurrax_{target}")


@needs_kernel
@pytest.mark.parametrize(
    "cell, target",
    [("lstm", "lstm_variant"), ("peephole", "lstm_variant"), ("gru", "gru_forward"), ("niaf", "lstm_variant"),
     ("layernorm_lstm", "layernorm_lstm"), ("mut2", "mut")],
)  # fmt: skip
def test_vmapped_members_on_the_native_kernels_equal_each_member_alone(key, cell, target):
    """Ensembles (`jax.vmap` over members' weights, as `model.ensemble` trains them) through the native training
    kernels: every member's outputs and gradients equal the member run alone."""
    import equinox as eqx

    from recurrax.cells import make_cell
    from recurrax.scan import RNN

    members = [RNN(make_cell(cell, 5, 6, key=k)) for k in jax.random.split(key, 3)]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *members)
    xs = jax.random.normal(key, (2, 7, 5))
    loss = lambda m: jnp.sum(jnp.sin(m(xs)[0]))
    outputs, grads = eqx.filter_vmap(lambda m: (m(xs)[0], eqx.filter_grad(loss)(m)))(stacked)
    assert f"recurrax_{target}" in eqx.filter_jit(eqx.filter_grad(loss)).lower(members[0]).as_text()
    for k, member in enumerate(members):
        alone = (member(xs)[0], eqx.filter_grad(loss)(member))
        for a, b in zip(jax.tree.leaves((outputs, grads)), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(a[k], b, rtol=1e-5, atol=1e-6)


needs_bfloat16 = pytest.mark.skipif(
    not (BUILT_HERE and bfloat16_matmuls()),
    reason="the CPU has no bfloat16 matmul instructions (amx_bf16, avx512_bf16)",
)


def _mean_relative(a, b) -> float:
    return float(jnp.mean(jnp.abs(a - b)) / jnp.mean(jnp.abs(b)))


@needs_bfloat16
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (1, True), (2, True)])
def test_bfloat16_matmuls_run_the_native_kernel_and_round_as_the_xla_kernel(key, layers, bidirectional):
    """``matmul_dtype="bfloat16"`` without lengths runs the native kernel (recurrent matmuls and the input
    projection on oneDNN's bfloat16 matmul, trained and not), which rounds the operands as the XLA kernel does. The
    two paths' float32 sums differ in their last bits, and where such a value is rounded to bfloat16 again (``h_t``
    before the next step's matmul, a gradient before the next layer's) one near a rounding boundary moves by 2^-8
    and carries that on: outputs, states and every gradient agree with the XLA kernel's bfloat16 path to 1e-6
    relative in most draws, and in every one of 36 draws (12 keys, these three stacks) to 7.6e-4 of their mean
    magnitude, while both stand 2.8e-3 to 7.3e-3 off float32. Bounds: 1.5e-3 and 2e-3, and 3e-2 of each leaf's
    largest entry against float32 (tests/test_fused_lstm.py's bound for the XLA kernel)."""
    import equinox as eqx

    from recurrax.models import LSTM

    xs = jax.random.normal(key, (4, 30, 5))
    reduced = LSTM(5, 16, layers, bidirectional=bidirectional, key=key, matmul_dtype="bfloat16")
    exact = LSTM(5, 16, layers, bidirectional=bidirectional, key=key)
    loss = lambda m: jnp.sum(jnp.sin(m(xs)[0])) + sum(jnp.sum(s**2) for s in jax.tree.leaves(m(xs)[1]))
    run = eqx.filter_jit(lambda m: (m(xs), eqx.filter_grad(loss)(m)))
    for program in (eqx.filter_jit(eqx.filter_grad(loss)).lower(reduced), eqx.filter_jit(loss).lower(reduced)):
        text = program.as_text()
        assert "recurrax_lstm_variant_forward" in text and "recurrax_bf16_matmul" in text
        assert "recurrax_onednn_lstm" not in text
    ours, float32 = run(reduced), run(exact)
    with vendor_kernels(False):
        ref = run(reduced)
    ours, ref, float32 = (jax.tree.leaves(tree) for tree in (ours, ref, float32))
    assert max(_mean_relative(a, b) for a, b in zip(ours, ref, strict=True)) <= 1.5e-3
    assert max(_mean_relative(a, b) for a, b in zip(ours, float32, strict=True)) >= 2e-3
    for a, b in zip(ours, float32, strict=True):
        assert float(jnp.max(jnp.abs(a - b))) <= 3e-2 * float(jnp.max(jnp.abs(b)))


@needs_bfloat16
def test_bfloat16_matmuls_with_lengths_or_opted_out_stay_on_the_xla_kernel(key, monkeypatch):
    """Lengths keep the XLA kernel (the native kernels have none); so does ``RECURRAX_BF16_NATIVE=0``."""
    import equinox as eqx

    from recurrax.models import LSTM
    from recurrax.native import bfloat16_matmuls as cached

    model = LSTM(5, 8, key=key, matmul_dtype="bfloat16")
    xs, lengths = jax.random.normal(key, (3, 7, 5)), jnp.array([7, 2, 5])
    assert "recurrax_lstm_variant" not in eqx.filter_jit(lambda m: m(xs, lengths)[0]).lower(model).as_text()
    monkeypatch.setenv("RECURRAX_BF16_NATIVE", "0")
    assert not cached.__wrapped__()


@needs_kernel
def test_input_projection_takes_its_weight_gradient_on_the_sgemm(key):
    """`input_projection` (the native cells' input terms) equals ``x Wᵀ`` and its autodiff gradients, and a MUT1
    stack's gradient program projects through it: `project_input` under `sequence_projection`."""
    from recurrax.scan._native import input_projection

    k_x, k_w, k_d = jax.random.split(key, 3)
    x, weight, dy = jax.random.normal(k_x, (7, 3, 5)), jax.random.normal(k_w, (6, 5)), jax.random.normal(k_d, (7, 3, 6))
    ours, pull = jax.vjp(input_projection, x, weight)
    ref, ref_pull = jax.vjp(lambda a, w: a @ w.T, x, weight)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=ATOL)
    for a, b in zip(pull(dy), ref_pull(dy), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)

    import equinox as eqx

    stack = _noisy_stack(key, "mut1")
    xs = jax.random.normal(key, (3, 9, 5))
    program = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(xs)[0]))).lower(stack).as_text()
    assert "recurrax_mut_backward" in program
    # each layer's W_hr, W_hh and W_ih on the sgemm, and layer 0's W_embed (5 inputs, 6 units): 4 without it
    assert len(re.findall(r"custom_call @recurrax_outer\(", program)) == 7
    # the input projections (layer 0's embedding and W_ih, layer 1's W_ih), and an input gradient (layer 1's dx)
    forward = eqx.filter_jit(lambda m: jnp.sum(m(xs)[0])).lower(stack).as_text()
    assert len(re.findall(r"custom_call @recurrax_matmul\(", forward)) == 3
    assert re.search(r"custom_call @recurrax_matmul\(.*transposed = false", program)


@needs_kernel
def test_the_sgemm_products_equal_numpy(key):
    """`_projection` (``a W^T`` and ``a W`` on ``recurrax_matmul``, any leading axes) and `_outer` (``Σ d_t^T v_t``
    over the first ``columns`` of ``d``, read in place) against float64 NumPy."""
    from recurrax.scan._native import _outer, _projection

    k_a, k_w, k_d = jax.random.split(key, 3)
    a, weight = jax.random.normal(k_a, (4, 3, 5)), jax.random.normal(k_w, (6, 5))
    a64, w64 = np.asarray(a, np.float64), np.asarray(weight, np.float64)
    np.testing.assert_allclose(_projection(a, weight, True), a64 @ w64.T, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_projection(a[0], weight.T, False), a64[0] @ w64.T, rtol=RTOL, atol=ATOL)
    d = jax.random.normal(k_d, (4, 3, 7))
    full = np.einsum("tbo,tbi->oi", np.asarray(d, np.float64), a64)
    np.testing.assert_allclose(_outer(d, a), full, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_outer(d, a, columns=4), full[:4], rtol=RTOL, atol=ATOL)
    # empty sums are zeros (oneDNN's sgemm leaves its result untouched when the inner size is 0)
    np.testing.assert_array_equal(_outer(d[:0], a[:0], columns=4), np.zeros((4, 5)))
    np.testing.assert_array_equal(_projection(a[..., :0], weight[:, :0], True), np.zeros((4, 3, 6)))
