"""``recurrax study architecture-search``: the evolutionary cell search of Jozefowicz et al. 2015; ``recurrax study
volatility``: the LSTM against GARCH on daily index returns (docs/finance.md)."""

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


@app.command("volatility")
def volatility(
    budget: Annotated[str, typer.Option(help="tiny (a smoke run) or small (the documented run, minutes).")] = "small",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for results.json, results.md, volatility.png.")
    ] = Path("runs/volatility"),
) -> None:
    """Daily S&P 500 and NASDAQ returns (shipped by arch): one-step Student-t LSTM against GARCH(1,1) and
    GJR-GARCH on yearly rolling origins, settings chosen on 2011-2012, scored on 2013-2018 (docs/finance.md).

    Example:

      recurrax study volatility --budget small --out runs/volatility
    """
    from ..studies._volatility import run_volatility_study, volatility_markdown, write_volatility_plot

    result, forecasts = run_volatility_study(out, budget, log=typer.echo)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "results.md").write_text(f"# Volatility study (budget {budget})\n\n" + volatility_markdown(result) + "\n")
    write_volatility_plot(out / "volatility.png", result, forecasts)
    typer.echo(volatility_markdown(result))
    typer.echo(f"wrote {out}/results.md, results.json, volatility.png")


@app.command("odyssey")
def odyssey(
    budget: Annotated[str, typer.Option(help="tiny (tests), small (minutes on a CPU), medium or paper.")] = "small",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.json, results.md, *.png.")] = Path(
        "runs/odyssey"
    ),
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL shared by machines (default sqlite:///<out>/odyssey.db).")
    ] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks (default music,charlm).")] = None,
    variants: Annotated[str | None, typer.Option(help="Comma-separated variants (default all nine).")] = None,
    trials: Annotated[int | None, typer.Option(help="New trials per task and variant (default: the budget's).")] = None,
    seed: Annotated[int, typer.Option(help="Sampler seed; give each machine its own.")] = 0,
    final: Annotated[bool, typer.Option(help="Re-train each variant's best and score test (once, at the end).")] = True,
) -> None:
    """The LSTM variants of Greff et al. 2017 (V, NIG, NFG, NOG, NIAF, NOAF, NP, CIFG, FGR): random search
    per variant on valid, fANOVA importances, each variant's best re-trained over seeds and scored on test
    once (docs/odyssey.md).

    Examples:

      recurrax study odyssey --budget small --out runs/odyssey

      recurrax study odyssey --budget paper --storage postgresql://host/db --seed 3 --no-final   # per machine

      recurrax study odyssey --budget paper --storage postgresql://host/db --trials 0           # analyse once
    """
    from ..studies._odyssey import budget_config, run_odyssey
    from ..studies._odyssey_report import analyse, plot, results_markdown

    split = lambda s: tuple(x.strip() for x in s.split(",") if x.strip()) if s else None
    cfg = budget_config(budget, tasks=split(tasks), variants=split(variants), trials=trials, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    results = analyse(run_odyssey(cfg, storage or f"sqlite:///{out.resolve()}/odyssey.db", final=final, log=typer.echo))
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(f"# LSTM odyssey (budget {budget})\n\n" + results_markdown(results))
    plot(results, out)
    typer.echo(results_markdown(results))
    typer.echo(f"wrote {out}/results.md, results.json, boxplots.png, importances.png, learning_rate.png")
