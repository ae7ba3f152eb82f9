"""``recurrax classify fit|evaluate|predict``: sequence classifiers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from ._options import ConfigFile, DataDir, Out, Overrides, Progress, Resume, RunPath, Seed, fit_arguments

app = typer.Typer(help="Train, evaluate and apply classifiers of variable-length sequences.", no_args_is_help=True)


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
    """Train a classifier; writes config.toml, metrics.jsonl, checkpoints/, confusion PNGs, report.md.

    With fewer than select.max_cases training cases, fit first picks among select.candidates by
    cross-validation on the training cases (selection.json); --set select.mode=off trains your settings as given.

    Examples:

      recurrax classify fit --set data.dataset=japanesevowels --set model.hidden_size=128 --out runs/vowels

      recurrax classify fit --set data.path=train.npz --set data.test_path=test.npz

      recurrax classify fit --set data.dataset=gunpoint --set select.mode=off --set model.pooling=attention
    """
    from ..tasks import classify

    cfg, run_dir = fit_arguments(classify.ClassifyConfig, "classify", config, overrides, seed, out, resume)
    run = classify.fit_classifier(cfg, run_dir, data_dir=data_dir, resume=resume, progress=progress)
    if run.selection is not None:
        record = run.selection
        scores = ", ".join(f"{name} {s['accuracy']:.4f}" for name, s in record["candidates"].items())
        typer.echo(
            f"picked {record['picked']} by {record['folds']}-fold cross-validation on the {record['cases']} "
            f"training cases (accuracy {scores}; margin {record['margin']:.4f})"
        )
    for split, metrics in run.metrics.items():
        typer.echo(f"{split}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    typer.echo(f"wrote {run_dir}/report.md, metrics.jsonl, checkpoints/")


@app.command()
def evaluate(
    run: RunPath,
    split: Annotated[str, typer.Option(help="train, valid or test.")] = "test",
    data_dir: DataDir = None,
    plot: Annotated[Path | None, typer.Option(help="Write the confusion matrix PNG here.")] = None,
) -> None:
    """Loss, accuracy, macro-F1 and the confusion matrix (rows true, columns predicted) on a split, as JSON.

    Example: recurrax classify evaluate runs/vowels --split test --plot confusion.png
    """
    from ..tasks import classify

    scores = classify.evaluate_classifier(run, split, data_dir=data_dir, plot=plot)
    typer.echo(json.dumps({k: v.tolist() if hasattr(v, "tolist") else v for k, v in scores.items()}))


@app.command()
def predict(
    run: RunPath,
    cases: Annotated[Path, typer.Argument(help="A .ts, .npz (xs, lengths, labels) or .csv file of sequences.",
                                          exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV of predictions.")] = Path("predictions.csv"),
) -> None:
    """Predict the class of every sequence in a file; writes one CSV row per sequence with its probabilities.

    Example: recurrax classify predict runs/vowels JapaneseVowels_TEST.ts --out predictions.csv
    """
    from ..data import pad_series
    from ..tasks import classify

    series, labels = classify.read_cases(cases)
    xs, lengths = pad_series(series)
    names, probabilities = classify.predict_classifier(run, xs, lengths)
    classes = classify.load_classifier(run).classes
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "label", "predicted", *(f"p_{c}" for c in classes)])
        for index, (label, name, p) in enumerate(zip(labels, names, probabilities)):
            writer.writerow([index, label, name, *(f"{v:.6f}" for v in p)])
    correct = sum(label == name for label, name in zip(labels, names))
    typer.echo(f"wrote {len(names)} predictions to {out} (agreement with the file's labels: {correct / len(names):.4f})")
