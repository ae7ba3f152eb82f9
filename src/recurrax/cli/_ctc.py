"""``recurrax ctc fit|evaluate|predict``: line recognition with the CTC loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._options import ConfigFile, Out, Overrides, Progress, Resume, RunPath, Seed, fit_arguments

app = typer.Typer(help="Train, evaluate and apply CTC recognisers of rendered text lines.", no_args_is_help=True)

Decode = Annotated[str | None, typer.Option(help="greedy or beam (default: the run's decode.method).")]
Beam = Annotated[int | None, typer.Option(help="Beam size of --decode beam (default: the run's decode.beam_size).")]


def _decode_config(run: Path, decode: str | None, beam: int | None):
    from ..config import ConfigError
    from ..tasks import ctc

    if decode is None and beam is None:
        return None
    base = ctc.load_ctc(run).config.decode
    method = decode or ("beam" if beam is not None else base.method)
    if method not in ("greedy", "beam"):
        raise ConfigError(f"--decode must be greedy or beam, got {method!r}")
    return ctc.DecodeConfig(method=method, beam_size=beam or base.beam_size)


@app.command()
def fit(
    config: ConfigFile = None,
    overrides: Overrides = None,
    seed: Seed = None,
    out: Out = None,
    resume: Resume = False,
    progress: Progress = True,
) -> None:
    """Render the lines (data.seed) and train a recogniser; writes config.toml, metrics.jsonl, checkpoints/,
    examples PNGs and report.md, and prints the valid and test scores (loss, CER, WER, line accuracy).

    Examples:

      recurrax ctc fit --config configs/ctc.toml --out runs/ctc

      recurrax ctc fit --set model.cell=gru --set data.noise=true --set train.steps=2000
    """
    from ..tasks import ctc

    cfg, run_dir = fit_arguments(ctc.CTCConfig, "ctc", config, overrides, seed, out, resume)
    run = ctc.fit_ctc(cfg, run_dir, resume=resume, progress=progress)
    typer.echo(f"rendered the lines in {run.data_seconds:.1f} s")
    for split, metrics in run.metrics.items():
        typer.echo(f"{split}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    typer.echo(f"wrote {run_dir}/report.md, metrics.jsonl, checkpoints/")


@app.command()
def evaluate(
    run: RunPath,
    split: Annotated[str, typer.Option(help="valid or test.")] = "test",
    decode: Decode = None,
    beam: Beam = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of example lines and their recognition here.")] = None,
) -> None:
    """Loss, CER, WER and line accuracy on a split (rendered again from the run's config), as JSON.

    Example: recurrax ctc evaluate runs/ctc --split test --decode beam --beam 8
    """
    from ..tasks import ctc

    scores = ctc.evaluate_ctc(run, split, decode_cfg=_decode_config(run, decode, beam), plot=plot)
    typer.echo(json.dumps(scores))


@app.command()
def predict(
    run: RunPath,
    images: Annotated[list[Path] | None, typer.Argument(help="Images of text lines (PNG, JPEG, ...).",
                                                        exists=True, dir_okay=False)] = None,
    text: Annotated[list[str] | None, typer.Option(help="Render this line with the run's renderer and read it "
                                                        "back (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the rendering of --text.")] = 0,
    decode: Decode = None,
    beam: Beam = None,
) -> None:
    """Recognise the text of line images (one line printed per image), or of lines rendered from --text
    (printed as reference -> recognised).

    Examples:

      recurrax ctc predict runs/ctc line.png other.png

      recurrax ctc predict runs/ctc --text "to be or not" --text "wherefore art thou" --decode beam
    """
    import numpy as np
    from PIL import Image

    from ..tasks import ctc

    if not images and not text:
        raise typer.BadParameter("give image files or --text lines to recognise")
    decode_cfg = _decode_config(run, decode, beam)
    if images:
        grey = [np.asarray(Image.open(path).convert("L")) for path in images]
        for path, recognised in zip(images, ctc.predict_ctc(run, grey, decode_cfg=decode_cfg)):
            typer.echo(f"{path}\t{recognised}")
    if text:
        render = ctc.Renderer(ctc.load_ctc(run).config.data)
        rng = np.random.default_rng(seed)
        columns = [render(line, rng) for line in text]
        for line, recognised in zip(text, ctc.predict_ctc(run, columns, decode_cfg=decode_cfg, columns=True)):
            typer.echo(f"{line!r} -> {recognised!r}")
