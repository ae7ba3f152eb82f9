"""Finance example: one-step-ahead return distributions of the S&P 500 and the NASDAQ Composite (daily,
1999-2018, shipped by ``arch``), an LSTM with a Student-t head against GARCH(1,1) and GJR-GARCH on the same
yearly rolling origins; LSTM settings chosen on 2011-2012, scored once on 2013-2018 with seeds 0-2. The
protocol is `recurrax.studies._volatility` (also ``recurrax study volatility``); docs/finance.md.

    python benchmarks/finance_volatility.py --out runs/finance --plot docs/finance_volatility.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recurrax.studies._volatility import BUDGETS, run_volatility_study, volatility_markdown, write_volatility_plot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/finance"), help="results.json, results.md, runs")
    parser.add_argument("--plot", type=Path, default=Path("docs/finance_volatility.png"))
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="small", help="tiny: a smoke run")
    args = parser.parse_args()
    result, forecasts = run_volatility_study(args.out, args.budget, log=lambda line: print(line, flush=True))
    table = volatility_markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    (args.out / "results.md").write_text(table + "\n")
    write_volatility_plot(args.plot, result, forecasts)
    print(table)
    print(f"wrote {args.out}/results.json, results.md and {args.plot}; {result['minutes']:.1f} minutes on "
          f"{result['machine']['cpu']} ({result['machine']['cores']} cores)")  # fmt: skip


if __name__ == "__main__":
    main()
