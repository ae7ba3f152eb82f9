"""``recurrax rl train|evaluate|play``: recurrent policies trained with PPO."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._options import ConfigFile, Out, Overrides, Progress, Resume, RunPath, Seed, fit_arguments

app = typer.Typer(help="Train, evaluate and watch recurrent policies (PPO) on memory tasks.", no_args_is_help=True)

Greedy = Annotated[bool | None, typer.Option("--greedy/--sample", help="Greedy or sampled actions "
                                             "(default: the run's train.greedy).")]  # fmt: skip


@app.command()
def train(
    config: ConfigFile = None,
    overrides: Overrides = None,
    seed: Seed = None,
    out: Out = None,
    resume: Resume = False,
    progress: Progress = True,
) -> None:
    """Train train.seeds policies as one program; writes config.toml, metrics.jsonl, checkpoints/,
    learning_curve.png and report.md, and prints the evaluation (mean return ± sd over seeds). --resume
    continues a killed gymnax run from its last checkpoint, to the same result.

    Examples:

      recurrax rl train --config configs/rl.toml --set env.memory_length=20 --out runs/chain20

      recurrax rl train --set model.cell=mlp --set env.memory_length=20 --out runs/chain20-mlp

      recurrax rl train --set env.name=CartPole-v1 --set "env.observe=[0, 2]" --set model.cell=gru

      recurrax rl train --set env.name=popgym:RepeatPreviousEasy --set ppo.updates=300

      recurrax rl train --out runs/chain20 --resume
    """
    from ..tasks import rl

    cfg, run_dir = fit_arguments(rl.RLConfig, "rl", config, overrides, seed, out, resume)
    run = rl.train(cfg, run_dir, progress=progress, resume=resume)
    typer.echo(_scores_line(run.scores))
    typer.echo(f"wrote {run_dir}/report.md, learning_curve.png, metrics.jsonl, checkpoints/")


@app.command()
def evaluate(
    run: RunPath,
    episodes: Annotated[int | None, typer.Option(help="Episodes per seed (default train.eval_envs).", min=1)] = None,
    greedy: Greedy = None,
    seed: Annotated[int, typer.Option(help="Evaluation seed (the environments' draws).")] = 10_000,
) -> None:
    """Mean return over fresh episodes for every seed's policy, and mean ± sd over seeds, as JSON.

    Example: recurrax rl evaluate runs/chain20 --episodes 256
    """
    from ..tasks import rl

    typer.echo(json.dumps(rl.evaluate(run, episodes=episodes, greedy=greedy, seed=seed)))


@app.command()
def play(
    run: RunPath,
    index: Annotated[int, typer.Option(help="Which seed's policy (0-based).", min=0)] = 0,
    greedy: Greedy = None,
    seed: Annotated[int, typer.Option(help="The episode's random seed.")] = 0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps.", min=1)] = 200,
) -> None:
    """Print one episode step by step: observation, action probabilities, action, reward, value estimate.

    Example: recurrax rl play runs/chain20 --index 1 --seed 3
    """
    from ..tasks import rl

    loaded_seeds = rl.load(run).seeds
    if index >= loaded_seeds:
        raise typer.BadParameter(f"--index {index} is out of range: the run has {loaded_seeds} seeds")
    rows = rl.play(run, index=index, greedy=greedy, seed=seed, max_steps=max_steps)
    for row in rows:
        obs = " ".join(f"{v:+.2f}" for v in row["obs"])
        probs = " ".join(f"{p:.2f}" for p in row["probs"])
        typer.echo(f"t={row['t']:3d}  obs [{obs}]  p [{probs}]  action {row['action']}  "
                   f"reward {row['reward']:+.2f}  value {row['value']:+.3f}")  # fmt: skip
    typer.echo(f"episode return {sum(row['reward'] for row in rows):+.2f} in {len(rows)} steps")


def _scores_line(scores: dict) -> str:
    seeds = ", ".join(f"{r:.3f}" for r in scores["return_per_seed"])
    return (f"{scores['env']}: return {scores['return']:.3f} ± {scores['return_sd']:.3f} over "
            f"{len(scores['return_per_seed'])} seeds ({seeds}; {scores['episodes']} episodes each)")  # fmt: skip
