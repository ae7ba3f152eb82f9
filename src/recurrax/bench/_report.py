"""The report of a speed run: the machine it ran on, one table per config with ratios to torch, the recurrax
cells table, the first-call table; as plain text (`print_report`) or markdown (`markdown_report`).

``x`` = reference time / implementation time (above 1 is faster): the reference is torch ``nn.LSTM`` in the
config tables and the plain recurrax LSTM (default and ``fused=False``) in the cells table.
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

import jax
import jax.numpy as jnp

from .._host import cpu_name, package_version, usable_cores
from ._configs import LABELS, Plan

VERSIONS = ("python", "jax", "jaxlib", "torch", "flax", "equinox", "recurrax")


def machine_info(plan: Plan) -> dict[str, Any]:
    """CPU model and cores, the JAX device, versions, the relevant environment and the load average at start;
    on GPU also nvidia-smi's name, driver and memory and torch's cuDNN version."""
    info: dict[str, Any] = dict(
        cpu=cpu_name(),
        cores=os.cpu_count(),
        usable_cores=usable_cores(),
        jax_device=next(iter(jnp.zeros(()).devices())).device_kind,
        python=platform.python_version(),
        jax=jax.__version__,
        **{name: package_version(name) for name in VERSIONS[2:]},
        load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        env={k: os.environ[k] for k in ("OMP_WAIT_POLICY", "XLA_FLAGS", "LD_PRELOAD") if k in os.environ},
    )
    if plan.on_gpu:
        try:
            query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
            info["gpu"] = subprocess.run(query, check=False, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info["gpu"] = info["jax_device"]
        try:
            import torch

            info["cudnn"] = torch.backends.cudnn.version() if torch.cuda.is_available() else None
        except ImportError:
            info["cudnn"] = None
    return info


def machine_lines(info: dict[str, Any], plan: Plan) -> list[str]:
    lines = [f"CPU: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable)"]
    if plan.on_gpu:
        lines.append(f"GPU: {info.get('gpu') or info['jax_device']}, cuDNN {info.get('cudnn')}; fp32 = TF32 matmuls")
    elif plan.device == "gpu":
        lines.append("GPU: none found; smoke test of the GPU code paths on the CPU")
    versions = ", ".join(f"{k} {info[k]}" for k in VERSIONS)
    lines.append(f"versions: {versions}")
    lines.append("environment: " + (", ".join(f"{k}={v}" for k, v in info["env"].items()) or "-"))
    load = info["load_average"]
    if load is not None and load > 0.5 * info["usable_cores"]:
        lines.append(f"WARNING: load average {load:.1f} at start: other work shares the CPU, timings are unreliable")
    return lines


def cell(result: dict[str, Any] | None, reference: float | None, short: bool = False) -> tuple[str, str]:
    """``(ms, x)`` texts of one measurement; an error takes the ms slot (only its kind when ``short``)."""
    if result is None:
        return "-", ""
    if result["ms"] is None:
        text = result["error"] or "no timing"
        return (text.split(":")[0] if short else text), ""
    ratio = f"{reference / result['ms']:.2f}x" if reference else ""
    return f"{result['ms']:.2f}", ratio


def config_table(label: str, row: dict[str, Any], plan: Plan) -> list[str]:
    head = f"  {'implementation':32} {'fwd+bwd ms':>11} {'x':>6} {'fwd ms':>10} {'x':>6} {'first call s':>13}"
    lines = [label, head]
    refs = {mode: (row.get("torch", {}).get(mode) or {}).get("ms") for mode in ("fwd_bwd", "fwd")}
    for impl in plan.impls:
        modes = row.get(impl, {})
        fb, fw = modes.get("fwd_bwd"), modes.get("fwd")
        if fb and fw and fb["ms"] is None and fb["error"] == fw["error"]:
            lines.append(f"  {plan.label(impl):32} {fb['error']}")
            continue
        (fb_ms, fb_x), (fw_ms, fw_x) = cell(fb, refs["fwd_bwd"]), cell(fw, refs["fwd"])
        first = f"{fb['first_call_s']:.2f}" if fb and fb["first_call_s"] is not None else ""
        lines.append(f"  {plan.label(impl):32} {fb_ms:>11} {fb_x:>6} {fw_ms:>10} {fw_x:>6} {first:>13}")
    drift = torch_runs(row)
    note = f"  torch before / after the JAX rows (ms; its time above is their mean): {drift}"
    return lines + ([note] if drift else [])


def torch_runs(row: dict[str, Any]) -> str:
    """``fwd+bwd a / b, fwd c / d``: torch's medians before and after the JAX rows (CPU), or "" without them."""
    modes = row.get("torch", {})
    texts = [f"{name} {' / '.join(f'{ms:.2f}' if ms else '-' for ms in modes[mode]['ms_runs'])}"
             for mode, name in (("fwd_bwd", "fwd+bwd"), ("fwd", "fwd"))
             if "ms_runs" in modes.get(mode, {})]  # fmt: skip
    return ", ".join(texts)


