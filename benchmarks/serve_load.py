"""Load test of ``recurrax serve`` on 127.0.0.1: throughput and p50/p99 latency at 1, 10 and 100 clients.

    python benchmarks/serve_load.py [--artifact DIR | --task classify|forecast|lm] [--requests 300]
        [--clients 1 10 100] [--cap-s 60] [--max-batch 32] [--max-wait-ms 5] [--out F.json] [--markdown F.md]

Starts the service in a subprocess (``python -m recurrax serve ARTIFACT --host 127.0.0.1 --port <free>``),
waits for ``/health``, then for each level of concurrency ``c`` runs ``c`` clients (`httpx.AsyncClient`,
one connection each) that send ``POST /v1/predict`` back to back until ``--requests`` answers are in, or
``--cap-s`` seconds have passed (the requests not sent by then count as dropped). Before each level, untimed
requests compile the padded shapes: one request of each batch bucket's rows (1, 2, 4, ... ``--max-batch``;
not for lm, whose batches come only from concurrent generations) and ``2 c`` concurrent ones (at most 64).
Reports per level: answers, errors (status other than 200, or a transport error), dropped, throughput
(answers / wall time), p50 and p99 latency, the mean rows per model call (from ``/metrics``: the dynamic
batching at work) and the server's and the client's CPU time per answer (``/proc`` and `time.process_time`:
numbers that contention on a shared machine does not inflate as much as the latencies).

Without ``--artifact`` it exports a tiny untrained model of ``--task`` (classify: 2 features, 3 classes,
hidden 16, sequences of 16 steps; forecast: hidden 16, input 24, horizon 6, histories of 24; lm: a 30-char
vocabulary, hidden 32, 7-char prompts and 8 generated tokens) to a temporary directory. The client and the
server share the machine's cores, and the machine is named in the output (with its load average, since a
shared machine slows both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def tiny_artifact(task: str, folder: Path) -> Path:
    """Export an untrained tiny model of ``task`` into ``folder``; returns the artifact directory."""
    import jax

    from recurrax.config import to_dict
    from recurrax.serve import export_run
    from recurrax.tasks import classify, forecast, lm
    from recurrax.train import save_checkpoint

    key = jax.random.key(0)
    if task == "classify":
        cfg = classify.ClassifyConfig(model=classify.ModelConfig(hidden_size=16))
        model = classify.build_model(cfg.model, 2, 3, key=key)
        meta = {"classes": ["a", "b", "c"], "input_size": 2, "scaler": {"mean": [0.0, 0.0], "std": [1.0, 1.0]}}
    elif task == "forecast":
        cfg = forecast.ForecastConfig(model=forecast.ModelConfig(head="gaussian", hidden_size=16),
                                      data=forecast.DataConfig(input_size=24, horizon=6))  # fmt: skip
        model, meta = forecast.build_model(cfg.model, 6, key=key), {"scaler": None}
    else:
        tokenizer = lm.CharTokenizer.fit("abcdefghijklmnopqrstuvwxyz .\n")
        cfg = lm.LMConfig(model=lm.ModelConfig(embed_size=16, hidden_size=32))
        model, meta = lm.build_model(cfg.model, len(tokenizer), key=key), {"tokenizer": tokenizer.to_json()}
    save_checkpoint(folder / "checkpoint", model, {"task": task, "config": to_dict(cfg), **meta})
    return export_run(folder / "checkpoint", folder / task)


def payload(task: str, rng: np.random.Generator) -> dict[str, Any]:
    if task == "classify":
        return {"inputs": rng.normal(size=(1, 16, 2)).round(4).tolist()}
    if task == "forecast":
        return {"history": (10 + rng.normal(size=(1, 24))).round(4).tolist()}
    return {"prompt": "the oak", "max_tokens": 8, "temperature": 0.8, "seed": int(rng.integers(1000))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux ``/proc``; 0 elsewhere)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.is_file():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_rows(url: str) -> tuple[float, float]:
    """(sum, count) of ``recurrax_batch_rows`` on /metrics."""
    total = count = 0.0
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("recurrax_batch_rows_sum"):
            total += float(line.split()[-1])
        elif line.startswith("recurrax_batch_rows_count"):
            count += float(line.split()[-1])
    return total, count


async def level(
    url: str, task: str, clients: int, requests: int, cap_s: float, max_batch: int, pid: int
) -> dict[str, Any]:
    """``clients`` concurrent clients sending until ``requests`` answers or ``cap_s`` seconds."""
    buckets = sorted({min(2**i, max_batch) for i in range(max_batch.bit_length() + 1)})
    rng = np.random.default_rng(clients)
    bodies = [payload(task, rng) for _ in range(requests)]
    latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120.0) as client:
        for rows in buckets if task != "lm" else ():  # one request of each bucket's rows: compile them all
            body = {k: v * rows if k in ("inputs", "history") else v for k, v in bodies[0].items()}
            await client.post("/v1/predict", json=body)
        warm = min(2 * clients, 64)
        await asyncio.gather(*(client.post("/v1/predict", json=bodies[i % requests]) for i in range(warm)))
        rows_before = batch_rows(url)
        cpu_before, client_before = cpu_seconds(pid), time.process_time()
        start = time.perf_counter()

        async def one_client() -> None:
            nonlocal sent, errors
            while sent < requests and time.perf_counter() - start < cap_s:
                body = bodies[sent]
                sent += 1
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/predict", json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - start
    cpu, client_cpu = cpu_seconds(pid) - cpu_before, time.process_time() - client_before
    rows_after = batch_rows(url)
    calls = rows_after[1] - rows_before[1]
    ms = sorted(1000 * t for t in latencies)
    return {
        "clients": clients,
        "answered": len(latencies) - errors,
        "errors": errors,
        "dropped": requests - sent,
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(np.ceil(0.99 * len(ms))) - 1)], 2),
        "rows_per_call": round((rows_after[0] - rows_before[0]) / calls, 2) if calls else None,
        "server_cpu_ms_per_request": round(1000 * cpu / max(len(latencies), 1), 2),
        "client_cpu_ms_per_request": round(1000 * client_cpu / max(len(latencies), 1), 2),
    }


def markdown(result: dict[str, Any]) -> str:
    head = (
        "| clients | answered | errors | dropped | throughput (req/s) | p50 (ms) | p99 (ms) | rows per call "
        "| server CPU ms/req | client CPU ms/req |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["levels"]:
        lines.append(f"| {r['clients']} | {r['answered']} | {r['errors']} | {r['dropped']} | {r['throughput_rps']} "
                     f"| {r['p50_ms']} | {r['p99_ms']} | {r['rows_per_call']} | {r['server_cpu_ms_per_request']} "
                     f"| {r['client_cpu_ms_per_request']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, help="An exported model (default: a tiny untrained one).")
    parser.add_argument("--task", choices=("classify", "forecast", "lm"), default="classify")
    parser.add_argument("--requests", type=int, default=300, help="Timed requests per level.")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--cap-s", type=float, default=60.0, help="Stop sending after this long per level.")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--out", type=Path, help="Write the results as JSON.")
    parser.add_argument("--markdown", type=Path, help="Write the table as markdown.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        artifact = args.artifact or tiny_artifact(args.task, Path(tmp))
        task = json.loads((artifact / "meta.json").read_text())["task"]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "recurrax", "serve", str(artifact), "--host", "127.0.0.1", "--port",
                   str(port), "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms),
                   "--max-sessions", "10", "--log-level", "warning"]  # fmt: skip
        server = subprocess.Popen(command)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    if httpx.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"the server did not start (exit code {server.poll()})")
                time.sleep(0.2)
            result = {"machine": machine(), "load_average": os.getloadavg(), "task": task, "artifact": str(artifact),
                      "requests": args.requests, "cap_s": args.cap_s, "max_batch": args.max_batch,
                      "max_wait_ms": args.max_wait_ms, "levels": []}  # fmt: skip
            for clients in args.clients:
                result["levels"].append(
                    asyncio.run(level(url, task, clients, args.requests, args.cap_s, args.max_batch, server.pid))
                )
                print(json.dumps(result["levels"][-1]), flush=True)
            result["load_average_after"] = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\n{task} model, {machine()}, load average {result['load_average'][0]:.1f} at the start\n")
    print(markdown(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(result))


if __name__ == "__main__":
    main()
