"""``recurrax anomaly fit|detect|evaluate``: LSTM anomaly scorers and detectors on one series per file.

A series is a ``.csv`` or ``.parquet`` frame, one row per time step in time order, with the columns the
config's ``data`` section names (default ``timestamp`` and ``value``; ``--set data.values='["a","b"]'`` for
several features). Detections go out as a frame of the same rows with ``score``, ``smoothed``, ``threshold``
and ``is_anomaly`` columns added, and a PNG of the series. ``detect --nab`` runs the online NAB detector
over NAB's files instead and writes NAB's own results layout, for NAB's ``run.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ._options import ConfigFile, DataDir, Out, Overrides, Progress, RunPath, Seed, fit_arguments

app = typer.Typer(help="Fit LSTM anomaly scorers, detect anomalies in series, evaluate against labels.",
                  no_args_is_help=True)  # fmt: skip

Data = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="The training series (.csv or .parquet); default data.path.", exists=True,
                 dir_okay=False),
]  # fmt: skip
Input = Annotated[
    Path, typer.Option("--input", "-i", help="The series to label (.csv or .parquet).", exists=True, dir_okay=False)
]
MaybeRun = Annotated[Path | None, typer.Argument(help="A run directory (or one of its checkpoint directories); "
                                                   "not with --nab.")]  # fmt: skip
MaybeInput = Annotated[Path | None, typer.Option("--input", "-i", help="The series to label (.csv or .parquet).",
                                                 exists=True, dir_okay=False)]  # fmt: skip
Detector = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a detector setting of the run, e.g. --set detector.kind=static "
                                     "(repeatable; the scorer is fixed once fitted)."),
]  # fmt: skip
Plots = Annotated[Path | None, typer.Option(help="Folder for the PNG (default: the run directory).",
                                               file_okay=False)]  # fmt: skip


def _detector(loaded, overrides: list[str] | None):
    """The run's `DetectorConfig` with ``detector.*`` overrides applied (None without overrides)."""
    from ..config import load_config, to_dict
    from ..tasks import anomaly

    if not overrides:
        return None
    for item in overrides:
        if not item.strip().startswith("detector."):
            raise typer.BadParameter(f"only detector.* settings can change after fit, got {item!r}")
    current = [f"detector.{key}={'none' if value is None else json.dumps(value)}"
               for key, value in to_dict(loaded.config.detector).items()]  # fmt: skip
    return load_config(anomaly.AnomalyConfig, None, current + list(overrides)).detector


def _plot(detected, cfg, folder: Path, name: str, labels=None) -> Path:
    from ..tasks import anomaly

    folder.mkdir(parents=True, exist_ok=True)
    return anomaly.write_anomaly_plot(folder / f"{name}.png", detected, cfg.data.values, labels=labels, title=name)


@app.command()
def fit(
    config: ConfigFile = None,
    overrides: Overrides = None,
    seed: Seed = None,
    out: Out = None,
    data: Data = None,
    progress: Progress = True,
) -> None:
    """Train the scorer on a series (its first data.train_fraction, assumed mostly normal).

    Writes config.toml, metrics.jsonl, checkpoints/ and reference_scores.npy (the training rows' scores).

    Examples:

      recurrax anomaly fit --data machine_train.csv --out runs/machine

      recurrax anomaly fit -d sensors.csv --set 'data.values=["temp","pressure"]' --set data.train_fraction=0.3

      recurrax anomaly fit -d cpu.csv --set scorer.kind=reconstruction --set train.steps=1000 --seed 1
    """
    import numpy as np

    from ..tasks import anomaly

    settings = [*(overrides or []), *([] if data is None else [f"data.path={data}"])]
    cfg, run_dir = fit_arguments(anomaly.AnomalyConfig, "anomaly", config, settings, seed, out, False)
    if cfg.data.path is None:
        raise typer.BadParameter("no data: set data.path or give --data")
    frame = anomaly.read_series_frame(cfg.data.path)
    run = anomaly.fit_anomaly(cfg, frame, run_dir, progress=progress)
    typer.echo(f"trained on {len(run.reference)} rows; mean training score {np.nanmean(run.reference):.4f}")
    typer.echo(f"wrote {run_dir}/config.toml, metrics.jsonl, checkpoints/, reference_scores.npy")


