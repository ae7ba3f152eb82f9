"""``recurrax study architecture-search``: the evolutionary cell search of Jozefowicz et al. 2015."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Reproduce published comparisons of recurrent architectures.", no_args_is_help=True)


@app.command("architecture-search")
def architecture_search(
    budget: Annotated[str, typer.Option(help="tiny (tests), small (minutes on a CPU) or medium.")] = "small",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.json, results.md, best_*.json.")] = Path(
        "runs/architecture_search"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the search (mutations and search-time training).")] = 0,
    references: Annotated[
        str | None, typer.Option(help="Comma-separated reference cells (default lstm,gru,mut1,mut2,mut3).")
    ] = None,
    forget_bias: Annotated[bool, typer.Option(help="Also re-train the LSTM with forget bias 0.")] = True,
) -> None:
    """Search cell graphs on validation data, then re-train the best, the references (LSTM, GRU, MUT1-3) and
    the LSTM with forget bias 0 over several seeds and score the test split once per seed.

    Examples:

      recurrax study architecture-search --budget small --out runs/arch

      recurrax study architecture-search --budget tiny --references lstm,gru --no-forget-bias
    """
    from ..studies import budget_config, results_markdown, run_search
    from ..studies._graph import CellGraph

    refs = tuple(r.strip() for r in references.split(",") if r.strip()) if references else None
    cfg = budget_config(budget, seed=seed, references=refs, forget_bias=forget_bias)
    results = run_search(cfg, log=typer.echo)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(f"# Architecture search (budget {budget})\n\n" + results_markdown(results))
    for k, row in enumerate(r for r in results["final"] if r["graph"]):
        CellGraph.from_json(row["graph"]).save(out / f"best_{k + 1}.json")
    typer.echo(f"wrote {out}/results.md, results.json, best_*.json")
