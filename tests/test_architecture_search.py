"""Cells as graphs (recurrax.studies): the zoo's cells as graphs equal the zoo's cells with copied weights,
JSON round trips, every mutation and crossover gives a valid graph that compiles and runs, and a tiny search
runs end to end through the CLI."""

from __future__ import annotations

import json
import random

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import recurrax as rx
from recurrax.cli._app import app
from recurrax.studies import (
    GRU_GRAPH,
    LSTM_GRAPH,
    MUT1_GRAPH,
    MUT2_GRAPH,
    MUT3_GRAPH,
    CellGraph,
    GraphCell,
    crossover,
    graph_cell_factory,
    mutate,
)

D = H = 4  # D == H: MUT1 and MUT2 add x itself, as in the paper


def _random_biases(cell, key):
    """The zoo's cells start with zero biases; random ones make the oracle check them."""
    leaves = [k for k in ("bias", "bias_ih", "bias_hh") if getattr(cell, k, None) is not None]
    keys = jax.random.split(key, len(leaves))
    values = [jax.random.normal(k, getattr(cell, n).shape) for k, n in zip(keys, leaves)]
    return eqx.tree_at(lambda c: [getattr(c, n) for n in leaves], cell, values)


def _blocks(w, n):
    return jnp.split(w, n, axis=0)


def _copied(name, zoo):
    """The graph cell of ``name`` with ``zoo``'s weights: ``{node: (weight, bias)}`` by the docstrings' layouts."""
    eye, zero = jnp.eye(H), jnp.zeros(H)
    if name == "lstm":
        wi, wh, b = _blocks(zoo.weight_ih, 4), _blocks(zoo.weight_hh, 4), _blocks(zoo.bias_ih + zoo.bias_hh, 4)
        links = {f"x_{g}": (wi[k], b[k]) for k, g in enumerate("ifgo")} | {
            f"h_{g}": (wh[k], zero) for k, g in enumerate("ifgo")
        }
        graph = LSTM_GRAPH
    elif name == "gru":
        wi, wh, bi, bh = (_blocks(a, 3) for a in (zoo.weight_ih, zoo.weight_hh, zoo.bias_ih, zoo.bias_hh))
        links = {"x_r": (wi[0], bi[0] + bh[0]), "h_r": (wh[0], zero), "x_z": (wi[1], bi[1] + bh[1]),
                 "h_z": (wh[1], zero), "x_n": (wi[2], bi[2]), "h_n": (wh[2], bh[2])}  # fmt: skip
        graph = GRU_GRAPH
    else:
        wi = dict(zip(zoo.input_kernels, _blocks(zoo.weight_ih, len(zoo.input_kernels))))
        wg = dict(zip(zoo.recurrent_kernels, _blocks(zoo.weight_hh_gates, len(zoo.recurrent_kernels))))
        b_z, b_r, b_h = _blocks(zoo.bias, 3)
        links = {"w_rh": (zoo.weight_hh, zero), "h_r": (wg["r"], zero)}
        if name == "mut1":
            links |= {"x_z": (wi["z"], b_z), "x_r": (wi["r"], b_r), "x_e": (eye, zero), "w_rh": (zoo.weight_hh, b_h)}
        elif name == "mut2":
            links |= {"x_z": (wi["z"], b_z), "h_z": (wg["z"], zero), "x_r": (eye, b_r), "x_h": (wi["h"], b_h)}
        else:
            links |= {"x_z": (wi["z"], b_z), "h_z": (wg["z"], zero), "x_r": (wi["r"], b_r), "x_h": (wi["h"], b_h)}
        graph = {"mut1": MUT1_GRAPH, "mut2": MUT2_GRAPH, "mut3": MUT3_GRAPH}[name]
    cell = GraphCell(graph, D, H, key=jax.random.key(9))
    assert set(links) == set(graph.names("wx")) | set(graph.names("wh"))
    for node, (weight, bias) in links.items():
        cell = cell.with_linear(node, weight, bias)
    return cell