@app.command()
def detect(
    run: MaybeRun = None,
    input_: MaybeInput = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Scores and labels, .csv or .parquet "
                                             "(default anomalies.csv); with --nab the results folder "
                                             "(default results).")] = None,  # fmt: skip
    overrides: Detector = None,
    plots: Plots = None,
    nab: Annotated[bool, typer.Option("--nab", help="Run the online NAB detector on NAB's files and write NAB's "
                                      "results/<detector>/<category>/<detector>_<file>.csv layout.")] = False,
    files: Annotated[list[str] | None, typer.Option("--file", help="With --nab: a NAB file, e.g. "
                                                    "realTraffic/speed_7578.csv (repeatable; default all 58).")] = None,
    name: Annotated[str, typer.Option("--detector-name", help="With --nab: the detector's name in the layout.")] = (
        "recurraxLSTM"
    ),
    seed: Annotated[int, typer.Option("--seed", help="With --nab: the detector's seed.")] = 0,
    data_dir: DataDir = None,
    id_column: Annotated[str | None, typer.Option("--id", help="A column naming each row's series (many "
                                                  "series in one file; default data.id).")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Read points from stdin, one per line (JSON object "
                                         "by column name, JSON array, or CSV, optionally after a header "
                                         "line), write one JSON score line per point.")] = False,
) -> None:
    """Score a series and label its anomalies; writes the frame with score, smoothed, threshold, is_anomaly.

    With --stream: points come one per line on stdin and each gets one JSON line on stdout at once
    (score, smoothed, threshold, is_anomaly; static and quantile detectors label online, telemanom gives
    is_anomaly null: it needs whole windows).

    With --nab: no run; the online NAB detector (fitted per file on its probationary period, as the nab
    benchmark protocol picked it) scores NAB's files, written in NAB's own results layout; --set key=value
    changes a detector setting (e.g. --set ensemble=1).

    Examples:

      recurrax anomaly detect runs/machine --input machine_test.csv --out anomalies.csv

      recurrax anomaly detect runs/machine -i test.csv --set detector.kind=quantile --set detector.quantile=0.995

      tail -f sensor.csv | recurrax anomaly detect runs/machine --stream --set detector.kind=static

      recurrax anomaly detect --nab --data-dir ../shared/data --out NAB/results --file realTraffic/speed_7578.csv
    """
    from ..tasks import anomaly, forecast

    if nab:
        _detect_nab(out or Path("results"), name, files, overrides, seed, data_dir, run, input_)
        return
    if stream:
        if run is None or input_ is not None:
            raise typer.BadParameter("--stream needs a run directory and reads stdin (no --input)")
        _detect_stream(run, overrides)
        return
    if run is None or input_ is None:
        raise typer.BadParameter("detect needs a run directory and --input (or --nab, or --stream)")
    out = out or Path("anomalies.csv")
    loaded = anomaly.load_anomaly(run)
    if id_column is not None:
        loaded = replace(loaded, config=replace(loaded.config, data=replace(loaded.config.data, id=id_column)))
    detected = anomaly.detect_anomaly(loaded, anomaly.read_series_frame(input_), _detector(loaded, overrides))
    forecast.write_frame(detected, out)
    sequences = anomaly.sequences_of(detected["is_anomaly"].to_numpy(bool))
    typer.echo(f"{len(sequences)} anomalous sequences (rows): {sequences}")
    picture = _plot(detected, loaded.config, plots or Path(run), input_.stem)
    typer.echo(f"wrote {out} and {picture}")


