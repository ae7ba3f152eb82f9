"""``recurrax retrain``: warm-start a challenger from the production model, promote it only if better."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._options import Out, Overrides, Progress
from ._registry import Root

DataFile = Annotated[
    Path,
    typer.Option("--data", "-d", help="New data. Forecast: a long frame (.csv or .parquet: unique_id, ds, y); "
                 "classify: labelled cases (.ts, .npz or .csv).", exists=True, dir_okay=False),
]  # fmt: skip
HoldoutFile = Annotated[
    Path | None,
    typer.Option(help="Holdout data, same kind as --data (forecast: its series' last horizon values). Default: "
                      "from --data (its last values; a stratified share of its cases).", exists=True, dir_okay=False),
]  # fmt: skip


def retrain(
    name: Annotated[str, typer.Argument(help="Registered model name; its production version is the champion.")],
    data: DataFile,
    holdout: HoldoutFile = None,
    root: Root = Path("models"),
    metric: Annotated[
        str | None,
        typer.Option(
            help="Deciding score: forecast mae, rmse, smape (default), mase, quantile_loss; classify loss "
            "(default), accuracy, macro_f1."
        ),
    ] = None,
    min_improvement: Annotated[
        float,
        typer.Option(help="Relative margin the challenger must beat the champion by, e.g. 0.02.", min=0.0, max=0.999),
    ] = 0.0,
    steps: Annotated[int | None, typer.Option(help="Training steps (default the champion's).", min=1)] = None,
    overrides: Overrides = None,
    out: Out = None,
    progress: Progress = True,
) -> None:
    """Re-train the production model on new data; promote the challenger only if it scores better.

    Forecast and classify models. Champion and challenger score the same holdout; the decision and both
    scores are printed, stored in the registry entry and appended to <root>/NAME/retrain.jsonl. A refused
    challenger is registered as archived. Exits 0 either way.

    Examples:

      recurrax retrain sales --data sales_2025.csv --steps 500

      recurrax retrain sales -d new.csv --holdout recent.csv --metric mase --min-improvement 0.02

      recurrax retrain vowels --data new_cases.ts --holdout test_cases.ts --metric accuracy
    """
    from ..lifecycle import ModelRegistry
    from ..lifecycle import retrain as run_retrain

    decision = run_retrain(
        ModelRegistry(root), name, data, holdout=holdout, metric=metric, min_improvement=min_improvement,
        steps=steps, overrides=overrides or [], run_dir=out, progress=progress,
    )  # fmt: skip
    d = decision
    typer.echo(f"champion {name} v{d.champion_version}: {d.metric} {d.champion_score:.4f}")
    typer.echo(f"challenger {name} v{d.challenger_version}: {d.metric} {d.challenger_score:.4f} ({d.run_dir})")
    verdict = "promoted to production" if d.promoted else "refused (archived)"
    typer.echo(f"{verdict}: {d.reason}")
    typer.echo(json.dumps(d.to_dict()))
