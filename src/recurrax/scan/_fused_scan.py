"""`fused_scan`: any cell whose step is one recurrent matmul and pointwise work, with a fused backward pass.

The generic form of `recurrax.scan._fused_lstm`: a cell that splits its step as

    hw_t = h_{t-1} W_hh^T                                   the recurrent matmul ([B, G])
    (carry_t, y_t) = cell.pointwise(carry_{t-1}, xp_t, hw_t)   everything else: gates, peepholes, norms

(``xp_t`` the hoisted input projection, ``cell.project_input``) runs here with a hand-built backward pass::

    forward   per step: hw_t, then the pointwise part; ``hw_t`` and the carries are stacked over time
    backward  per step (reverse): the pointwise part is recomputed from ``(xp_t, hw_t, carry_{t-1})``
              (`jax.checkpoint`: elementwise work only) and its VJP gives d xp_t, d hw_t, the
              cotangent of carry_{t-1} and of the pointwise parameters (peepholes, biases, norm gains);
              dh_{t-1} += d hw_t W_hh
              after the loop: dW_hh = sum_t d hw_t^T h_{t-1} as one einsum over all T * B rows

The input projection stays outside: ``d xp`` ``[T, B, G]`` goes back through ``project_input`` by ordinary
autodiff, so ``dW_ih = d xp^T X`` and ``dX = d xp W_ih`` are large matmuls too. Autodiff of the generic
scan instead accumulates ``dW_hh`` with a small matmul inside every backward step.

Saving autodiff's residuals of the pointwise part instead (the gate activations and the rest, a dozen
``[B, H]`` arrays a step) measured up to 2x slower at c1 on CPU than recomputing them. The residuals of
the rematerialised step are its inputs (the pointwise parameters, ``xp_t``, ``hw_t``, the previous carry),
which the backward pass reads from the arrays it has; which leaf is which is read off one abstract trace of
the step (`jax.eval_shape`), the same in the forward and the backward pass, and any residual that is not
an input is stacked by the forward scan.

Masking (``valid`` ``[T, B]``, `recurrax.scan._lengths`) is that of `RNN`: a padded step leaves the carry
unchanged and outputs zero; its cotangent passes through and its step receives none. Reversal is the
caller's business. Forward-mode differentiation is not available through a `jax.custom_vjp`.

A cell takes part by defining ``pointwise(carry, xp, hw) -> (carry, y)`` (its ``step`` being
``pointwise(carry, xp, masked(h) @ weight_hh.T)``) and ``fusable`` (False for the forms whose step needs
more than that one matmul, e.g. a recurrent projection or the Cho GRU). A cell whose pointwise part reads
``hw`` only through ``xp[..., :G] + hw`` (the LSTMs but the layer-norm one, the Elman RNN) says so with
``pointwise_sums_hw = True``: then ``d hw = d xp[..., :G]`` and the backward scan stacks one of the two
(measured 2-3x faster fwd+bwd at c1 for the four-gate LSTMs than stacking both).
"""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..cells._base import matmul_t


def is_fusable(cell) -> bool:
    """Whether ``cell`` runs on `fused_scan`: it defines ``pointwise`` and says it is ``fusable``."""
    return bool(getattr(cell, "fusable", False)) and callable(getattr(cell, "pointwise", None))


