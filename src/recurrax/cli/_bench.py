"""``recurrax bench``: the LSTM speed benchmark (`recurrax.bench`) against torch, flax, equinox and cuDNN."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal

import typer

Configs = Annotated[
    list[str] | None,
    typer.Option(help="Configs to run, comma-separated or repeated: c1-c3, g1-g4, g1-bfloat16, g2-bfloat16, or a "
                      "size like B32T100D64H128 (L2 = 2 layers). Default: all of the device's."),
]  # fmt: skip
Peers = Annotated[
    list[str] | None,
    typer.Option(help="Peers timed beside recurrax, comma-separated: torch, jax_cudnn, flax, equinox, or none. "
                      "Default: torch,flax,equinox (cpu), torch,jax_cudnn,flax (gpu)."),
]  # fmt: skip


def _split(values: list[str] | None) -> list[str] | None:
    """Repeated and comma-separated values as one list (``None`` when not given)."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def bench(
    quick: Annotated[bool, typer.Option(help="Tiny sizes, 1-2 rounds: a smoke test of every code path.")] = False,
    device: Annotated[Literal["cpu", "gpu"], typer.Option(help="cpu (configs c1-c3) or gpu (g1-g4).")] = "cpu",
    configs: Configs = None,
    peers: Peers = None,
    repeats: Annotated[int, typer.Option(help="Timed rounds per config (0: 10 on cpu, 30 on gpu).", min=0)] = 0,
    cells: Annotated[bool, typer.Option(help="Also time every registered recurrax cell.")] = True,
    first_call: Annotated[bool, typer.Option(help="Also time the first call (compile) at T=100 and T=1000.")] = True,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write every number as JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables in markdown here.")] = None,
) -> None:
    """Time a single-direction LSTM, fwd+bwd and forward, in recurrax and its peers (torch on CPU in its own process).

    Each number is the median over rounds after a first (compiling) call and warm-up; x = torch time /
    implementation time (above 1 is faster). Prints the machine and the tables; progress goes to stderr. A
    peer whose package is missing shows as n/a. Run on an idle machine for numbers worth keeping.

    Examples:

      recurrax bench --quick

      recurrax bench --configs c1,c2 --peers torch --out cpu.json

      recurrax bench --device gpu --out gpu.json --markdown gpu.md
    """
    from ..bench import make_plan, markdown_report, prepare_environment, print_report, run_benchmark

    prepare_environment()
    started = time.perf_counter()
    plan = make_plan(
        device, quick, repeats, started, configs=_split(configs), peers=_split(peers), cells=cells,
        first_call=first_call,
    )  # fmt: skip
    typer.echo(f"timing {', '.join(c.label for c in plan.configs)}: {', '.join(plan.impls)}", err=True)
    report = run_benchmark(plan, started)
    if out is not None:
        out.write_text(json.dumps(report, indent=1))
    if markdown is not None:
        markdown.write_text(markdown_report(report, plan))
    print_report(report, plan)
    for path in (out, markdown):
        if path is not None:
            typer.echo(f"wrote {path}")
