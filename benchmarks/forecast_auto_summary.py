"""Tables of the ``forecast_auto_m3.py`` records: per collection and split, auto on every seed, mean ± sd, and
its LSTM alone, Theta and seasonal naive beside it (sMAPE per frequency and overall), and auto's seconds.

Records: ``<results>/<collection>_<split>_seed<k>.json`` (a run's ``results.json``, one row per frequency).
The overall sMAPE is the mean over every forecast of every frequency, ``sum(smape * series * h) / sum(series *
h)``, shown when a seed has every frequency of its collection (M3 four, M1 and tourism three).

    python benchmarks/forecast_auto_summary.py --results benchmarks/results/forecast_auto   # writes summary.md there

``--rule "top 3"``: auto's sMAPE is that rule's, as `forecast_auto_combination.py` scored it from the same fits
(``<collection>_<split>_seed<k>_rules.json`` beside each record), and auto as the run chose is a row of its own:
for records of runs made before a change of the combination rule.

    python benchmarks/forecast_auto_summary.py --results benchmarks/results/forecast_auto_v3 --rule "top 3"
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

ORDER = ("yearly", "quarterly", "monthly", "other")
FREQUENCIES = {"m3": ORDER, "m1": ORDER[:3], "tourism": ORDER[:3]}
NAME = re.compile(r"(?P<collection>\w+?)_(?P<split>dev|test)_seed(?P<seed>\d+)\.json")


def overall(rows: dict[str, dict], method: str) -> float:
    """sMAPE over every forecast of ``rows``' frequencies."""
    weights = {f: row["series"] * row["h"] for f, row in rows.items()}
    return sum(rows[f]["smape"][method] * w for f, w in weights.items()) / sum(weights.values())


def spread(values: list[float]) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def table(collection: str, runs: dict[int, dict[str, dict]]) -> list[str]:
    """Markdown lines for one collection and split: ``runs`` maps seed -> frequency -> record."""
    frequencies = [f for f in ORDER if any(f in rows for rows in runs.values())]
    complete = {seed: rows for seed, rows in runs.items() if all(f in rows for f in FREQUENCIES[collection])}
    columns = [*frequencies, "overall"]
    first = next(iter(runs.values()))
    head = [f"{f} ({first[f]['series']}, h {first[f]['h']})" if f in first else f for f in frequencies]
    lines = [f"| sMAPE | {' | '.join([*head, 'overall'])} |", "|---" + "|---:" * len(columns) + "|"]

    def cell(method: str, seeds: list[int], column: str) -> list[float]:
        if column == "overall":
            return [overall(complete[s], method) for s in seeds if s in complete]
        return [runs[s][column]["smape"][method] for s in seeds if column in runs[s]]

    seeds = sorted(runs)
    for seed in seeds:
        values = [cell("auto", [seed], c) for c in columns]
        lines.append(f"| auto, seed {seed} | " + " | ".join(f"{v[0]:.2f}" if v else "" for v in values) + " |")
    rows = [("**auto, mean ± sd**", "auto"), ("auto's LSTM alone, mean ± sd", "lstm")]
    if "auto as run" in first[frequencies[0]]["smape"]:
        rows.insert(1, ("auto as the run chose (the rule before), mean ± sd", "auto as run"))
    for label, method in rows:
        values = [cell(method, seeds, c) for c in columns]
        lines.append(f"| {label} | " + " | ".join(spread(v) if v else "" for v in values) + " |")
    for label, method in (("Theta (same code, same histories)", "theta"), ("seasonal naive", "seasonal_naive")):
        values = [cell(method, seeds[:1], c) or cell(method, seeds, c)[:1] for c in columns]
        lines.append(f"| {label} | " + " | ".join(f"{v[0]:.2f}" if v else "" for v in values) + " |")
    times = [f"{f} " + ", ".join(f"{runs[s][f]['seconds']['auto']:.0f}" for s in seeds if f in runs[s])
             for f in frequencies]  # fmt: skip
    winners = [f"{f} " + ", ".join(runs[s][f]["winner"] for s in seeds if f in runs[s]) for f in frequencies]
    return [*lines, "", f"Auto's seconds per seed: {'; '.join(times)}.", f"Winners: {'; '.join(winners)}."]


def scored_by(record: dict, rules: dict, rule: str) -> dict:
    """``record`` with auto's sMAPE that of ``rule`` in ``rules`` and the run's own auto as ``auto as run``."""
    for frequency, row in record.items():
        row["smape"]["auto as run"] = row["smape"]["auto"]
        row["smape"]["auto"] = rules[frequency][rule]["smape"]
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/forecast_auto"))
    parser.add_argument("--rule", help="auto's sMAPE from this rule of the *_rules.json files (e.g. 'top 3')")
    args = parser.parse_args()
    groups: dict[tuple[str, str], dict[int, dict]] = {}
    for path in sorted(args.results.glob("*.json")):
        match = NAME.fullmatch(path.name)
        if match:
            key = (match["collection"], match["split"])
            record = json.loads(path.read_text())
            if args.rule:
                rules = json.loads(path.with_name(path.stem + "_rules.json").read_text())
                record = scored_by(record, rules, args.rule)
            groups.setdefault(key, {})[int(match["seed"])] = record
    out = []
    for (collection, split), runs in sorted(groups.items()):
        out += [f"## {collection} {split}", "", *table(collection, runs), ""]
    (args.results / "summary.md").write_text("\n".join(out))
    print("\n".join(out))


if __name__ == "__main__":
    main()
