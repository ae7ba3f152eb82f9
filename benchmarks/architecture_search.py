"""The architecture search at a budget, its results under benchmarks/results/architecture_search/.

nice -n 10 python benchmarks/architecture_search.py --budget small
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recurrax._host import cpu_name
from recurrax.studies import budget_config, results_markdown, run_search

OUT = Path(__file__).parent / "results" / "architecture_search"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = run_search(budget_config(args.budget, seed=args.seed))
    results["machine"] = cpu_name()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.budget}.json").write_text(json.dumps(results, indent=1))
    (OUT / f"{args.budget}.md").write_text(
        f"# Architecture search, budget {args.budget} ({results['machine']}, {results['seconds']:.0f} s)\n\n"
        + results_markdown(results)
    )
    print(f"wrote {OUT}/{args.budget}.md")


if __name__ == "__main__":
    main()