def _detect_nab(out: Path, name: str, files, overrides, seed: int, data_dir, run, input_) -> None:
    """``detect --nab``: NAB's files scored by the online NAB detector, in NAB's results layout under ``out``."""
    import time

    from ..data import load_nab
    from ..tasks import anomaly

    if run is not None or input_ is not None:
        raise typer.BadParameter("--nab takes no run directory and no --input")
    settings = {}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in anomaly.nab_protocol_settings():
            raise typer.BadParameter(f"--nab settings are key=value with a key among "
                                     f"{', '.join(anomaly.nab_protocol_settings())}, got {item!r}")  # fmt: skip
        settings[key.strip()] = _value(value)
    corpus = load_nab(data_dir, files=files)
    began = time.perf_counter()
    for series in corpus:
        path = anomaly.write_nab_results(out, name, series, anomaly.nab_scores(series, settings, seed=seed))
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(corpus)} NAB files scored in {time.perf_counter() - began:.0f} s; score them with NAB's "
               f"run.py -d {name} --optimize --score --normalize (results folder {out})")  # fmt: skip


def _detect_stream(run: Path, overrides) -> None:
    """``detect --stream``: one point per stdin line in, one JSON line out (`StreamingDetector`)."""
    import sys

    from ..tasks import anomaly

    loaded = anomaly.load_anomaly(run)
    detector = _detector(loaded, overrides) or loaded.config.detector
    stream = anomaly.StreamingDetector(loaded.scorer, detector, loaded.reference)
    names, header = list(loaded.config.data.values), None
    for number, line in enumerate(sys.stdin, start=1):
        line = line.strip()
        if not line:
            continue
        values, header = _stream_point(line, names, header, number)
        if values is None:
            continue
        typer.echo(json.dumps(stream.update(values)._asdict()))


def _stream_point(line: str, names: list[str], header: list[str] | None, number: int):
    """The values ``[D]`` of one stdin line (None for a CSV header line) and the CSV header seen so far."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError:
        item = None
    if isinstance(item, dict):
        missing = [name for name in names if name not in item]
        if missing:
            raise ValueError(f"stdin line {number}: the JSON object lacks {missing}")
        return [_number(item[name], name, number) for name in names], header
    if isinstance(item, list):
        cells = item
    else:
        cells = [cell.strip() for cell in line.split(",")]
        if header is None and number == 1 and not all(_numeric(cell) for cell in cells):
            missing = [name for name in names if name not in cells]
            if missing:
                raise ValueError(f"stdin line 1: the CSV header {cells} lacks the value columns {missing}")
            return None, cells
    if header is not None:
        if len(cells) != len(header):
            raise ValueError(f"stdin line {number}: {len(cells)} fields, the header has {len(header)}")
        return [_number(cells[header.index(name)], name, number) for name in names], header
    if len(cells) != len(names):
        raise ValueError(f"stdin line {number}: expected {len(names)} values ({', '.join(names)}), got {len(cells)}")
    return [_number(cell, names[i], number) for i, cell in enumerate(cells)], header


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(value, name: str, number: int) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if not (out == out and abs(out) != float("inf")):
        raise ValueError(f"stdin line {number}: {name} is not a finite number ({value!r})")
    return out


def _value(text: str):
    """A --set value: JSON (numbers, true/false, quoted strings), else the bare string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@app.command()
def evaluate(
    run: RunPath,
    input_: Input,
    label: Annotated[str | None, typer.Option(help="The 0/1 label column (default data.label).")] = None,
    overrides: Detector = None,
    plots: Plots = None,
) -> None:
    """Point, event and point-adjusted precision / recall / F1 against a label column, as JSON.

    Point-adjusted scores are inflated (Kim et al. 2022): report them beside the others. With one labelled
    anomaly, ucr_hit says whether the largest score lies within max(100, its length) points of it.

    Example: recurrax anomaly evaluate runs/machine --input machine_test.csv --label is_anomaly
    """
    from ..tasks import anomaly

    loaded = anomaly.load_anomaly(run)
    detector = _detector(loaded, overrides)
    if detector is not None:
        loaded = replace(loaded, config=replace(loaded.config, detector=detector))
    frame = anomaly.read_series_frame(input_)
    scores, detected = anomaly.evaluate_anomaly(loaded, frame, label)
    labels = anomaly.series_labels(frame, label or loaded.config.data.label)
    _plot(detected, loaded.config, plots or Path(run), input_.stem, labels)
    typer.echo(json.dumps(scores))
