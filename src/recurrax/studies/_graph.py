"""Recurrent cells as small computation graphs (Jozefowicz, Zaremba & Sutskever 2015, section 3).

A `CellGraph` is a list of nodes in topological order, each ``(name, op, args)``; every value is ``[B, H]``
wide, so any node may feed any other. Leaves are ``"h"`` (``h_{t-1}``) and, for cells with a memory,
``"c"`` (``c_{t-1}``). Ops:

==============  =====  ==========================================================================
op              args   value
==============  =====  ==========================================================================
``wx``          0      ``W x_t + b``, its own ``[H, D]`` kernel; hoisted out of the scan
``wh``          1      ``W a + b``, its own ``[H, H]`` kernel (the recurrent matmuls)
``sigmoid``     1      ``σ(a)``
``tanh``        1      ``tanh(a)``
``relu``        1      ``max(a, 0)``
``oneminus``    1      ``1 - a``
``add``         2      ``a + b``
``mul``         2      ``a ⊙ b``
==============  =====  ==========================================================================

The graph names the node that is ``h_t`` (also ``y_t``) and, with a memory, the node that is ``c_t``; the
carry is ``h`` or ``(h, c)``. `GraphCell` turns a graph into an equinox cell of the zoo's interface, so
``rx.RNNStack(D, H, cell=graph_cell_factory(graph), key=key)`` trains it. `LSTM_GRAPH`, `GRU_GRAPH` and
`MUT1_GRAPH`...`MUT3_GRAPH` are the zoo's cells written as graphs (equal to them with copied weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..cells import AbstractCell, check_input_size, check_sizes, default_dtype, glorot_uniform, masked

UNARY = ("wh", "sigmoid", "tanh", "relu", "oneminus")
BINARY = ("add", "mul")
ARITY = {"wx": 0, **{op: 1 for op in UNARY}, **{op: 2 for op in BINARY}}
_POINTWISE = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "oneminus": lambda a: 1.0 - a,
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
}

Node = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class CellGraph:
    """A cell as nodes ``(name, op, args)`` in topological order; ``h`` and ``c`` name the output nodes
    (``c`` None for a cell without memory). Construction validates: known ops, right arity, unique names,
    args naming a leaf or an earlier node."""

    nodes: tuple[Node, ...]
    h: str
    c: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "nodes", tuple((n, op, tuple(args)) for n, op, args in self.nodes))
        seen = set(self.leaves)
        for name, op, args in self.nodes:
            if op not in ARITY:
                raise ValueError(f"node {name!r}: unknown op {op!r}; known ops: {', '.join(ARITY)}")
            if len(args) != ARITY[op]:
                raise ValueError(f"node {name!r}: op {op!r} takes {ARITY[op]} inputs, got {len(args)}")
            missing = [a for a in args if a not in seen]
            if missing:
                raise ValueError(f"node {name!r} reads {missing[0]!r}, which is neither a leaf nor an earlier node")
            if name in seen:
                raise ValueError(f"node name {name!r} is used twice")
            seen.add(name)
        for output in (self.h, self.c):
            if output is not None and output not in {n for n, _, _ in self.nodes}:
                raise ValueError(f"output {output!r} is not a node of the graph")

    @property
    def leaves(self) -> tuple[str, ...]:
        """``("h",)`` or ``("h", "c")``."""
        return ("h",) if self.c is None else ("h", "c")

    def names(self, op: str) -> tuple[str, ...]:
        """The names of the nodes with operation ``op``, in order (the order of their weights)."""
        return tuple(name for name, o, _ in self.nodes if o == op)

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [[n, op, list(args)] for n, op, args in self.nodes], "h": self.h, "c": self.c}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellGraph:
        unknown = set(data) - {"nodes", "h", "c"}
        if unknown or "nodes" not in data or "h" not in data:
            raise ValueError(f"a cell graph is {{'nodes', 'h', 'c'}}, got keys {sorted(data)}")
        return cls(tuple((n, op, tuple(args)) for n, op, args in data["nodes"]), data["h"], data.get("c"))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> CellGraph:
        return cls.from_json(json.loads(Path(path).read_text()))

    def formula(self) -> str:
        """The outputs as nested expressions, e.g. ``h = tanh(add(wx, wh(h)))``; for reports."""

        def expr(name: str) -> str:
            if name in self.leaves:
                return name + "'"  # the previous step's value
            _, op, args = next(node for node in self.nodes if node[0] == name)
            return op if not args else f"{op}({', '.join(expr(a) for a in args)})"

        text = f"h = {expr(self.h)}"
        return text if self.c is None else f"c = {expr(self.c)}; {text}"


class GraphCell(AbstractCell):
    r"""A cell that evaluates a `CellGraph` each step; carry ``h`` ``[B, H]`` or ``(h, c)``, output ``h_t``.

    Parameters: ``weight_x`` ``[K H, D]`` and ``bias_x`` ``[K H]``, the ``K`` ``wx`` nodes' kernels stacked
    in node order (one hoisted matmul); ``weight_h`` ``[M, H, H]`` and ``bias_h`` ``[M, H]``, the ``M``
    ``wh`` nodes'. Defaults: glorot-uniform ``weight_x``, orthogonal ``weight_h``, zero biases (the graph
    sets no forget bias). ``recurrent_mask`` multiplies ``h_{t-1}`` where it is read inside a ``wh``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from recurrax.studies import GRU_GRAPH, GraphCell
        >>> cell = GraphCell(GRU_GRAPH, 3, 5, key=jax.random.key(0))
        >>> h, y = cell(cell.init_carry(2), jnp.ones((2, 3)))
        >>> h.shape
        (2, 5)
    """

    weight_x: Array
    bias_x: Array
    weight_h: Array
    bias_h: Array
    graph: CellGraph = eqx.field(static=True)
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)

    def __init__(self, graph: CellGraph, input_size: int, hidden_size: int, *, key: Array, dtype: Any = None):
        check_sizes(input_size, hidden_size)
        dtype = default_dtype(dtype)
        self.graph, self.input_size, self.hidden_size = graph, input_size, hidden_size
        k_x, k_h = jax.random.split(key)
        n_x, n_h = len(graph.names("wx")), len(graph.names("wh"))
        self.weight_x = glorot_uniform(k_x, (n_x * hidden_size, input_size), dtype)
        self.bias_x = jnp.zeros((n_x * hidden_size,), dtype)
        ortho = jax.nn.initializers.orthogonal()
        keys = jax.random.split(k_h, max(n_h, 1))[:n_h]
        blocks = [ortho(k, (hidden_size, hidden_size), jnp.float32) for k in keys]
        self.weight_h = (jnp.stack(blocks) if blocks else jnp.zeros((0, hidden_size, hidden_size))).astype(dtype)
        self.bias_h = jnp.zeros((n_h, hidden_size), dtype)

    def with_linear(self, name: str, weight: Array, bias: Array | None = None) -> GraphCell:
        """A copy with the kernel (and bias) of node ``name`` (a ``wx`` or ``wh``) replaced: copies weights in."""
        hidden = self.hidden_size
        bias = jnp.zeros((hidden,), self.bias_x.dtype) if bias is None else bias
        if name in self.graph.names("wx"):
            k = self.graph.names("wx").index(name)
            return eqx.tree_at(
                lambda c: (c.weight_x, c.bias_x),
                self,
                (
                    self.weight_x.at[k * hidden : (k + 1) * hidden].set(weight),
                    self.bias_x.at[k * hidden : (k + 1) * hidden].set(bias),
                ),
            )
        if name in self.graph.names("wh"):
            k = self.graph.names("wh").index(name)
            return eqx.tree_at(
                lambda c: (c.weight_h, c.bias_h), self, (self.weight_h.at[k].set(weight), self.bias_h.at[k].set(bias))
            )
        raise ValueError(f"{name!r} is not a wx or wh node of the graph")

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., K H]``: every ``wx`` node at once."""
        check_input_size(self, x)
        return x @ self.weight_x.T + self.bias_x.reshape((1,) * (x.ndim - 1) + self.bias_x.shape)

    def init_carry(self, batch_size: int, dtype: Any = None):
        """``h`` zeros ``[B, H]``, or ``(h, c)`` for a graph with a memory."""
        dtype = self.weight_x.dtype if dtype is None else dtype
        h = jnp.zeros((batch_size, self.hidden_size), dtype)
        return h if self.graph.c is None else (h, h)

    def step(self, carry, xp: Array, recurrent_mask: Array | None = None):
        """Evaluate the graph's nodes in order on ``h_{t-1}`` (``c_{t-1}``) and ``xp_t``; returns ``(carry, h_t)``."""
        graph, hidden = self.graph, self.hidden_size
        h, c = (carry, None) if graph.c is None else carry
        x_index = {n: k for k, n in enumerate(graph.names("wx"))}
        h_index = {n: k for k, n in enumerate(graph.names("wh"))}
        ops = {name: (op, args) for name, op, args in graph.nodes}
        memo: dict[tuple[str, bool], Array] = {}

        def value(name: str, in_matmul: bool) -> Array:
            if (name, in_matmul) in memo:
                return memo[name, in_matmul]
            if name == "h":
                out = masked(h, recurrent_mask) if in_matmul else h
            elif name == "c":
                out = c
            else:
                op, args = ops[name]
                if op == "wx":
                    k = x_index[name]
                    out = xp[..., k * hidden : (k + 1) * hidden]
                elif op == "wh":
                    k = h_index[name]
                    out = value(args[0], True) @ self.weight_h[k].T + self.bias_h[k][None]
                else:
                    out = _POINTWISE[op](*(value(a, in_matmul) for a in args))
            memo[name, in_matmul] = out
            return out

        h_new = value(graph.h, False)
        if graph.c is None:
            return h_new, h_new
        return (h_new, value(graph.c, False)), h_new


