"""Why LSTMs exist: the adding problem, LSTM vs vanilla RNN (Hochreiter & Schmidhuber 1997).

Trains the same small regressor (a recurrent layer, then a linear read-out of the last hidden state) with
each cell on `recurrax.data.adding_problem` at each sequence length, with Adam and global-norm clipping
(Pascanu et al. 2013), and reports the test MSE as training goes. Predicting the mean scores 0.167; an LSTM
goes well below it, a tanh RNN's gradient vanishes over the long gap and it stays near it.

Writes ``curves.json``, ``curves.png`` and ``report.md`` under ``--out``.

    python -m recurrax.demos.adding --out runs/adding
    python -m recurrax.demos.adding --lengths 50 --steps 300 --cells lstm gru rnn_tanh
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

import recurrax as rx
from recurrax.train import OptimConfig, make_optimizer

MEAN_PREDICTOR_MSE = 1.0 / 6.0


class LastStepRegressor(eqx.Module):
    """``[B, T, D] -> [B]``: a recurrent stack and a linear read-out of its last output."""

    rnn: rx.RNNStack
    weight: Array
    bias: Array

    def __init__(self, cell: str, input_size: int, hidden_size: int, *, key: Array):
        k_rnn, k_head = jax.random.split(key)
        self.rnn = rx.RNNStack(input_size, hidden_size, cell=cell, key=k_rnn)
        self.weight = jax.random.normal(k_head, (hidden_size,), jnp.float32) / hidden_size**0.5
        self.bias = jnp.ones((), jnp.float32)  # start at the mean target

    def __call__(self, xs: Array) -> Array:
        ys, _ = self.rnn(xs)
        return ys[:, -1] @ self.weight + self.bias


def train_curve(cell: str, length: int, args: argparse.Namespace) -> list[tuple[int, float]]:
    """Train one model; return ``[(step, test MSE), ...]`` every ``args.eval_every`` steps."""
    k_model, k_test, k_train = jax.random.split(jax.random.key(args.seed), 3)
    model = LastStepRegressor(cell, 2, args.hidden, key=k_model)
    optimizer = make_optimizer(OptimConfig(name="adam", lr=args.lr, clip_norm=args.clip), args.steps)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    test_x, test_y = rx.data.adding_problem(k_test, args.test_size, length)

    def mse(model, xs, ys):
        return jnp.mean((model(xs) - ys) ** 2)

    @eqx.filter_jit
    def train_step(model, opt_state, key):
        xs, ys = rx.data.adding_problem(key, args.batch, length)
        loss, grads = eqx.filter_value_and_grad(mse)(model, xs, ys)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    evaluate = eqx.filter_jit(mse)
    curve = [(0, float(evaluate(model, test_x, test_y)))]
    for step, key in enumerate(jax.random.split(k_train, args.steps), start=1):
        model, opt_state, _ = train_step(model, opt_state, key)
        if step % args.eval_every == 0:
            curve.append((step, float(evaluate(model, test_x, test_y))))
    return curve


def curves_table(curves: dict[str, list[tuple[int, float]]]) -> str:
    """A markdown table: one row per evaluation step, one column per run."""
    names = list(curves)
    rows = ["| step | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for index, (step, _) in enumerate(curves[names[0]]):
        rows.append(f"| {step} | " + " | ".join(f"{curves[n][index][1]:.4f}" for n in names) + " |")
    return "\n".join(rows)


def plot_curves(curves: dict[str, list[tuple[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        steps, losses = zip(*curve)
        ax.plot(steps, losses, label=name)
    ax.axhline(MEAN_PREDICTOR_MSE, color="grey", linestyle="--", label="predict the mean (0.167)")
    ax.set(xlabel="training step", ylabel="test MSE", yscale="log", title="The adding problem")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/adding"), help="run directory")
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 200], help="sequence lengths T")
    parser.add_argument("--cells", nargs="+", default=["lstm", "rnn_tanh"], help="registered cell names")
    parser.add_argument("--steps", type=int, default=3500, help="training steps per run")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip")
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    unknown = [c for c in args.cells if c not in rx.cells.CELLS]
    if unknown:
        parser.error(f"unknown cells {unknown}; known: {', '.join(sorted(rx.cells.CELLS))}")
    return args


def main(argv: list[str] | None = None) -> dict[str, list[tuple[int, float]]]:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    curves = {}
    for length in args.lengths:
        for cell in args.cells:
            start = time.perf_counter()
            curves[f"{cell} T={length}"] = curve = train_curve(cell, length, args)
            print(f"{cell:>10} T={length}: test MSE {curve[-1][1]:.4f} ({time.perf_counter() - start:.0f} s)")
    table = curves_table(curves)
    (args.out / "curves.json").write_text(json.dumps(curves, indent=1))
    plot_curves(curves, args.out / "curves.png")
    (args.out / "report.md").write_text(
        f"# The adding problem\n\nTest MSE (mean predictor: {MEAN_PREDICTOR_MSE:.3f}).\n\n{table}\n"
    )
    print(f"\nTest MSE during training (predicting the mean scores {MEAN_PREDICTOR_MSE:.3f}):\n\n{table}")
    print(f"\nWrote {args.out}/report.md, curves.png, curves.json")
    return curves


if __name__ == "__main__":
    main()
