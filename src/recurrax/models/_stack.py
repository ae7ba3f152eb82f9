"""`RNNStack`, `LSTM`, `GRU`: multi-layer, optionally bidirectional recurrent networks of any cell."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..cells import make_cell
from ..scan import RNN, Bidirectional
from ..scan import check_rate, dropout


class RNNStack(eqx.Module):
    """A stack of ``num_layers`` recurrent layers of one cell type, PyTorch ``nn.LSTM``-style.

    ``ys, state = model(xs, lengths=None, state=None, key=None)``

    - ``xs`` ``[B, T, D]`` (batch-major); ``ys`` ``[B, T, H]``, ``[B, T, 2H]`` when bidirectional (forward
      features first), ``H`` being the cell's output size (``proj_size`` for an LSTMP).
    - ``lengths`` ``[B]`` ints: padding semantics of `recurrax.scan._lengths` in every layer.
    - ``state``: every leaf of the cell's carry stacked over layers and directions, ``[L * num_directions,
      B, ...]`` in PyTorch's order (layer 0 forward, layer 0 backward, layer 1 forward, ...). For an LSTM that
      is ``(h_n, c_n)``, for a GRU ``h_n``, exactly as torch. Pass it back in to carry state across calls.
    - ``key``: training mode. Turns on ``dropout`` between layers (on every layer's output but the last,
      as torch), variational ``recurrent_dropout`` and training-mode ``zoneout``. Without a key the model is
      deterministic (evaluation mode).

    ``cell`` names a registered cell (``"lstm"``, ``"peephole"``, ``"cifg"``, ``"nfg"``, ``"gru"``, ...; see
    `recurrax.cells.CELLS`) or is a factory ``(input_size, hidden_size, *, key, layer, num_layers, **options)``;
    extra keyword options go to every cell.
    ``recurrent_dropout``, ``zoneout``, ``unroll``, ``fused`` and ``matmul_dtype`` go to every `RNN` layer
    (``fused=False`` turns off the fused LSTM kernel).

    Weights: ``layers[l]`` is an `RNN` (a `Bidirectional` pair ``forward``/``backward`` when bidirectional)
    whose ``cell`` holds the layer's parameters; layer 0 reads ``D = input_size`` features, every later layer
    the previous layer's output (``H`` or ``2H``).

    Args:
        input_size: features per step ``D`` of ``xs`` ``[B, T, D]``.
        hidden_size: hidden units per layer and direction ``H``.
        num_layers: stacked layers ``L``, default 1.
        bidirectional: a forward and a backward layer per depth, outputs concatenated, default False.
        dropout: dropout rate on every layer's output but the last, training mode only, default 0.0.
        key: PRNG key for the initial weights (keyword-only, required).
        cell: registered cell name or cell factory, default ``"lstm"``.
        recurrent_dropout: variational dropout rate on ``h_{t-1}`` in the recurrent matmul, one mask per
            sequence, training mode only, default 0.0.
        zoneout: zoneout rate on the carry (keep the previous state), training mode only, default 0.0.
        unroll: steps unrolled per `jax.lax.scan` iteration, default 1.
        fused: use the fused LSTM / fusable-cell kernel where it applies, default True.
        matmul_dtype: ``"bfloat16"``: the plain LSTM's fused matmuls on bfloat16 operands, accumulated in
            float32 (faster on CPUs with bfloat16 dot instructions; about 1e-2 relative error), default None.
        **cell_options: keyword options passed to every cell's constructor (e.g. ``peepholes``, ``proj_size``).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> model = rx.RNNStack(3, 8, num_layers=2, bidirectional=True, cell="cifg", key=jax.random.key(0))
        >>> ys, (h_n, c_n) = model(jnp.ones((4, 10, 3)))
        >>> ys.shape, h_n.shape
        ((4, 10, 16), (4, 4, 8))
    """

    layers: tuple[RNN | Bidirectional, ...]
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    num_layers: int = eqx.field(static=True)
    bidirectional: bool = eqx.field(static=True)
    dropout: float = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        *,
        key: Array,
        cell: str | Callable[..., Any] = "lstm",
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        unroll: int = 1,
        fused: bool = True,
        matmul_dtype: str | None = None,
        **cell_options: Any,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.dropout = bool(bidirectional), check_rate("dropout", dropout)

        def build(layer_input: int, layer: int, layer_key: Array) -> RNN:
            if callable(cell):
                c = cell(layer_input, hidden_size, key=layer_key, layer=layer, num_layers=num_layers, **cell_options)
            else:
                c = make_cell(
                    cell, layer_input, hidden_size, key=layer_key, layer=layer, num_layers=num_layers, **cell_options
                )
            if self.bidirectional and not getattr(c, "supports_bidirectional", True):
                raise ValueError(f"{type(c).__name__} cannot be used in a bidirectional stack (bidirectional=True)")
            return RNN(c, recurrent_dropout=recurrent_dropout, zoneout=zoneout, unroll=unroll, fused=fused,
                       matmul_dtype=matmul_dtype)  # fmt: skip

        layers, layer_input = [], input_size
        for layer, layer_key in enumerate(jax.random.split(key, num_layers)):
            if self.bidirectional:
                k_fwd, k_bwd = jax.random.split(layer_key)
                built = Bidirectional(build(layer_input, layer, k_fwd), build(layer_input, layer, k_bwd))
            else:
                built = build(layer_input, layer, layer_key)
            layers.append(built)
            layer_input = built.output_size
        self.layers = tuple(layers)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    def __call__(
        self, xs: Array, lengths: Array | None = None, state: Any = None, key: Array | None = None
    ) -> tuple[Array, Any]:
        return self._run(xs, lengths, state, key, final=True)

    def outputs(self, xs: Array, lengths: Array | None = None, state: Any = None, key: Array | None = None) -> Array:
        """``ys`` of `__call__` without the final state, padded steps zero: with ``lengths`` every layer runs
        unmasked over the valid steps placed first (`RNN.outputs`), so the vendor kernels (oneDNN's LSTM and GRU
        on CPU, which know no lengths) run it: for models that read only the outputs (pooling, the output at
        each sequence's last step)."""
        return self._run(xs, lengths, state, key, final=False)[0]

    def _run(self, xs: Array, lengths: Array | None, state: Any, key: Array | None, final: bool) -> tuple[Array, Any]:
        carries = self._unstack_state(state)
        keys = [None] * (2 * self.num_layers) if key is None else list(jax.random.split(key, 2 * self.num_layers))
        finals = []
        for index, layer in enumerate(self.layers):
            if index > 0:
                xs = dropout(xs, self.dropout, keys[2 * index])
            if self.bidirectional:
                carry = None if carries is None else (carries[2 * index], carries[2 * index + 1])
            else:
                carry = None if carries is None else carries[index]
            if not final:
                xs = layer.outputs(xs, lengths, carry, key=keys[2 * index + 1])
                continue
            xs, last = layer(xs, lengths, carry, key=keys[2 * index + 1])
            finals += list(last) if self.bidirectional else [last]
        return xs, jax.tree.map(lambda *leaves: jnp.stack(leaves), *finals) if final else None

    def _unstack_state(self, state: Any) -> list[Any] | None:
        """``[L * dirs, B, ...]`` leaves -> one carry per layer and direction."""
        if state is None:
            return None
        count = self.num_layers * self.num_directions
        for leaf in jax.tree.leaves(state):
            if leaf.shape[0] != count:
                raise ValueError(
                    f"state leaves must have a leading axis of num_layers * num_directions = {count}, "
                    f"got shape {tuple(leaf.shape)}"
                )
        return [jax.tree.map(lambda leaf: leaf[i], state) for i in range(count)]


class LSTM(RNNStack):
    """A multi-layer LSTM with PyTorch's ``nn.LSTM`` interface and semantics (see `RNNStack`, `LSTMCell`).

    ``state`` is ``(h_n, c_n)``, each ``[L * num_directions, B, H]`` (``h_n`` ``[..., proj_size]`` with a
    projection). Weights convert with `recurrax.interop.from_torch` / `to_torch`.

    Weights per layer and direction, as torch's ``weight_ih_l{k}`` etc. (in ``layers[l].cell``, or
    ``layers[l].forward.cell`` / ``.backward.cell`` when bidirectional): ``weight_ih`` ``[4H, D_l]``,
    ``weight_hh`` ``[4H, H]`` (``[4H, proj_size]`` with a projection), ``bias_ih`` and ``bias_hh`` ``[4H]``,
    row blocks in the gate order **i, f, g, o**; ``weight_hr`` ``[proj_size, H]``. ``D_l`` is
    ``input_size`` for layer 0, then ``H`` (``proj_size``), doubled when bidirectional.

    Args:
        input_size: features per step ``D``.
        hidden_size: LSTM units per layer and direction ``H``.
        num_layers: stacked layers ``L``, default 1.
        bidirectional: forward and backward layers, outputs concatenated, default False.
        dropout: dropout rate between layers, training mode only, default 0.0.
        key: PRNG key for the initial weights (keyword-only, required).
        proj_size: size of the recurrent projection of LSTMP, 0 for none, default 0.
        bias: with ``bias_ih`` and ``bias_hh``, default True.
        **options: further `RNNStack` and `LSTMCell` options (``peepholes``, ``forget_bias``, ``zoneout``, ...).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> lstm = rx.LSTM(3, 8, num_layers=2, key=jax.random.key(0))
        >>> ys, (h_n, c_n) = lstm(jnp.ones((4, 10, 3)), lengths=jnp.array([10, 9, 3, 1]))
        >>> ys.shape, c_n.shape
        ((4, 10, 8), (2, 4, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        *,
        key: Array,
        proj_size: int = 0,
        bias: bool = True,
        **options: Any,
    ):
        super().__init__(
            input_size, hidden_size, num_layers, bidirectional, dropout,
            key=key, cell="lstm", proj_size=proj_size, bias=bias, **options,
        )  # fmt: skip


class GRU(RNNStack):
    """A multi-layer GRU with PyTorch's ``nn.GRU`` interface (see `RNNStack`, `GRUCell`); ``state`` is ``h_n``.

    ``cho=True`` selects the original Cho et al. 2014 form (reset gate before the recurrent matmul).

    Weights per layer and direction, as torch's (in ``layers[l].cell``, or ``layers[l].forward.cell`` /
    ``.backward.cell`` when bidirectional): ``weight_ih`` ``[3H, D_l]``, ``weight_hh`` ``[3H, H]``,
    ``bias_ih`` and ``bias_hh`` ``[3H]``, row blocks in the gate order **r, z, n**; ``D_l`` is ``input_size``
    for layer 0, then ``H`` (``2H`` when bidirectional).

    Args:
        input_size: features per step ``D``.
        hidden_size: GRU units per layer and direction ``H``.
        num_layers: stacked layers ``L``, default 1.
        bidirectional: forward and backward layers, outputs concatenated, default False.
        dropout: dropout rate between layers, training mode only, default 0.0.
        key: PRNG key for the initial weights (keyword-only, required).
        bias: with ``bias_ih`` and ``bias_hh``, default True.
        **options: further `RNNStack` and `GRUCell` options (``cho``, ``recurrent_dropout``, ``zoneout``, ...).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> gru = rx.GRU(3, 8, num_layers=2, key=jax.random.key(0))
        >>> ys, h_n = gru(jnp.ones((4, 10, 3)))
        >>> ys.shape, h_n.shape, gru.layers[1].cell.weight_ih.shape
        ((4, 10, 8), (2, 4, 8), (24, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        *,
        key: Array,
        bias: bool = True,
        **options: Any,
    ):
        super().__init__(
            input_size, hidden_size, num_layers, bidirectional, dropout, key=key, cell="gru", bias=bias, **options
        )
