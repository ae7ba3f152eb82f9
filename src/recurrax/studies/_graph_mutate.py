"""Mutation and crossover of `CellGraph` s, as in the search of Jozefowicz, Zaremba & Sutskever 2015.

Every operator returns a valid graph (validated by `CellGraph`'s constructor), pruned of nodes that no
output reads and renamed ``n0, n1, ...`` in topological order. Randomness comes from a ``random.Random``.

Mutations (`mutate` picks one uniformly, retrying until the graph changes):

- ``replace_op``: a unary op becomes another unary op (``wh, sigmoid, tanh, relu, oneminus``), a binary op
  the other binary op (the paper's "replace the activation / the node's operation");
- ``change_input``: one input of a node becomes another leaf or earlier node;
- ``insert``: a random unary op is inserted on one input of a node;
- ``remove``: a unary node is bypassed, its readers read its input;
- ``swap_subtree``: one input of a node becomes a fresh random subtree of depth <= 2.

`crossover` grafts a node of one parent, with everything it reads, onto an input of a node of the other.
"""

from __future__ import annotations

import random

from ._graph import ARITY, BINARY, UNARY, CellGraph, Node

MUTATIONS = ("replace_op", "change_input", "insert", "remove", "swap_subtree")


def canonical(nodes: list[Node], h: str, c: str | None) -> CellGraph:
    """Drop the nodes no output reads and rename the rest ``n0, n1, ...`` in order."""
    needed = {h} | ({c} if c else set())
    for name, _, args in reversed(nodes):
        if name in needed:
            needed.update(args)
    kept = [node for node in nodes if node[0] in needed]
    rename = {name: f"n{k}" for k, (name, _, _) in enumerate(kept)}
    rename.update({"h": "h", "c": "c"})
    out = [(rename[name], op, tuple(rename[a] for a in args)) for name, op, args in kept]
    return CellGraph(tuple(out), rename[h], rename[c] if c else None)


def _fresh(nodes: list[Node], prefix: str = "m") -> str:
    taken = {name for name, _, _ in nodes}
    k = 0
    while f"{prefix}{k}" in taken:
        k += 1
    return f"{prefix}{k}"


def _random_subtree(rng: random.Random, nodes: list[Node], sources: list[str], depth: int) -> tuple[list[Node], str]:
    """New nodes (appended to a copy) for a random expression over ``sources``; returns them and the root."""
    if depth == 0 or rng.random() < 0.3:
        if rng.random() < 0.3:
            name = _fresh(nodes)
            return [(name, "wx", ())], name
        return [], rng.choice(sources)
    op = rng.choice(UNARY + BINARY)
    new: list[Node] = []
    args = []
    for _ in range(ARITY[op]):
        sub, root = _random_subtree(rng, nodes + new, sources, depth - 1)
        new += sub
        args.append(root)
    name = _fresh(nodes + new)
    return new + [(name, op, tuple(args))], name


def _with_input(nodes: list[Node], index: int, slot: int, new: list[Node], root: str) -> list[Node]:
    """``nodes`` with ``new`` inserted before node ``index`` and its input ``slot`` set to ``root``."""
    name, op, args = nodes[index]
    args = args[:slot] + (root,) + args[slot + 1 :]
    return nodes[:index] + new + [(name, op, args)] + nodes[index + 1 :]


def mutate(graph: CellGraph, rng: random.Random, kind: str | None = None) -> CellGraph:
    """One random mutation of ``graph`` (of ``kind`` when given, one of `MUTATIONS`); always a valid graph."""
    if kind is not None and kind not in MUTATIONS:
        raise ValueError(f"unknown mutation {kind!r}; known: {', '.join(MUTATIONS)}")
    for _ in range(100):
        candidate = _mutate_once(graph, rng, kind or rng.choice(MUTATIONS))
        if candidate is not None and candidate != canonical(list(graph.nodes), graph.h, graph.c):
            return candidate
    return canonical(list(graph.nodes), graph.h, graph.c)


def _mutate_once(graph: CellGraph, rng: random.Random, kind: str) -> CellGraph | None:
    nodes = list(graph.nodes)
    with_inputs = [k for k, (_, op, _) in enumerate(nodes) if ARITY[op] > 0]
    if kind == "replace_op":
        k = rng.choice(with_inputs)
        name, op, args = nodes[k]
        nodes[k] = (name, rng.choice([o for o in (UNARY if op in UNARY else BINARY) if o != op]), args)
    elif kind == "remove":
        unary = [k for k in with_inputs if nodes[k][1] in UNARY and nodes[k][0] not in (graph.h, graph.c)]
        if not unary:
            return None
        name, _, (arg,) = nodes.pop(rng.choice(unary))
        nodes = [(n, op, tuple(arg if a == name else a for a in args)) for n, op, args in nodes]
    else:
        k = rng.choice(with_inputs)
        slot = rng.randrange(ARITY[nodes[k][1]])
        sources = list(graph.leaves) + [n for n, _, _ in nodes[:k]]
        if kind == "change_input":
            new, root = [], rng.choice(sources)
        elif kind == "insert":
            new = [(_fresh(nodes), rng.choice(UNARY), (nodes[k][2][slot],))]
            root = new[0][0]
        else:  # swap_subtree
            new, root = _random_subtree(rng, nodes, sources, depth=2)
        nodes = _with_input(nodes, k, slot, new, root)
    return canonical(nodes, graph.h, graph.c)


def crossover(a: CellGraph, b: CellGraph, rng: random.Random) -> CellGraph:
    """A child of ``a``: one input of a random node of ``a`` reads a random node of ``b`` (copied with all it
    reads; ``b``'s leaves become ``a``'s, ``c`` becoming ``h`` where ``a`` has no memory)."""
    donor = rng.choice(b.nodes)[0]
    needed = {donor}
    for name, _, args in reversed(b.nodes):
        if name in needed:
            needed.update(args)
    leaf = {"h": "h", "c": "c" if a.c is not None else "h"}
    rename = {**leaf, **{name: f"x{name}" for name, _, _ in b.nodes}}
    graft = [(rename[n], op, tuple(rename[x] for x in args)) for n, op, args in b.nodes if n in needed]
    nodes = list(a.nodes)
    k = rng.choice([k for k, (_, op, _) in enumerate(nodes) if ARITY[op] > 0])
    nodes = _with_input(nodes, k, rng.randrange(ARITY[nodes[k][1]]), graft, rename[donor])
    return canonical(nodes, a.h, a.c)