def fused_scan(cell, xp: Array, carry0: Any, valid: Array | None = None, *, unroll: int = 1) -> tuple[Array, Any]:
    """Run a fusable cell over a time-major projected sequence; reverse-mode differentiable, fused backward.

    Args:
        cell: a cell with ``fusable`` true (see the module docstring); its ``weight_hh`` ``[G, H]`` is the
            recurrent matmul, ``weight_ih`` is not read (it lives in ``xp``).
        xp: ``[T, B, G]``, ``cell.project_input`` of the time-major inputs.
        carry0: the initial carry, a pytree whose first leaf is ``h`` ``[B, H]``.
        valid: ``[T, B]`` booleans or None (all valid).
        unroll: passed to both `jax.lax.scan` loops.

    Returns:
        ``ys [T, B, output_size], carry_T``.

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> from recurrax.scan._fused_scan import fused_scan
        >>> cell = rx.GRUCell(3, 2, key=jax.random.key(0))
        >>> ys, h = fused_scan(cell, cell.project_input(jnp.ones((5, 4, 3))), cell.init_carry(4))
        >>> ys.shape, h.shape
        ((5, 4, 2), (4, 2))
    """
    if not is_fusable(cell):
        raise ValueError(f"{type(cell).__name__} with these options has no fused path (fusable is false)")
    steps, batch = xp.shape[:2]
    h0 = jax.tree.leaves(carry0)[0]
    if h0.shape != (batch, cell.weight_hh.shape[1]):
        raise ValueError(f"expected the carry's h [B, H] = [{batch}, {cell.weight_hh.shape[1]}], got {h0.shape}")
    if xp.shape[2] < cell.weight_hh.shape[0]:
        raise ValueError(f"expected xp [T, B, G >= {cell.weight_hh.shape[0]}], got {tuple(xp.shape)}")
    if valid is not None and valid.shape != (steps, batch):
        raise ValueError(f"expected valid [T, B] = [{steps}, {batch}], got {tuple(valid.shape)}")
    params = eqx.tree_at(lambda c: (c.weight_ih, c.weight_hh), cell, (None, None))
    return _fused_scan(int(unroll), params, cell.weight_hh, xp, carry0, valid)


def _pointwise_plain(params, xp_t, hw, carry):
    return params.pointwise(carry, xp_t, hw)


# Rematerialised: the backward pass recomputes the pointwise part from its inputs instead of saving
# autodiff's residuals for it (a dozen [B, H] arrays a step); measured 1.1-2x faster fwd+bwd at c1.
# prevent_cse=False is safe inside a scan (jax.checkpoint's docs) and measured faster for the GRU.
_pointwise = jax.checkpoint(_pointwise_plain, prevent_cse=False)


def _layout(params, xp_t, hw, carry) -> tuple[Any, tuple[int | None, ...]]:
    """The pytree structure of the step's VJP and, per residual leaf, the index of the step input it is
    (into the leaves of ``(params, xp_t, hw, carry)``) or None when it must be saved."""
    found = []

    def trace(params, xp_t, hw, carry):
        _, vjp_fn = jax.vjp(_pointwise, params, xp_t, hw, carry)
        inputs = jax.tree.leaves((params, xp_t, hw, carry))
        found.append(tuple(next((k for k, x in enumerate(inputs) if x is r), None) for r in jax.tree.leaves(vjp_fn)))
        return vjp_fn

    treedef = jax.tree.structure(jax.eval_shape(trace, params, xp_t, hw, carry))
    return treedef, found[0]


def _expand(valid: Array, leaf: Array) -> Array:
    return valid.reshape(valid.shape + (1,) * (leaf.ndim - 1))


def _step_shapes(params, w_hh, xp, carry0):
    """Abstract per-step inputs of the pointwise part: ``xp_t`` ``[B, G]`` and ``hw`` ``[B, G_hh]``."""
    xp_t = jax.ShapeDtypeStruct(xp.shape[1:], xp.dtype)
    hw = jax.ShapeDtypeStruct((xp.shape[1], w_hh.shape[0]), jnp.result_type(jax.tree.leaves(carry0)[0], w_hh))
    return params, xp_t, hw, carry0


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused_scan(unroll, params, w_hh, xp, carry0, valid):
    out, _ = _forward(unroll, params, w_hh, xp, carry0, valid, save=False)
    return out