@pytest.mark.parametrize("name", ["lstm", "gru", "mut1", "mut2", "mut3"])
def test_graph_cells_equal_the_zoo_cells(name):
    zoo = _random_biases(rx.cells.make_cell(name, D, H, key=jax.random.key(1)), jax.random.key(2))
    cell = _copied(name, zoo)
    xs = jax.random.normal(jax.random.key(3), (2, 3, D))
    carry_zoo, carry = zoo.init_carry(2), cell.init_carry(2)
    for t in range(3):  # a plain loop: three steps of both cells
        carry_zoo, y_zoo = zoo(carry_zoo, xs[:, t])
        carry, y = cell(carry, xs[:, t])
        np.testing.assert_allclose(y, y_zoo, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(carry), jax.tree.leaves(carry_zoo)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_graph_cell_runs_in_an_rnn_stack_like_a_loop():
    stack = rx.RNNStack(D, H, cell=graph_cell_factory(LSTM_GRAPH), key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (2, 5, D))
    ys, (_, c_n) = stack(xs)
    cell, carry = stack.layers[0].cell, stack.layers[0].cell.init_carry(2)
    for t in range(5):
        carry, y = cell(carry, xs[:, t])
        np.testing.assert_allclose(ys[:, t], y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c_n[0], carry[1], rtol=1e-5, atol=1e-6)


def test_json_round_trip_and_errors(tmp_path):
    for graph in (LSTM_GRAPH, GRU_GRAPH, MUT3_GRAPH):
        graph.save(tmp_path / "g.json")
        assert CellGraph.load(tmp_path / "g.json") == graph
    data = LSTM_GRAPH.to_json()
    data["nodes"][0][1] = "softplus"
    with pytest.raises(ValueError, match="unknown op 'softplus'"):
        CellGraph.from_json(data)
    with pytest.raises(ValueError, match="neither a leaf nor an earlier node"):
        CellGraph((("a", "tanh", ("b",)), ("b", "tanh", ("h",))), h="a")
    with pytest.raises(ValueError, match="takes 2 inputs"):
        CellGraph((("a", "add", ("h",)),), h="a")


def test_mutations_and_crossovers_give_valid_graphs_that_run():
    rng = random.Random(0)
    parents = [LSTM_GRAPH, GRU_GRAPH, MUT1_GRAPH, MUT2_GRAPH, MUT3_GRAPH]
    graphs = []
    for k in range(300):
        if k % 3 == 2:
            child = crossover(rng.choice(parents), rng.choice(parents), rng)
        else:
            child = mutate(rng.choice(parents), rng)
        assert CellGraph.from_json(json.loads(json.dumps(child.to_json()))) == child  # valid and serialisable
        parents.append(child)
        graphs.append(child)
    changed = [g for g in graphs[:60] if g not in (LSTM_GRAPH, GRU_GRAPH, MUT1_GRAPH, MUT2_GRAPH, MUT3_GRAPH)]
    assert len(changed) == 60
    picked = graphs[-12:]  # the most mutated ones
    cells = [GraphCell(g, 3, 5, key=jax.random.key(k)) for k, g in enumerate(picked)]
    xs = jax.random.normal(jax.random.key(0), (2, 6, 3))

    @jax.jit
    def run_all(cells, xs):
        return [rx.RNN(cell)(xs)[0] for cell in cells]

    for ys in run_all(cells, xs):
        assert ys.shape == (2, 6, 5) and bool(jnp.isfinite(ys).all())


@pytest.mark.slow  # a search with retraining (about 25 s); the graph, mutation and stack tests run always
def test_tiny_search_through_the_cli(tmp_path):
    from typer.testing import CliRunner

    args = ["study", "architecture-search", "--budget", "tiny", "--references", "lstm", "--no-forget-bias"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    labels = [row["label"] for row in results["final"]]
    assert labels[-1] == "lstm" and len(labels) == 2 and results["configs_on_test"] == 2
    best = CellGraph.load(tmp_path / "best_1.json")
    assert best.to_json() == results["final"][0]["graph"]
    searched = sorted((r for r in results["search"] if r["graph"]), key=lambda r: r["fitness"])
    assert results["final"][0]["graph"] == searched[0]["graph"]  # the finalist is the best on validation
    for row in results["final"]:
        assert len(row["tasks"]["adding4"]["seeds"]) == 2
        assert row["mean"]["mean"] == pytest.approx(np.mean(row["tasks"]["adding4"]["seeds"]))
    bad = CliRunner().invoke(app, ["study", "architecture-search", "--budget", "huge", "--out", str(tmp_path)])
    assert bad.exit_code != 0
