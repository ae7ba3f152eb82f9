"""``recurrax data list|get``: the dataset registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._options import DataDir

app = typer.Typer(help="List and fetch the registered datasets.", no_args_is_help=True)

CacheDir = Annotated[
    Path | None, typer.Option("--cache-dir", help="Download cache (default ~/.cache/recurrax, or RECURRAX_CACHE).")
]


@app.command("list")
def list_(data_dir: DataDir = None, cache_dir: CacheDir = None) -> None:
    """The registered datasets, where each one is found locally, and its sources.

    Example: recurrax data list --data-dir ../shared/data
    """
    from rich.console import Console
    from rich.table import Column, Table

    from .. import data

    table = Table(Column("name", no_wrap=True), "description", "local copy", "sources")
    for info in data.list_datasets(data_dir=data_dir, cache_dir=cache_dir):
        sources = info.sources if len(info.sources) <= 3 else [*info.sources[:2], f"... and {len(info.sources) - 2} more"]
        table.add_row(info.name, f"{info.description} ({info.kind})", str(info.local or "-"), "\n".join(sources))
    Console().print(table)


@app.command()
def get(
    name: Annotated[str, typer.Argument(help="A registered dataset name (see `recurrax data list`).")],
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
) -> None:
    """Find or download a dataset (checksum verified) and print its local folder.

    Example: recurrax data get tinyshakespeare
    """
    from .. import data

    typer.echo(str(data.get(name, data_dir=data_dir, cache_dir=cache_dir)))
