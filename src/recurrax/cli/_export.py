"""``recurrax export``: a trained run -> a portable artifact (StableHLO + safetensors + meta.json, optional ONNX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._options import RunPath


def export(
    run: RunPath,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Artifact directory to write (an old artifact is replaced).")
    ],
    onnx: Annotated[
        bool, typer.Option("--onnx", help="Also write <function>.onnx files (needs jax2onnx, the onnx extra).")
    ] = False,
    onnx_steps: Annotated[
        int | None, typer.Option(help="ONNX time dimension T for sequence inputs (forecast: input_size).", min=1)
    ] = None,
    levels: Annotated[
        str | None, typer.Option(help="Forecast quantile levels, comma-separated (default: the config's).")
    ] = None,
) -> None:
    """Export the best (else latest) checkpoint of a run for serving without the training code.

    Examples:

      recurrax export runs/shakespeare --out exported/shakespeare

      recurrax export runs/vowels --out exported/vowels --onnx --onnx-steps 29

      recurrax export runs/airpassengers --out exported/air --levels 0.05,0.5,0.95
    """
    from ..serve import export_run

    parsed = None
    if levels is not None:
        try:
            parsed = tuple(float(v) for v in levels.split(","))
        except ValueError:
            raise typer.BadParameter(f"expected numbers separated by commas, got {levels!r}", param_hint="--levels")
    path = export_run(run, out, levels=parsed, onnx=onnx, onnx_steps=onnx_steps)
    files = ", ".join(sorted(p.name for p in path.iterdir()))
    typer.echo(f"wrote {path} ({files})")
