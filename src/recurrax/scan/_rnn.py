"""`RNN`: runs any cell over a sequence with one `lax.scan` — the sequence engine, written once."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..cells._base import AbstractCell
from ..cells._depth_gated import DepthGatedLSTMCell
from ..cells._gru import GRUCell
from ..cells._layernorm_lstm import LayerNormLSTMCell
from ..cells._lstm import LSTMCell
from ..cells._mgu import MGUCell
from ..cells._mut import MUT1Cell, MUT2Cell, MUT3Cell
from ..native import bfloat16_matmuls
from ._fused_lstm import check_matmul_dtype, fused_lstm, is_plain_lstm
from ._fused_scan import fused_scan, is_fusable
from ._lengths import check_lengths, reverse_padded, time_mask
from ._native import (
    four_gate_lstm_layer,
    gru_layer,
    native_depth_gated_layer,
    native_layernorm_layer,
    native_lstm_layer,
    native_mut_layer,
)
from ._onednn import onednn_applies, onednn_mgu_layer, onednn_projection_layer, worth_a_vendor_call
from ._regularisation import check_rate, recurrent_dropout_mask, zoneout


def check_sequence(xs: Array, input_size: int) -> None:
    """Raise a clear error unless ``xs`` is a batch-major ``[B, T, input_size]`` array."""
    if xs.ndim != 3:
        raise ValueError(f"expected a batch-major sequence [B, T, D], got shape {tuple(xs.shape)}")
    if xs.shape[-1] != input_size:
        raise ValueError(f"expected {input_size} input features in the last axis, got shape {tuple(xs.shape)}")


class RNN(eqx.Module):
    """A recurrent layer: one cell scanned over time.

    ``ys, carry = layer(xs, lengths=None, carry=None, reverse=False, key=None)``

    - ``xs``: ``[B, T, D]``, batch-major. ``ys``: ``[B, T, cell.output_size]``.
    - ``lengths``: optional ``[B]`` ints; padding semantics are those of `recurrax.scan._lengths` (outputs
      past a length are zero, the final carry is the carry at the last valid step, reverse starts at each
      sequence's own end).
    - ``carry``: the initial carry (``cell.init_carry(B)`` when None); the returned carry is the final one.
    - ``key``: turns on variational recurrent dropout and training-mode zoneout; without it the layer is
      deterministic.

    The input projection of all steps is hoisted out of the scan as one matmul
    (``cell.project_input`` on ``[T, B, D]``); the scan body runs only ``cell.step``: the recurrent matmul
    and the gates. ``unroll`` is passed to `jax.lax.scan`; the compiled program does not grow with ``T``.

    A plain `LSTMCell` (no peepholes, projection, coupling, full gate recurrence or removed gates and
    activations) without active recurrent dropout or zoneout runs on `recurrax.scan._fused_lstm.fused_lstm`:
    the same numbers, with a hand-written backward pass that keeps only the gate gradients inside the loop
    and forms the weight and input gradients as large matmuls after it (cuDNN's scheme; faster fwd+bwd). On
    CPU that kernel computes the input projection inside each step, which measured 5-30% faster there than
    hoisting it (docs/benchmarks.md); on GPU it hoists. Every other cell that says it is ``fusable`` (a step that is
    one recurrent matmul and pointwise work: the other LSTM variants but FGR and the projection, the PyTorch-form
    GRU, the Elman RNN, the layer-norm LSTM; not the depth-gated LSTM, faster on the generic scan) runs on the
    generic `recurrax.scan._fused_scan.fused_scan` under the same conditions: the hoisted projection, then the same
    fused backward scheme. ``fused=False`` forces the generic scan, e.g. for forward-mode differentiation
    (`jax.jvp`), which a `jax.custom_vjp` does not support. ``matmul_dtype="bfloat16"`` gives the fused plain LSTM
    bfloat16 operands in its matmuls, accumulated in float32 (faster on CPUs with bfloat16 dot instructions, about
    1e-2 relative error; see `recurrax.scan._fused_lstm`); the generic scan, which that kernel falls back to under
    active recurrent dropout, computes in the parameters' dtype. On CPU, float32 plain-LSTM, peephole-LSTM (with
    Greff's gate ablations and CIFG), LSTMP and GRU layers without lengths run oneDNN's LSTM (torch ``nn.LSTM``'s
    CPU kernel), peephole LSTM, projection LSTM, ``lbr_gru`` (the PyTorch form) and ``gru`` (Cho's form) primitives
    through `recurrax.scan._onednn` where `recurrax.native` built them (forward layers hand oneDNN the batch-major
    input and take its output in that layout: no transposes around the call), and NIAF, NOAF, the layer-norm and
    depth-gated LSTMs and MUT1-3, which oneDNN has no primitive for, run native kernels of the same library on
    oneDNN's matmul (`recurrax.scan._native`), as do small LSTM, peephole-LSTM and GRU layers under `jax.grad`
    (`trains_natively`: oneDNN's per-step thread meetings cost more there; their inference stays on oneDNN);
    ``vendor_kernels(False)`` keeps them all on the XLA kernels. Callers that need the outputs only pass their
    lengths to `outputs`, which runs unmasked (so on oneDNN) with the same valid outputs.

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> layer = rx.RNN(rx.LSTMCell(3, 4, key=jax.random.key(0)))
        >>> ys, (h, c) = layer(jnp.ones((2, 7, 3)), lengths=jnp.array([7, 5]))
        >>> ys.shape, h.shape, bool((ys[1, 5:] == 0).all())
        ((2, 7, 4), (2, 4), True)
    """

    cell: AbstractCell
    recurrent_dropout: float = eqx.field(static=True)
    zoneout: float = eqx.field(static=True)
    unroll: int = eqx.field(static=True)
    fused: bool = eqx.field(static=True)
    matmul_dtype: str | None = eqx.field(static=True)

    def __init__(
        self,
        cell: AbstractCell,
        *,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        unroll: int = 1,
        fused: bool = True,
        matmul_dtype: str | None = None,
    ):
        self.cell = cell
        self.fused = bool(fused)
        self.matmul_dtype = check_matmul_dtype(matmul_dtype)
        if matmul_dtype is not None and not (self.fused and is_plain_lstm(cell)):
            raise ValueError(f"matmul_dtype applies to the fused plain LSTM only, not to {type(cell).__name__} "
                             f"with these options (fused={self.fused})")  # fmt: skip
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.zoneout = check_rate("zoneout", zoneout)
        if unroll < 1:
            raise ValueError(f"unroll must be >= 1, got {unroll}")
        self.unroll = int(unroll)

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    def __call__(
        self,
        xs: Array,
        lengths: Array | None = None,
        carry: Any = None,
        reverse: bool = False,
        *,
        key: Array | None = None,
    ) -> tuple[Array, Any]:
        check_sequence(xs, self.cell.input_size)
        batch, steps = xs.shape[0], xs.shape[1]
        if lengths is not None:
            lengths = check_lengths(lengths, batch)
        if carry is None:
            carry = self.cell.init_carry(batch, xs.dtype)
        if self._runs_fused(key):
            return self._fused_call(xs, lengths, carry, reverse)
        if self.fused and lengths is None and self._unregularised(key):  # a cell without a fused kernel
            flip = (lambda a: jnp.flip(a, 1)) if reverse else (lambda a: a)  # noqa: E731
            out = self._onednn_layer(flip(xs), carry, batch_first=True)  # LSTMP, Cho's GRU: oneDNN, else the scan
            if out is not None:
                return flip(out[0]), out[1]
        mask_key, zone_key = (None, None) if key is None else jax.random.split(key)

        xp = self.cell.project_input(jnp.swapaxes(xs, 0, 1))  # [T, B, G]: one matmul for all steps
        if reverse:
            xp = reverse_padded(xp, lengths)
        h = jax.tree.leaves(carry)[0]  # the recurrent input h_{t-1} is the first leaf of every carry
        h_mask = recurrent_dropout_mask(self.recurrent_dropout, mask_key, h.shape, xs.dtype)
        scanned = {"xp": xp}
        if lengths is not None:
            scanned["valid"] = time_mask(lengths, steps)
        if zone_key is not None and self.zoneout > 0.0:
            scanned["zone_key"] = jax.random.split(zone_key, steps)

        def body(carry, inputs):
            new_carry, y = self.cell.step(carry, inputs["xp"], h_mask)
            new_carry = zoneout(carry, new_carry, self.zoneout, inputs.get("zone_key"))
            if "valid" in inputs:
                valid = inputs["valid"]
                new_carry = jax.tree.map(lambda n, o: jnp.where(_expand(valid, n), n, o), new_carry, carry)
                y = jnp.where(valid[:, None], y, jnp.zeros_like(y))
            return new_carry, y

        carry, ys = jax.lax.scan(body, carry, scanned, unroll=self.unroll)
        if reverse:
            ys = reverse_padded(ys, lengths)
        return jnp.swapaxes(ys, 0, 1), carry

    def outputs(
        self,
        xs: Array,
        lengths: Array | None = None,
        carry: Any = None,
        reverse: bool = False,
        *,
        key: Array | None = None,
    ) -> Array:
        """The outputs ``ys`` ``[B, T, H]`` of `__call__` without its final carry, padded steps zero.

        With ``lengths`` the layer runs unmasked over each sequence's valid steps placed first (as given, or
        reversed within its length when ``reverse``): step ``t``'s output reads steps ``<= t`` only, so the
        valid outputs equal the masked run's, and layers with a vendor kernel (which knows no lengths) run it.
        Only the final carry would differ (it would read the padding)."""
        if lengths is None:
            return self(xs, None, carry, reverse, key=key)[0]
        lengths = check_lengths(lengths, xs.shape[0])
        flip = lambda a: jnp.swapaxes(reverse_padded(jnp.swapaxes(a, 0, 1), lengths), 0, 1)  # noqa: E731
        ys, _ = self(flip(xs) if reverse else xs, None, carry, key=key)
        ys = flip(ys) if reverse else ys
        return jnp.where(jnp.swapaxes(time_mask(lengths, xs.shape[1]), 0, 1)[:, :, None], ys, 0.0)

    def _runs_fused(self, key: Array | None) -> bool:
        """A fused kernel applies: a plain LSTM or a fusable cell, and no active regularisation of the
        recurrence (`_unregularised`)."""
        return self.fused and (is_plain_lstm(self.cell) or is_fusable(self.cell)) and self._unregularised(key)

    def _unregularised(self, key: Array | None) -> bool:
        """No active regularisation of the recurrence (zoneout without a key is not the identity but its
        expectation, so only ``zoneout == 0`` qualifies)."""
        return self.zoneout == 0.0 and (self.recurrent_dropout == 0.0 or key is None)

    def _fused_call(self, xs: Array, lengths: Array | None, carry: Any, reverse: bool) -> tuple[Array, Any]:
        cell = self.cell
        if lengths is None and not reverse:
            out = self._onednn_layer(xs, carry, batch_first=True)
            if out is not None:
                return out
        xs = jnp.swapaxes(xs, 0, 1)  # [T, B, D]
        if reverse:
            xs = reverse_padded(xs, lengths)
        valid = None if lengths is None else time_mask(lengths, xs.shape[0])
        out = self._onednn_layer(xs, carry, batch_first=False) if valid is None else None
        if out is not None:
            ys, carry = out
        elif is_plain_lstm(cell):
            bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
            h0, c0 = carry
            ys, carry = fused_lstm(cell.weight_ih, cell.weight_hh, bias, xs, h0, c0, valid, unroll=self.unroll,
                                   matmul_dtype=self.matmul_dtype)  # fmt: skip
        else:
            ys, carry = fused_scan(cell, cell.project_input(xs), carry, valid, unroll=self.unroll)
        if reverse:
            ys = reverse_padded(ys, lengths)
        return jnp.swapaxes(ys, 0, 1), carry

    def _onednn_layer(self, xs: Array, carry: Any, batch_first: bool) -> tuple[Array, Any] | None:
        """oneDNN's layer for a plain LSTM, a peephole LSTM, LSTMP, a GRU (either form; small ones trained on the native
        kernels) or an MGU (Cho's GRU with tied gates), or the native kernel of NIAF, NOAF, the layer-norm and
        depth-gated LSTMs and MUT1-3 (on oneDNN's matmul, `recurrax.scan._native`), over ``xs`` ``[T, B, D]`` or, with
        ``batch_first``, ``[B, T, D]`` (oneDNN reads and writes that layout itself: no transposes around the call;
        ``ys`` comes in the layout of ``xs``), or None where neither applies (`onednn_applies`: other cells, dtypes, a
        backend other than CPU; a plain LSTM's bfloat16 matmuls run the native kernel where the CPU has bfloat16 matmul
        instructions, `recurrax.native.bfloat16_matmuls`, else the XLA kernel)."""
        cell = self.cell
        plain = is_plain_lstm(cell)
        ablated, layernorm = is_activation_ablation(cell), type(cell) is LayerNormLSTMCell
        depth_gated = type(cell) is DepthGatedLSTMCell and cell.lower_memory  # without it: a plain LSTM
        mut = type(cell) in (MUT1Cell, MUT2Cell, MUT3Cell)
        vendor = type(cell) in (GRUCell, MGUCell) or is_peephole_lstm(cell) or is_projection_lstm(cell)
        if not (plain or ablated or layernorm or depth_gated or mut or vendor):
            return None
        arrays = (xs, *jax.tree.leaves(carry), *jax.tree.leaves(cell))
        bfloat16 = plain and self.matmul_dtype == "bfloat16"
        if not onednn_applies(arrays, None, None) or (bfloat16 and not bfloat16_matmuls()):
            return None
        steps, batch = (xs.shape[1], xs.shape[0]) if batch_first else xs.shape[:2]
        if not worth_a_vendor_call(steps, batch):
            return None
        if ablated:  # no oneDNN primitive for these two: its matmul and our own step
            return native_lstm_layer(cell, xs, carry, batch_first)
        if layernorm:
            return native_layernorm_layer(cell, xs, carry, batch_first)
        if depth_gated:
            return native_depth_gated_layer(cell, xs, carry, batch_first)
        if mut:
            return native_mut_layer(cell, xs, carry, batch_first)
        if type(cell) is MGUCell:
            return onednn_mgu_layer(cell, xs, carry, batch_first)  # oneDNN's gru, its gates tied
        if type(cell) is GRUCell:
            return gru_layer(cell, xs, carry, batch_first)  # oneDNN's lbr_gru (PyTorch's form) or gru (Cho's)
        if is_projection_lstm(cell):
            return onednn_projection_layer(cell, xs, carry, batch_first)
        return four_gate_lstm_layer(cell, xs, carry, batch_first, bfloat16)  # plain or peephole: oneDNN, or native


def is_projection_lstm(cell: Any) -> bool:
    """An `LSTMCell` that is the plain LSTM but for the recurrent projection of LSTMP: oneDNN's projection LSTM."""
    gates = cell.input_gate and cell.forget_gate and cell.output_gate if type(cell) is LSTMCell else False
    plain = gates and cell.input_activation and cell.output_activation and not cell.coupled
    return bool(plain and cell.proj_size > 0 and not cell.peepholes and not cell.full_gate_recurrence)


def is_activation_ablation(cell: Any) -> bool:
    """An `LSTMCell` without the tanh on ``g`` or on ``c_t`` (Greff et al.'s NIAF, NOAF), on four gates or fewer
    (`lstm_blocks`), with any peepholes: the kernel of `recurrax.scan._native`."""
    if type(cell) is not LSTMCell:
        return False
    ablated = not (cell.input_activation and cell.output_activation)
    return bool(ablated and cell.proj_size == 0 and not cell.full_gate_recurrence)


def is_peephole_lstm(cell: Any) -> bool:
    """An `LSTMCell` that is the plain LSTM but for peepholes on some of i, f, o, removed gates among them and/or
    the coupled input gate (Greff et al.'s NIG, NFG, NOG, CIFG and the registry's peephole variants): oneDNN's
    (peephole) LSTM with the removed gates saturated and the coupled one negated
    (`recurrax.scan._onednn.lstm_blocks`)."""
    if type(cell) is not LSTMCell:
        return False
    plain = cell.input_activation and cell.output_activation
    changed = cell.peepholes or cell.coupled or not (cell.input_gate and cell.forget_gate and cell.output_gate)
    return bool(plain and changed and cell.proj_size == 0 and not cell.full_gate_recurrence)


def _expand(valid: Array, leaf: Array) -> Array:
    """Broadcast the ``[B]`` step mask against a carry leaf ``[B, ...]``."""
    return valid.reshape(valid.shape + (1,) * (leaf.ndim - 1))