def graph_cell_factory(graph: CellGraph):
    """A factory for `recurrax.RNNStack(cell=...)`: every layer a `GraphCell` of ``graph``."""

    def make(input_size: int, hidden_size: int, *, key, layer: int = 0, num_layers: int = 1, **options):
        return GraphCell(graph, input_size, hidden_size, key=key, **options)

    return make


def _gate(name: str, act: str, extra: str = "h") -> list[Node]:
    """``act(wx_name + wh_name(extra))`` as three nodes ending in ``name``."""
    return [(f"x_{name}", "wx", ()), (f"h_{name}", "wh", (extra,)), (f"s_{name}", "add", (f"x_{name}", f"h_{name}")),
            (name, act, (f"s_{name}",))]  # fmt: skip


LSTM_GRAPH = CellGraph(
    (*_gate("i", "sigmoid"), *_gate("f", "sigmoid"), *_gate("g", "tanh"), *_gate("o", "sigmoid"),
     ("fc", "mul", ("f", "c")), ("ig", "mul", ("i", "g")), ("c_new", "add", ("fc", "ig")),
     ("tc", "tanh", ("c_new",)), ("h_new", "mul", ("o", "tc"))),
    h="h_new", c="c_new",
)  # fmt: skip
"""The LSTM (Hochreiter & Schmidhuber 1997; forget gate Gers et al. 2000): gates i, f, g, o; carry (h, c)."""