def variants_table(variants: dict[str, Any], markdown: bool) -> list[str]:
    """One row per cell, ms and x against both plain-lstm references per config; reasons for gaps below."""
    labels = list(variants)
    names = list(dict.fromkeys(name for table in variants.values() for name in table))
    rows, notes = [], {}
    for name in names:
        row = [name]
        for label in labels:
            table, result = variants[label], variants[label].get(name)
            if result is None or result["ms"] is None:
                reason = result["error"] if result else "not run"
                notes.setdefault(f"{name}: {reason}", None)
                row += [reason.split(":")[0], "", ""]
                continue
            row.append(f"{result['ms']:.2f}")
            for ref in ("lstm (default)", "lstm (generic)"):
                ref_ms = (table.get(ref) or {}).get("ms")
                row.append(f"{ref_ms / result['ms']:.2f}x" if ref_ms else "")
        rows.append(row)
    head = ["cell"] + [f"{label.split()[0]} {h}" for label in labels for h in ("ms", "x default", "x generic")]
    lines = render(head, rows, markdown)
    if notes:
        lines += [""] + [f"- {note.replace('|', '/')}" if markdown else f"  {note}" for note in notes]
    return lines


def compile_table(compile_times: dict[str, Any], steps: tuple[int, ...], markdown: bool) -> list[str]:
    head = ["implementation"] + [f"first call T={t} s" for t in steps] + [f"run T={t} ms" for t in steps]
    rows = []
    for impl, by_steps in compile_times.items():
        firsts = [by_steps[t]["first_call_s"] for t in steps]
        runs = [cell(by_steps[t], None, short=True)[0] for t in steps]
        rows.append([LABELS[impl]] + [f"{s:.2f}" if s is not None else "" for s in firsts] + runs)
    return render(head, rows, markdown)


def render(head: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head), *rows]]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    align = [str.ljust] + [str.rjust] * (len(head) - 1)
    return ["  " + "  ".join(a(c, w) for a, c, w in zip(align, r, widths)) for r in [head, *rows]]


def markdown_report(report: dict[str, Any], plan: Plan) -> str:
    """The same tables in markdown, to paste into ``docs/benchmarks.md``."""
    lines = [f"## LSTM speed on {plan.device.upper()}{' (quick smoke run)' if plan.quick else ''}", ""]
    lines += [f"- {line}" for line in machine_lines(report["machine"], plan)]
    lines += ["", f"Median ms; x = {plan.label('torch')} time / implementation time (above 1 is faster than torch)."]
    short = {c.label: c.short for c in plan.configs}
    titles = {"fwd_bwd": "fwd+bwd (loss = sum of outputs, gradients w.r.t. all weights)", "fwd": "forward only"}
    for mode, title in titles.items():
        rows, notes = [], {}
        for label, row in report["results"].items():
            ref = (row.get("torch", {}).get(mode) or {}).get("ms")
            texts = [label]
            for impl in plan.impls:
                result = row.get(impl, {}).get(mode)
                if result and result["ms"] is None:
                    notes.setdefault(f"{plan.label(impl)}: {result['error']}", []).append(short[label])
                ms, x = cell(result, ref if impl != "torch" else None, short=True)
                texts.append(f"{ms} ({x})" if x else ms)
            rows.append(texts)
        lines += ["", f"### {title}", ""] + render(["config"] + [plan.label(i) for i in plan.impls], rows, True)
        lines += [""] * bool(notes) + [f"- {note.replace('|', '/')} ({', '.join(at)})" for note, at in notes.items()]
    drift = {label: torch_runs(row) for label, row in report["results"].items()}
    if any(drift.values()):
        lines += ["", "torch was timed before and after the JAX rows; its time above is the mean of the two (ms):", ""]
        lines += [f"- {short[label]}: {text}" for label, text in drift.items() if text]
    if report["variants"]:
        lines += ["", "### recurrax cells, fwd+bwd (x = plain lstm time / cell time)", ""]
        lines += variants_table(report["variants"], True)
    if report["compile"]:
        lines += ["", "### First call (compile + one run) of recurrax fwd+bwd", ""]
        lines += compile_table(report["compile"], plan.compile_steps, True)
    lines += ["", f"Total benchmark time {report['elapsed_s']:.0f} s.", ""]
    return "\n".join(lines)


def print_report(report: dict[str, Any], plan: Plan) -> None:
    """The machine, then the tables as aligned text on stdout (sections that were not run are left out)."""
    print("\n".join(machine_lines(report["machine"], plan)))
    print(f"median ms; x = {plan.label('torch')} time / implementation time (above 1 = faster than torch)\n")
    for label, row in report["results"].items():
        print("\n".join(config_table(label, row, plan)), end="\n\n")
    if report["variants"]:
        print("recurrax cells, fwd+bwd; x = plain lstm time / cell time")
        print("\n".join(variants_table(report["variants"], False)), end="\n\n")
    if report["compile"]:
        print("first call (compile + one run) of recurrax fwd+bwd: flat in T when the scan is not unrolled")
        print("\n".join(compile_table(report["compile"], plan.compile_steps, False)), end="\n\n")
    print(f"elapsed {report['elapsed_s']:.1f} s")
