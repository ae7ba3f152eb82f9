"""The test-access ledger: one JSON line each time a protocol's test split is scored.

``<results>/ledger.jsonl`` only grows: ``{"time", "protocol", "config_hash", "candidate", "seed", "fold",
"metric", "score"}`` per scored (seed, fold). `test_access_count` says how many distinct configs of a
protocol have ever seen its test split: the number of choices a reported test score could have been picked
from, which a reader needs beside the score.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

LEDGER_FILE = "ledger.jsonl"


def append_test_access(results: Path, entry: dict[str, Any]) -> None:
    """Append one line (with the current UTC ``time``) to ``results/ledger.jsonl``, flushed to disk."""
    results.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **entry}, sort_keys=True)
    with open(results / LEDGER_FILE, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_ledger(results: Path) -> list[dict[str, Any]]:
    """Every entry of ``results/ledger.jsonl`` (none when it does not exist)."""
    path = results / LEDGER_FILE
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON line ({error})") from error
    return entries


def test_access_count(results: Path, protocol: str) -> int:
    """How many distinct config hashes have had ``protocol``'s test split scored."""
    return len({e["config_hash"] for e in read_ledger(results) if e.get("protocol") == protocol})
