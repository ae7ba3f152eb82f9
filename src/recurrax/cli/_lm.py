"""``recurrax lm fit|evaluate|sample``: language models."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._options import ConfigFile, DataDir, Out, Overrides, Progress, Resume, RunPath, Seed, fit_arguments

app = typer.Typer(help="Train, evaluate and sample character- or word-level language models.", no_args_is_help=True)


@app.command()
def fit(
    config: ConfigFile = None,
    overrides: Overrides = None,
    seed: Seed = None,
    out: Out = None,
    data_dir: DataDir = None,
    resume: Resume = False,
    progress: Progress = True,
) -> None:
    """Train a language model; writes config.toml, metrics.jsonl, checkpoints/, loss_curve.png, report.md.

    Examples:

      recurrax lm fit --config configs/lm_quickstart.toml --out runs/quickstart

      recurrax lm fit -c configs/lm_tinyshakespeare.toml --set model.cell=gru --seed 1

      recurrax lm fit --out runs/quickstart --resume
    """
    from ..tasks import lm

    cfg, run_dir = fit_arguments(lm.LMConfig, "lm", config, overrides, seed, out, resume)
    run = lm.fit_lm(cfg, run_dir, data_dir=data_dir, resume=resume, progress=progress)
    for split, metrics in run.metrics.items():
        typer.echo(f"{split}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    typer.echo(f"\nsample:\n{run.sample}\n")
    typer.echo(f"wrote {run_dir}/report.md, metrics.jsonl, checkpoints/")


@app.command()
def evaluate(
    run: RunPath,
    split: Annotated[str, typer.Option(help="valid or test.")] = "valid",
    data_dir: DataDir = None,
) -> None:
    """Loss, perplexity and bits per character of a trained model on a split, as JSON.

    Example: recurrax lm evaluate runs/quickstart --split valid
    """
    from ..tasks import lm

    typer.echo(json.dumps(lm.evaluate_lm(run, split, data_dir=data_dir)))


@app.command()
def sample(
    run: RunPath,
    prime: Annotated[str, typer.Option(help="Text to start from.")] = "ROMEO:",
    length: Annotated[int, typer.Option(help="Tokens to generate.", min=1)] = 500,
    temperature: Annotated[float, typer.Option(help="Softmax temperature (> 0).")] = 1.0,
    top_k: Annotated[int | None, typer.Option(help="Sample from the k most likely tokens.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling: the smallest set with mass p.")] = None,
    greedy: Annotated[bool, typer.Option(help="Always take the most likely token.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same text.")] = 0,
) -> None:
    """Generate text from a trained model.

    Example: recurrax lm sample runs/quickstart --prime "ROMEO:" --length 300 --temperature 0.8 --top-k 20
    """
    from ..tasks import lm

    options = dict(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed)
    typer.echo(lm.sample_lm(run, prime, length, **options))
