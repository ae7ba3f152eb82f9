"""``recurrax tune TASK``: hyperparameter search with Optuna over any config key of a task."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from ._options import ConfigFile, DataDir, Overrides

Params = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="A searched key: section.key=int:LOW:HIGH[:log|:step=N], "
                                       "float:LOW:HIGH[:log|:step=X] or cat:A,B,... (repeatable).")
]  # fmt: skip


def tune(
    task: Annotated[str, typer.Argument(help="A task whose spec declares how to fit a run: lm, classify, forecast, seq2seq or ctc.")],
    config: ConfigFile = None,
    overrides: Overrides = None,
    params: Params = None,
    trials: Annotated[int, typer.Option(help="New trials to run in this call.", min=1)] = 20,
    study: Annotated[str | None, typer.Option(help="Study name (default: the task's name).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Study directory (default runs/tune-<task>-<time>).")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Database URL shared by many workers (default sqlite:///<out>/study.db).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Start no new trial after this many seconds.", min=0)] = None,
    metric: Annotated[str | None, typer.Option(help="Validation metric to optimise (default loss).")] = None,
    direction: Annotated[
        str | None, typer.Option(help="minimize or maximize (default: maximize accuracy and macro_f1).")
    ] = None,
    pruner: Annotated[Literal["median", "none"], typer.Option(help="Stop bad trials early (median rule).")] = "median",
    prune_after: Annotated[
        int, typer.Option(help="Completed trials before the median rule prunes anything.", min=0)
    ] = 5,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the TPE sampler.")] = None,
    data_dir: DataDir = None,
    progress: Annotated[bool, typer.Option(help="Show each trial's progress bar.")] = False,
) -> None:
    """Search hyperparameters: every trial trains the base config with sampled values in <out>/trial_<n>.

    The objective is the best validation metric of each run; a trial that trails the median of the completed
    ones at an evaluation is pruned. Writes study.db, trials.csv, best.toml (the base config with the best
    values, for `recurrax TASK fit --config best.toml`), history.png and importances.png. The same --out (or
    --storage and --study) continues the study; many machines share one study through a database URL. The
    --config file may hold a "tune" table: params = {"optim.lr" = "float:1e-4:1e-2:log"}, metric, direction.

    Examples:

      recurrax tune lm -c base.toml -p model.hidden_size=int:32:256:log -p optim.lr=float:1e-4:1e-2:log

      recurrax tune lm -c base.toml -p model.cell=cat:lstm,gru,peephole --trials 30 --out runs/tune-lm

      recurrax tune classify -p model.dropout=float:0:0.5 --metric accuracy --storage postgresql://db/optuna
    """
    from .._extras import require

    optuna = require("optuna", "recurrax tune")
    from rich.console import Console

    from ..lifecycle import load_tune_config, tune_task
    from ..lifecycle import tune as run_study

    spec = tune_task(task)
    base, section = load_tune_config(spec.config_type, config, overrides or [])
    space = [*(f"{k}={v}" for k, v in section.get("params", {}).items() if k not in _keys(params)), *(params or [])]
    metric = metric or section.get("metric", "loss")
    direction = direction or section.get("direction")
    study_dir = out or Path("runs") / time.strftime(f"tune-{task}-%Y%m%d-%H%M%S")
    choice = optuna.pruners.MedianPruner(n_startup_trials=prune_after) if pruner == "median" else None
    typer.echo(f"study directory: {study_dir}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        value = trial.value if trial.value is not None else _last(trial)
        seconds = trial.duration.total_seconds() if trial.duration else math.nan
        typer.echo(f"trial {trial.number} {trial.state.name.lower()}: {metric} {value:.4f} ({seconds:.1f} s) "
                   f"{_text(trial.params)}")  # fmt: skip

    result = run_study(
        spec, base, space, study_dir=study_dir, trials=trials, study_name=study, storage=storage, timeout=timeout,
        metric=metric, direction=direction, pruner=choice or optuna.pruners.NopPruner(), seed=seed,
        data_dir=data_dir, progress=progress, callbacks=[report],
    )  # fmt: skip
    Console(width=200).print(_table(result.table))
    if result.best_config is not None:
        best = result.study.best_trial
        typer.echo(f"best trial {best.number}: value {best.value:.6g}, {_text(best.params)}")
    for note in result.notes:
        typer.echo(note)
    typer.echo(f"wrote {study_dir}/" + ", ".join(p.name for p in result.files))


def _keys(params: list[str] | None) -> set[str]:
    return {item.partition("=")[0].strip() for item in params or []}


def _last(trial) -> float:
    values = trial.intermediate_values
    return values[max(values)] if values else math.nan


def _text(params: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _table(frame):
    """A rich table of the trials, values rounded."""
    from rich.table import Table

    table = Table(*[c for c in frame.columns if c != "run_dir"], title="trials")
    for row in frame.itertuples(index=False):
        cells = [v for c, v in zip(frame.columns, row) if c != "run_dir"]
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in cells))
    return table
