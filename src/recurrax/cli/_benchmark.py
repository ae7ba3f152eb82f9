"""``recurrax benchmark list|run|report``: evaluation protocols, development selection, the test ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ._options import DataDir

app = typer.Typer(
    help="Frozen evaluation protocols: choose settings on development data, score the test split once per "
    "config over several seeds, and keep a ledger of every test access.\n\n"
    "Example: recurrax benchmark run uea-japanesevowels --split dev && recurrax benchmark run uea-japanesevowels",
    no_args_is_help=True,
)
Protocols = Annotated[
    Path | None, typer.Option("--protocols", help="A folder of more protocol files (<name>.toml).", file_okay=False)
]
Results = Annotated[
    Path, typer.Option("--results", "-r", help="Results folder (per protocol records and ledger.jsonl).")
]
DEFAULT_RESULTS = Path("benchmarks/results/protocols")


@app.command("list")
def list_protocols(protocols: Protocols = None) -> None:
    """List the protocols: name, metric, seeds, candidates and description.

    Example: recurrax benchmark list
    """
    from ..lifecycle import protocol_files

    for name, load in protocol_files(protocols).items():
        p = load()
        typer.echo(f"{name:22s} {p.metric} ({p.direction}), seeds {list(p.seeds)}, folds {p.folds}, "
                   f"candidates {', '.join(p.candidates)}")  # fmt: skip
        typer.echo(f"{'':22s} {p.description}")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="A protocol name (see list) or a protocol .toml file.")],
    split: Annotated[
        Literal["dev", "test"],
        typer.Option(help="dev: score every candidate on development data and pick; test: score the pick on the "
                          "test split for every seed (logged in the ledger)."),
    ] = "test",  # fmt: skip
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds instead of the protocol's.")] = None,
    results: Results = DEFAULT_RESULTS,
    protocols: Protocols = None,
    data_dir: DataDir = None,
) -> None:
    """Run a protocol's development selection (--split dev) or its test scoring (the default).

    A protocol with several candidates needs --split dev first: the test run scores only the candidate
    picked on development data. Finished units are kept, so a stopped run continues where it stopped.

    Examples:

      recurrax benchmark run uea-japanesevowels --split dev

      recurrax benchmark run uea-japanesevowels --results benchmarks/results/protocols
    """
    from ..lifecycle import load_protocol, run_protocol

    protocol = load_protocol(name, protocols)
    chosen = [int(s) for s in seeds.split(",")] if seeds else None
    record = run_protocol(protocol, split, results, seeds=chosen, data_dir=data_dir, log=typer.echo)
    page = results / protocol.name / f"{split}.md"
    if split == "dev":
        typer.echo(f"picked per fold: {', '.join(record['picks'])}; written {page}")
    else:
        row = record["summary"][protocol.metric]
        typer.echo(f"{protocol.metric}: {row['mean']:.4f} ± {row['sd']:.4f} over {row['n']} seeds; configs that "
                   f"saw this test split: {record['test_access_count']}; written {page}")  # fmt: skip


@app.command("report")
def report(
    results: Results = DEFAULT_RESULTS,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the table to this file.")] = None,
) -> None:
    """Print every protocol's test result: mean ± sd over seeds, 95% interval, and the ledger count.

    Example: recurrax benchmark report --out benchmarks/results/protocols/report.md
    """
    from ..lifecycle import benchmark_report

    table = benchmark_report(results)
    typer.echo(table, nl=False)
    if out is not None:
        out.write_text(table)
