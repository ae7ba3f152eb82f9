"""torch's CPU timings in a process of their own (``python -m recurrax.bench._torch_process PLAN_JSON``).

torch and recurrax's oneDNN kernel each bring an OpenMP runtime (torch its own libgomp, recurrax the system's).
torch is timed with ``OMP_WAIT_POLICY=ACTIVE``, its fastest setting on small CPUs, whose threads then spin between
calls; in one process those spinning threads take the cores from the other runtime and from XLA (measured on the
2-core Xeon: torch 41-47 ms at c1 in a process where recurrax had run, 10.7 ms alone). So on CPU torch runs here,
in a fresh process, with the same configs, rounds and budget, and prints ``{label: {mode: summary}}`` as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from typing import Any

from ._configs import Config, Plan
from ._peers import build_torch
from ._timing import entries_for, measure


def time_torch_elsewhere(plan: Plan) -> dict[str, dict[str, Any]]:
    """Run `main` in a child process (``OMP_WAIT_POLICY=ACTIVE`` unless set) and return its results."""
    spec = {"plan": asdict(replace(plan, configs=[], variant_configs=[])), "configs": [asdict(c) for c in plan.configs]}
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY") or "ACTIVE"}
    done = subprocess.run([sys.executable, "-m", __name__, json.dumps(spec)], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the torch timing process failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    plan = Plan(**{**spec["plan"], "configs": [Config(**c) for c in spec["configs"]]})
    results = {}
    for cfg in plan.configs:
        entries = measure(entries_for("torch", lambda cfg=cfg: build_torch(cfg, "cpu")), plan)
        results[cfg.label] = {entry.mode: entry.summary() for entry in entries}
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
