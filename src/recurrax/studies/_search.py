"""The architecture search of Jozefowicz, Zaremba & Sutskever 2015 at a small budget, with its protocol.

1. Every candidate is trained with one seed per task and scored on the **validation** split (loss / chance,
   averaged over tasks: the search's fitness).
2. The population starts as mutants of the reference graphs; each generation adds children (a crossover of
   two parents drawn from the better half, or a mutation of one) and keeps the best ``population``.
3. The ``top`` searched architectures (chosen on validation only), the references and, with the forget-bias
   study, the LSTM with forget bias 0 are re-trained with ``seeds`` fresh seeds and scored on the **test**
   split once per seed: every reported row saw the test split, no other configuration did.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ._graph import REFERENCE_GRAPHS
from ._graph_mutate import crossover, mutate
from ._search_tasks import Budget, Candidate, TaskSpec, check_task, train_and_score

REFERENCES = ("lstm", "gru", "mut1", "mut2", "mut3")


@dataclass(frozen=True)
class SearchConfig:
    """One search: its ``tasks``, training ``budget``, population, generations, children per generation,
    how many of the best are re-trained (``top``) over how many ``seeds``, the reference rows, whether to run
    the forget-bias study, and the ``seed`` of the search (mutations and search-time training)."""

    tasks: tuple[TaskSpec, ...]
    budget: Budget
    population: int
    generations: int
    children: int
    top: int
    seeds: int
    references: tuple[str, ...] = REFERENCES
    forget_bias: bool = True
    seed: int = 0


BUDGETS = {
    "tiny": SearchConfig((TaskSpec("adding", 4),), Budget(2, 4, 3, 1e-2, 8),
                         population=1, generations=1, children=1, top=1, seeds=2),
    "small": SearchConfig((TaskSpec("adding", 20), TaskSpec("memorize", 5)), Budget(200, 32, 16, 1e-2, 512),
                          population=3, generations=1, children=3, top=1, seeds=3),
    "medium": SearchConfig((TaskSpec("adding", 40), TaskSpec("memorize", 8)), Budget(600, 64, 32, 5e-3, 1024),
                           population=12, generations=5, children=8, top=3, seeds=5),
}  # fmt: skip
"""``small`` finishes in minutes on a shared 2-core CPU; ``tiny`` is for tests."""


def budget_config(name: str, **changes) -> SearchConfig:
    """The `SearchConfig` of budget ``name`` with ``changes``; unknown budgets or references raise."""
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; known: {', '.join(BUDGETS)}")
    cfg = BUDGETS[name]
    cfg = SearchConfig(**{**cfg.__dict__, **{k: v for k, v in changes.items() if v is not None}})
    unknown = [r for r in cfg.references if r not in REFERENCES]
    if unknown:
        raise ValueError(f"unknown reference cell {unknown[0]!r}; known: {', '.join(REFERENCES)}")
    for task in cfg.tasks:
        check_task(task.name)
    return cfg


def _row(candidate: Candidate, scores: dict[str, list[float]]) -> dict:
    per_task = {
        name: {"seeds": s, "mean": statistics.fmean(s), "sd": statistics.stdev(s) if len(s) > 1 else 0.0}
        for name, s in scores.items()
    }
    means = [statistics.fmean(column) for column in zip(*scores.values())]  # the task average, per seed
    return {
        "label": candidate.label,
        "cell": candidate.cell or "graph",
        "options": dict(candidate.options),
        "graph": candidate.graph.to_json() if candidate.graph else None,
        "formula": candidate.graph.formula() if candidate.graph else None,
        "tasks": per_task,
        "mean": {
            "seeds": means,
            "mean": statistics.fmean(means),
            "sd": statistics.stdev(means) if len(means) > 1 else 0.0,
        },
    }


def run_search(cfg: SearchConfig, log: Callable[[str], None] = print) -> dict:
    """Run the search and the final protocol; returns the results as a JSON-ready dict."""
    rng = random.Random(cfg.seed)
    start = time.perf_counter()

    def task_label(task: TaskSpec) -> str:
        return f"{task.name}{task.length}"

    def score(candidate: Candidate, seeds: list[int], split: str) -> dict[str, list[float]]:
        return {task_label(t): train_and_score(candidate, t, cfg.budget, seeds, split) for t in cfg.tasks}

    def fitness(candidate: Candidate) -> dict:
        scores = score(candidate, [cfg.seed], "validation")
        row = {"label": candidate.label, "graph": candidate.graph.to_json() if candidate.graph else None,
               "formula": candidate.graph.formula() if candidate.graph else None,
               "validation": {k: v[0] for k, v in scores.items()},
               "fitness": statistics.fmean(v[0] for v in scores.values())}  # fmt: skip
        log(f"[{time.perf_counter() - start:5.0f} s] {candidate.label:>12}: validation {row['fitness']:.3f}")
        return row

    references = [Candidate(name, cell=name) for name in cfg.references]
    log_rows: list[dict] = []
    seen = {REFERENCE_GRAPHS[name] for name in cfg.references}
    population: list[tuple[dict, Candidate]] = []
    parents = [REFERENCE_GRAPHS[name] for name in cfg.references]

    def add(graph, label: str) -> None:
        if graph in seen:
            return
        seen.add(graph)
        candidate = Candidate(label, graph=graph)
        row = fitness(candidate)
        log_rows.append(row)
        population.append((row, candidate))

    for k in range(cfg.population):
        add(mutate(parents[k % len(parents)], rng), f"g0.{k}")
    for generation in range(1, cfg.generations + 1):
        population.sort(key=lambda item: item[0]["fitness"])
        better = [c.graph for _, c in population[: max(1, len(population) // 2)]] or parents
        for k in range(cfg.children):
            if len(better) > 1 and rng.random() < 0.5:
                a, b = rng.sample(better, 2)
                child = crossover(a, b, rng)
            else:
                child = mutate(rng.choice(better), rng)
            add(child, f"g{generation}.{k}")
        population.sort(key=lambda item: item[0]["fitness"])
        population = population[: cfg.population]

    population.sort(key=lambda item: item[0]["fitness"])
    finalists = [c for _, c in population[: cfg.top]] + references
    if cfg.forget_bias:
        finalists.append(Candidate("lstm_fb0", cell="lstm", options=(("forget_bias", 0.0),)))
    seeds = list(range(1, cfg.seeds + 1))
    final = []
    for candidate in finalists:
        final.append(_row(candidate, score(candidate, seeds, "test")))
        log(f"[{time.perf_counter() - start:5.0f} s] {candidate.label:>12}: test {final[-1]['mean']['mean']:.3f}")
    return {
        "config": {**asdict(cfg), "tasks": [asdict(t) for t in cfg.tasks], "budget": asdict(cfg.budget)},
        "search": log_rows,
        "final": final,
        "test_seeds": seeds,
        "configs_on_test": len(final),
        "seconds": time.perf_counter() - start,
    }


def results_markdown(results: dict) -> str:
    """The final table (test loss / chance, mean ± sd over seeds, every seed) and the search log."""
    tasks = list(results["final"][0]["tasks"])
    head = "| cell | " + " | ".join(tasks) + " | mean over tasks | formula |"
    lines = [head, "|---|" + "---:|" * (len(tasks) + 1) + "---|"]

    def cell(entry: dict) -> str:
        seeds = ", ".join(f"{s:.3f}" for s in entry["seeds"])
        return f"{entry['mean']:.3f} ± {entry['sd']:.3f} ({seeds})"

    for row in results["final"]:
        label = row["label"] + ("" if row["cell"] == "graph" else " (zoo)")
        formula = f"`{row['formula']}`" if row["formula"] else ""
        lines.append(
            f"| {label} | " + " | ".join(cell(row["tasks"][t]) for t in tasks) + f" | {cell(row['mean'])} | {formula} |"
        )
    search = ["| candidate | " + " | ".join(tasks) + " | fitness |", "|---|" + "---:|" * (len(tasks) + 1)]
    for row in sorted(results["search"], key=lambda r: r["fitness"]):
        search.append(
            f"| {row['label']} | "
            + " | ".join(f"{row['validation'][t]:.3f}" for t in tasks)
            + f" | {row['fitness']:.3f} |"
        )
    return (
        f"## Test loss / chance (lower is better), seeds {results['test_seeds']}\n\n"
        f"{results['configs_on_test']} configurations saw the test split, each once per seed.\n\n"
        + "\n".join(lines)
        + "\n\n## Search (validation loss / chance, one seed)\n\n"
        + "\n".join(search)
        + "\n"
    )