_BLEND = (("one_z", "oneminus", ("z",)),)

GRU_GRAPH = CellGraph(
    (*_gate("r", "sigmoid"), *_gate("z", "sigmoid"), ("x_n", "wx", ()), ("h_n", "wh", ("h",)),
     ("rh_n", "mul", ("r", "h_n")), ("s_n", "add", ("x_n", "rh_n")), ("n", "tanh", ("s_n",)), *_BLEND,
     ("zn", "mul", ("one_z", "n")), ("zh", "mul", ("z", "h")), ("h_new", "add", ("zn", "zh"))),
    h="h_new",
)  # fmt: skip
"""The GRU in PyTorch's form: ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``."""


def _mut(z_nodes: list[Node], r_nodes: list[Node], x_h: list[Node]) -> CellGraph:
    """The MUT skeleton: ``h' = tanh(W_hh (r ⊙ h) + hx) ⊙ z + h ⊙ (1 - z)``, ``hx`` the last of ``x_h``."""
    return CellGraph(
        (*z_nodes, *r_nodes, *x_h, ("rh", "mul", ("r", "h")), ("w_rh", "wh", ("rh",)),
         ("s_c", "add", ("w_rh", x_h[-1][0])), ("cand", "tanh", ("s_c",)), *_BLEND, ("cz", "mul", ("cand", "z")),
         ("hz", "mul", ("h", "one_z")), ("h_new", "add", ("cz", "hz"))),
        h="h_new",
    )  # fmt: skip


MUT1_GRAPH = _mut(
    [("x_z", "wx", ()), ("z", "sigmoid", ("x_z",))],
    _gate("r", "sigmoid"),
    [("x_e", "wx", ()), ("tx", "tanh", ("x_e",))],
)
"""MUT1: ``z = σ(W_xz x)``, ``r = σ(W_xr x + W_hr h)``, ``h' = tanh(W_hh (r ⊙ h) + tanh(W_e x)) ⊙ z + h ⊙ (1-z)``
(``W_e = I`` gives the paper's ``tanh(x)`` when ``D == H``)."""

MUT2_GRAPH = _mut(_gate("z", "sigmoid"), _gate("r", "sigmoid"), [("x_h", "wx", ())])
"""MUT2: ``z = σ(W_xz x + W_hz h)``, ``r = σ(W_e x + W_hr h)`` (``W_e = I``: the paper's ``x``),
``h' = tanh(W_hh (r ⊙ h) + W_xh x) ⊙ z + h ⊙ (1 - z)``."""

MUT3_GRAPH = _mut(
    [("th", "tanh", ("h",)), *_gate("z", "sigmoid", extra="th")], _gate("r", "sigmoid"), [("x_h", "wx", ())]
)
"""MUT3: ``z = σ(W_xz x + W_hz tanh(h))``, ``r = σ(W_xr x + W_hr h)``,
``h' = tanh(W_hh (r ⊙ h) + W_xh x) ⊙ z + h ⊙ (1 - z)``."""

REFERENCE_GRAPHS = {"lstm": LSTM_GRAPH, "gru": GRU_GRAPH, "mut1": MUT1_GRAPH, "mut2": MUT2_GRAPH, "mut3": MUT3_GRAPH}