def _forward(unroll, params, w_hh, xp, carry0, valid, save: bool):
    """The forward scan; with ``save`` also the stacked carries, saved residuals and (when read) ``hw``."""
    # W_hh^T formed once, outside the loop; one stream reads W_hh where it lies instead (`matmul_t`)
    w_hh_t = None if xp.shape[1] == 1 else w_hh.T
    if save:
        _, sources = _layout(*_step_shapes(params, w_hh, xp, carry0))
        keep_hw = len(jax.tree.leaves(params)) + 1 in sources  # the index of hw among the step's inputs
    scanned = {"xp": xp} if valid is None else {"xp": xp, "valid": valid}

    def step(carry, inputs):
        h = jax.tree.leaves(carry)[0]
        hw = matmul_t(h, w_hh) if w_hh_t is None else h @ w_hh_t
        if save:
            (new, y), vjp_fn = jax.vjp(_pointwise, params, inputs["xp"], hw, carry)
            saved = [r for r, s in zip(jax.tree.leaves(vjp_fn), sources) if s is None]
        else:
            new, y = _pointwise_plain(params, inputs["xp"], hw, carry)
        y_is_h = y is jax.tree.leaves(new)[0]
        if "valid" in inputs:
            v = inputs["valid"]
            new = jax.tree.map(lambda n, o: jnp.where(_expand(v, n), n, o), new, carry)
            y = jnp.where(v[:, None], y, jnp.zeros_like(y))
        out = {"y": None if y_is_h else y}
        if save:
            out.update(carry=new, saved=saved, hw=hw if keep_hw else None)
        elif y_is_h:
            out["h"] = jax.tree.leaves(new)[0]
        return new, out

    final, stacked = jax.lax.scan(step, carry0, scanned, unroll=unroll)
    if stacked["y"] is not None:
        ys = stacked["y"]
    else:
        hs = jax.tree.leaves(stacked["carry"])[0] if save else stacked["h"]
        ys = hs if valid is None else jnp.where(valid[:, :, None], hs, jnp.zeros_like(hs))
    return (ys, final), (stacked if save else None)


def _fused_scan_fwd(unroll, params, w_hh, xp, carry0, valid):
    out, stacked = _forward(unroll, params, w_hh, xp, carry0, valid, save=True)
    return out, (params, w_hh, xp, carry0, valid, stacked["carry"], stacked["saved"], stacked["hw"])


def _fused_scan_bwd(unroll, residuals, cotangents):
    params, w_hh, xp, carry0, valid, carries, saved, hws = residuals
    dys, d_final = cotangents
    treedef, sources = _layout(*_step_shapes(params, w_hh, xp, carry0))
    param_leaves = jax.tree.leaves(params)
    sums_hw = getattr(params, "pointwise_sums_hw", False)
    # carry_{t-1} for every t (also when T == 0): the carry that entered step t
    carry_prev = jax.tree.map(lambda c0, cs: jnp.concatenate([c0[None], cs], axis=0)[:-1], carry0, carries)
    scanned = {"xp": xp, "dy": dys, "carry_prev": carry_prev, "saved": saved, "hw": hws}
    if valid is not None:
        scanned["valid"] = valid

    def step(carry, inputs):
        d_carry, d_params = carry
        inputs_t = param_leaves + [inputs["xp"], inputs["hw"]] + jax.tree.leaves(inputs["carry_prev"])
        saved_t = iter(inputs["saved"])
        leaves = [next(saved_t) if s is None else inputs_t[s] for s in sources]
        vjp_fn = jax.tree.unflatten(treedef, leaves)
        d_new, dy = d_carry, inputs["dy"]
        if "valid" in inputs:
            v = inputs["valid"]
            d_new = jax.tree.map(lambda d: jnp.where(_expand(v, d), d, jnp.zeros_like(d)), d_carry)
            dy = jnp.where(v[:, None], dy, jnp.zeros_like(dy))
        dp, dxp, dhw, d_prev = vjp_fn((d_new, dy))
        d_prev_leaves, d_prev_def = jax.tree.flatten(d_prev)
        d_prev_leaves[0] = d_prev_leaves[0] + dhw @ w_hh
        d_prev = jax.tree.unflatten(d_prev_def, d_prev_leaves)
        if "valid" in inputs:  # a padded step hands the carry's cotangent straight back
            d_prev = jax.tree.map(lambda p, d: jnp.where(_expand(v, d), p, d), d_prev, d_carry)
        return (d_prev, jax.tree.map(jnp.add, d_params, dp)), (dxp, None if sums_hw else dhw)

    zero_params = jax.tree.map(jnp.zeros_like, params)
    (d_carry0, d_params), (dxp, dhw) = jax.lax.scan(
        step, (d_final, zero_params), scanned, reverse=True, unroll=unroll
    )
    if sums_hw:  # d hw = d xp[..., :G]: one [T, B, G] stack instead of two (2-3x faster fwd+bwd at c1)
        dhw = dxp[..., : w_hh.shape[0]]
    h_prev = jax.tree.leaves(carry_prev)[0]
    d_w_hh = jnp.einsum("tbg,tbh->gh", dhw, h_prev)  # one matmul over all T * B rows
    return d_params, d_w_hh, dxp, d_carry0, None


_fused_scan.defvjp(_fused_scan_fwd, _fused_scan_bwd)
