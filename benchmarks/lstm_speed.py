"""Speed of a single-direction LSTM: recurrax against torch, flax, equinox and cuDNN, in one process.

    python benchmarks/lstm_speed.py [--device cpu|gpu] [--quick] [--repeats N] [--out F.json] [--markdown F.md]

Times fwd+bwd (loss = sum of the top layer's outputs, gradients w.r.t. all weights) and forward only; each
number is the median over repeats after a first (compiling) call and warm-up. ``x`` = reference time /
implementation time, the reference being torch (``nn.LSTM``: oneDNN on CPU, cuDNN on GPU); above 1 is faster.
Also times every registered recurrax cell against the plain ``"lstm"`` and the first-call (compile) time of
recurrax fwd+bwd at T=100 and T=1000. ``--quick`` runs every code path at tiny sizes with 1-2 repeats, and
``--device gpu --quick`` does so on the CPU when there is no GPU (a smoke test of the GPU code paths).

Method: all JAX measurements run first, torch's last, because ``OMP_WAIT_POLICY=ACTIVE`` (needed for stable
torch timings on small CPUs) leaves an OpenMP thread spinning after torch's first call, which would steal a
core from XLA. Within a config the implementations are timed in interleaved rounds, so drifting load on a
shared machine hits all of them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")  # before torch is imported: stable oneDNN timings
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX and torch share the GPU

import equinox as eqx  # noqa: E402
import flax  # noqa: E402
import flax.linen as fnn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
import torch  # noqa: E402

import recurrax as rx  # noqa: E402


@dataclass(frozen=True)
class Config:
    name: str
    batch: int
    steps: int
    inputs: int
    hidden: int
    layers: int = 1
    dtype: str = "float32"

    @property
    def label(self) -> str:
        layers = f", {self.layers} layers" if self.layers > 1 else ""
        dtype = "" if self.dtype == "float32" else f" {self.dtype}"
        return f"{self.name} B{self.batch} T{self.steps} D{self.inputs} H{self.hidden}{layers}{dtype}"

    @property
    def short(self) -> str:
        return self.name if self.dtype == "float32" else f"{self.name} {self.dtype}"

    def tiny(self) -> Config:
        return Config(self.name, 4, 12, 8, 16, self.layers, self.dtype)


CPU_CONFIGS = [Config("c1", 32, 100, 64, 128), Config("c2", 64, 200, 128, 256), Config("c3", 16, 500, 32, 512, 2)]
GPU_CONFIGS = [
    Config("g1", 64, 256, 256, 512),
    Config("g2", 256, 256, 512, 1024, 2),
    Config("g3", 8, 1024, 128, 256),
    Config("g4", 32, 512, 64, 128),
    Config("g1", 64, 256, 256, 512, dtype="bfloat16"),
    Config("g2", 256, 256, 512, 1024, 2, dtype="bfloat16"),
]
COMPILE_SIZES = dict(batch=32, inputs=64, hidden=128)  # first-call time at T=100 and T=1000
LABELS = {
    "torch": "torch nn.LSTM (oneDNN)",
    "torch_cuda": "torch nn.LSTM (cuDNN)",
    "jax_cudnn": "jax.experimental.rnn (cuDNN)",
    "flax": "flax OptimizedLSTMCell + nn.RNN",
    "equinox": "equinox LSTMCell, vmap + scan",
    "recurrax": "recurrax",
    "recurrax_generic": "recurrax generic (fused=False)",
}


class Unavailable(Exception):
    """An implementation that does not exist here (shown as ``n/a``, not as a failure)."""


@dataclass
class Plan:
    """What to run and how often: set from ``--device`` and ``--quick``."""

    device: str
    on_gpu: bool
    quick: bool
    rounds: int
    min_rounds: int
    warmup: int
    budget_s: float
    configs: list[Config]
    variant_configs: list[Config]
    impls: list[str]
    deadline: float = float("inf")  # perf_counter time after which only min_rounds are timed
    compile_steps: tuple[int, int] = (100, 1000)

    def label(self, impl: str) -> str:
        return LABELS["torch_cuda" if impl == "torch" and self.device == "gpu" else impl]


# ---------------------------------------------------------------- implementations (each returns fwd_bwd, fwd)
# Every builder returns two zero-argument callables that run one fwd+bwd / one forward and wait for it.


class FlaxLSTM(fnn.Module):
    hidden: int
    layers: int
    dtype: Any = jnp.float32

    @fnn.compact
    def __call__(self, xs):
        for _ in range(self.layers):
            xs = fnn.RNN(fnn.OptimizedLSTMCell(self.hidden, dtype=self.dtype))(xs)
        return xs


class EquinoxLSTM(eqx.Module):
    """A stack of ``eqx.nn.LSTMCell``: vmap over the batch inside a `lax.scan` over time; ``[B, T, D]`` in."""

    cells: tuple[eqx.nn.LSTMCell, ...]

    def __init__(self, inputs: int, hidden: int, layers: int, *, key):
        keys = jax.random.split(key, layers)
        self.cells = tuple(eqx.nn.LSTMCell(inputs if i == 0 else hidden, hidden, key=k) for i, k in enumerate(keys))

    def __call__(self, xs):
        xs = jnp.swapaxes(xs, 0, 1)
        for cell in self.cells:
            zeros = jnp.zeros((xs.shape[1], cell.hidden_size), xs.dtype)
            step = jax.vmap(cell)

            def body(carry, x, step=step):
                carry = step(x, carry)
                return carry, carry[0]

            _, xs = jax.lax.scan(body, (zeros, zeros), xs)
        return jnp.swapaxes(xs, 0, 1)


def cast(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


def jax_pair(apply: Callable, params, xs):
    """fwd+bwd (gradients w.r.t. ``params``) and forward of ``apply(params, xs) -> ys``, each jitted anew."""
    grad = jax.jit(jax.grad(lambda p, x: jnp.sum(apply(p, x).astype(jnp.float32))))
    fwd = jax.jit(apply)
    return (lambda: jax.block_until_ready(grad(params, xs))), (lambda: jax.block_until_ready(fwd(params, xs)))


def module_pair(model: eqx.Module, call: Callable, xs):
    params, static = eqx.partition(model, eqx.is_inexact_array)
    return jax_pair(lambda p, x: call(eqx.combine(p, static), x), params, xs)


def jax_inputs(cfg: Config, key):
    return jax.random.normal(key, (cfg.batch, cfg.steps, cfg.inputs), cfg.dtype)


def build_recurrax(cfg: Config, key, **options):
    try:
        model = rx.LSTM(cfg.inputs, cfg.hidden, cfg.layers, key=key, **options)
    except TypeError as err:
        if "fused" in str(err):
            raise Unavailable("rx.LSTM has no `fused` option") from err
        raise
    return module_pair(cast(model, cfg.dtype), lambda m, x: m(x)[0], jax_inputs(cfg, key))


def build_cell(name: str, cfg: Config, key):
    model = rx.RNNStack(cfg.inputs, cfg.hidden, cfg.layers, key=key, cell=name)
    return module_pair(cast(model, cfg.dtype), lambda m, x: m(x)[0], jax_inputs(cfg, key))


def build_equinox(cfg: Config, key):
    model = cast(EquinoxLSTM(cfg.inputs, cfg.hidden, cfg.layers, key=key), cfg.dtype)
    return module_pair(model, lambda m, x: m(x), jax_inputs(cfg, key))


def build_flax(cfg: Config, key):
    module = FlaxLSTM(cfg.hidden, cfg.layers, jnp.dtype(cfg.dtype))
    xs = jax_inputs(cfg, key)
    params = cast(module.init(key, xs.astype(jnp.float32)), cfg.dtype)  # fp32 init: bf16 QR is unsupported
    return jax_pair(module.apply, params, xs)


def build_jax_cudnn(cfg: Config, key):
    from jax.experimental import rnn

    weights = rnn.init_lstm_weight(key, cfg.inputs, cfg.hidden, cfg.layers, False).astype(cfg.dtype)
    zeros = jnp.zeros((cfg.layers, cfg.batch, cfg.hidden), cfg.dtype)
    lengths = jnp.full((cfg.batch,), cfg.steps, jnp.int32)

    def apply(w, x):
        return rnn.lstm(x, zeros, zeros, w, lengths, cfg.inputs, cfg.hidden, cfg.layers, 0.0, False)[0]

    return jax_pair(apply, weights, jax_inputs(cfg, key))


def build_torch(cfg: Config, device: str):
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("this torch has no CUDA")
    dtype = getattr(torch, cfg.dtype)
    torch.manual_seed(0)
    model = torch.nn.LSTM(cfg.inputs, cfg.hidden, cfg.layers, batch_first=True).to(device=device, dtype=dtype)
    xs = torch.randn(cfg.batch, cfg.steps, cfg.inputs, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def fwd_bwd():
        model.zero_grad(set_to_none=True)
        model(xs)[0].float().sum().backward()
        sync()

    def fwd():
        with torch.no_grad():
            model(xs)
        sync()

    return fwd_bwd, fwd


def builders(plan: Plan) -> dict[str, Callable]:
    every = {
        "jax_cudnn": build_jax_cudnn,
        "flax": build_flax,
        "equinox": build_equinox,
        "recurrax": build_recurrax,
        "recurrax_generic": lambda cfg, key: build_recurrax(cfg, key, fused=False),
    }
    return {name: every[name] for name in plan.impls if name != "torch"}


# ---------------------------------------------------------------- timing


@dataclass
class Entry:
    """One implementation in one mode: its callable, then its timings (seconds) or why it has none."""

    impl: str
    mode: str  # "fwd_bwd" or "fwd"
    run: Callable | None = None
    error: str | None = None
    first_s: float | None = None
    times: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ms = 1e3 * statistics.median(self.times) if self.times else None
        return dict(ms=ms, first_call_s=self.first_s, repeats=len(self.times), error=self.error)


def describe(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0] if lines else ''}"
    text = text if len(text) <= 130 else text[:127] + "..."
    return ("n/a: " if isinstance(err, Unavailable) else "fails: ") + text.replace("Unavailable: ", "")


def entries_for(name: str, build: Callable[[], tuple[Callable, Callable]], modes=("fwd_bwd", "fwd")) -> list[Entry]:
    try:
        runs = dict(zip(("fwd_bwd", "fwd"), build()))
        return [Entry(name, mode, run=runs[mode]) for mode in modes]
    except Exception as err:  # noqa: BLE001 - a failing implementation becomes a table cell
        return [Entry(name, mode, error=describe(err)) for mode in modes]


def measure(entries: list[Entry], plan: Plan) -> list[Entry]:
    """First call (compile), warm-up, then interleaved rounds until ``plan.rounds`` or the time budget."""
    live = []
    for entry in entries:
        if entry.run is None:
            continue
        try:
            start = time.perf_counter()
            entry.run()
            entry.first_s = time.perf_counter() - start
            for _ in range(plan.warmup):
                entry.run()
            live.append(entry)
        except Exception as err:  # noqa: BLE001
            entry.error, entry.run = describe(err), None
    start = time.perf_counter()
    for index in range(plan.rounds):
        for entry in list(live):
            try:
                t0 = time.perf_counter()
                entry.run()
                entry.times.append(time.perf_counter() - t0)
            except Exception as err:  # noqa: BLE001
                entry.error, entry.times = describe(err), []
                live.remove(entry)
        now = time.perf_counter()
        if index + 1 >= plan.min_rounds and (now - start > plan.budget_s or now > plan.deadline):
            break
    for entry in entries:
        entry.run = None  # release the compiled functions and their buffers
    return entries


def log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)


def run_all(plan: Plan, started: float) -> dict[str, Any]:
    key = jax.random.key(0)
    results: dict[str, dict[str, Any]] = {cfg.label: {} for cfg in plan.configs}

    def store(label: str, entries: list[Entry]) -> None:
        for entry in entries:
            results[label].setdefault(entry.impl, {})[entry.mode] = entry.summary()

    for cfg in plan.configs:
        log(f"JAX implementations at {cfg.label}", started)
        entries = []
        for name, build in builders(plan).items():
            entries += entries_for(name, lambda build=build: build(cfg, key))
        store(cfg.label, measure(entries, plan))

    variants = {}
    for cfg in plan.variant_configs:
        log(f"recurrax cells at {cfg.label}", started)
        entries = entries_for("lstm (default)", lambda: build_recurrax(cfg, key), ("fwd_bwd",))
        entries += entries_for("lstm (generic)", lambda: build_recurrax(cfg, key, fused=False), ("fwd_bwd",))
        for name in list(rx.cells.CELLS):
            try:
                runs = build_cell(name, cfg, key)
                entries.append(Entry(name, "fwd_bwd", run=runs[0]))
            except Exception as err:  # noqa: BLE001 - e.g. cells that need input_size == hidden_size
                entries.append(Entry(name, "fwd_bwd", error=describe(err).replace("fails:", "skipped:", 1)))
        variants[cfg.label] = {entry.impl: entry.summary() for entry in measure(entries, plan)}

    compile_times = {}
    for name, options in (("recurrax", {}), ("recurrax_generic", {"fused": False})):
        for steps in plan.compile_steps:
            cfg = Config(f"T{steps}", steps=steps, layers=1, **COMPILE_SIZES)
            cfg = Config(cfg.name, 4, steps, 8, 16) if plan.quick else cfg
            log(f"first call of {name} at {cfg.label}", started)
            build = lambda cfg=cfg, options=options: build_recurrax(cfg, key, **options)  # noqa: E731
            entry = entries_for(name, build, ("fwd_bwd",))
            compile_times.setdefault(name, {})[steps] = measure(entry, replace(plan, rounds=1))[0].summary()

    if "torch" in plan.impls:
        device = "cuda" if plan.on_gpu else "cpu"
        for cfg in plan.configs:
            log(f"torch at {cfg.label}", started)
            store(cfg.label, measure(entries_for("torch", lambda cfg=cfg: build_torch(cfg, device)), plan))
    return dict(results=results, variants=variants, compile=compile_times)


# ---------------------------------------------------------------- machine and report


def machine_info(plan: Plan) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info: dict[str, Any] = dict(
        cpu=cpu,
        cores=os.cpu_count(),
        usable_cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        jax_device=next(iter(jnp.zeros(()).devices())).device_kind,
        python=platform.python_version(),
        jax=jax.__version__,
        jaxlib=jaxlib.__version__,
        torch=torch.__version__,
        flax=flax.__version__,
        equinox=eqx.__version__,
        recurrax=rx.__version__,
        load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        env={k: os.environ[k] for k in ("OMP_WAIT_POLICY", "XLA_FLAGS", "LD_PRELOAD") if k in os.environ},
    )
    if plan.on_gpu:
        try:
            query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
            info["gpu"] = subprocess.run(query, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info["gpu"] = info["jax_device"]
        info["cudnn"] = torch.backends.cudnn.version() if torch.cuda.is_available() else None
    return info


def machine_lines(info: dict[str, Any], plan: Plan) -> list[str]:
    lines = [f"CPU: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable)"]
    if plan.on_gpu:
        lines.append(f"GPU: {info.get('gpu') or info['jax_device']}, cuDNN {info.get('cudnn')}; fp32 = TF32 matmuls")
    elif plan.device == "gpu":
        lines.append("GPU: none found; smoke test of the GPU code paths on the CPU")
    versions = ", ".join(f"{k} {info[k]}" for k in ("python", "jax", "jaxlib", "torch", "flax", "equinox", "recurrax"))
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
    return lines


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


def compile_table(compile_times: dict[str, Any], steps: tuple[int, int], markdown: bool) -> list[str]:
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
    lines += ["", "### recurrax cells, fwd+bwd (x = plain lstm time / cell time)", ""]
    lines += variants_table(report["variants"], True)
    lines += ["", "### First call (compile + one run) of recurrax fwd+bwd", ""]
    lines += compile_table(report["compile"], plan.compile_steps, True)
    lines += ["", f"Total benchmark time {report['elapsed_s']:.0f} s.", ""]
    return "\n".join(lines)


def print_report(report: dict[str, Any], plan: Plan) -> None:
    print("\n".join(machine_lines(report["machine"], plan)))
    print(f"median ms; x = {plan.label('torch')} time / implementation time (above 1 = faster than torch)\n")
    for label, row in report["results"].items():
        print("\n".join(config_table(label, row, plan)), end="\n\n")
    print("recurrax cells, fwd+bwd; x = plain lstm time / cell time")
    print("\n".join(variants_table(report["variants"], False)), end="\n\n")
    print("first call (compile + one run) of recurrax fwd+bwd: flat in T when the scan is not unrolled")
    print("\n".join(compile_table(report["compile"], plan.compile_steps, False)), end="\n\n")
    print(f"elapsed {report['elapsed_s']:.1f} s")


# ---------------------------------------------------------------- main


def make_plan(args: argparse.Namespace, started: float) -> Plan:
    on_gpu = False
    if args.device == "gpu":
        try:
            on_gpu = bool(jax.devices("gpu"))
        except RuntimeError:
            if not args.quick:
                sys.exit("--device gpu: JAX sees no GPU (use --quick for a CPU smoke test of the GPU code paths)")
    if not on_gpu:
        jax.config.update("jax_default_device", jax.devices("cpu")[0])
    if on_gpu:
        torch.backends.cuda.matmul.allow_tf32 = True  # as JAX's default fp32 matmul precision on GPU
        torch.backends.cudnn.allow_tf32 = True
    configs = GPU_CONFIGS if args.device == "gpu" else CPU_CONFIGS
    variant_configs = [GPU_CONFIGS[0]] if args.device == "gpu" else CPU_CONFIGS[:2]
    impls = ["torch", "jax_cudnn", "flax", "recurrax", "recurrax_generic"] if args.device == "gpu" else [
        "torch", "flax", "equinox", "recurrax", "recurrax_generic"]  # fmt: skip
    if args.quick:  # a smoke test: one tiny multi-layer config per dtype, XLA optimisations off to compile fast
        jax.config.update("jax_disable_most_optimizations", True)
        per_dtype: dict[str, Config] = {}
        for c in sorted(configs, key=lambda c: -c.layers):
            per_dtype.setdefault(c.dtype, c.tiny())
        configs = list(per_dtype.values())
        variant_configs = [variant_configs[0].tiny()]
        rounds, min_rounds, warmup, budget = 2, 1, 0, 0.0
    elif on_gpu:
        rounds, min_rounds, warmup, budget = 30, 5, 2, 2.0
    else:
        rounds, min_rounds, warmup, budget = 10, 5, 1, 45.0
    rounds = args.repeats or rounds
    deadline = started + 150.0 if on_gpu else float("inf")  # the GPU run must end within 4 minutes
    return Plan(args.device, on_gpu, args.quick, rounds, min(min_rounds, rounds), warmup, budget, configs,
                variant_configs, impls, deadline)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1-2 repeats: a smoke test of every path")
    parser.add_argument("--repeats", type=int, default=0, help="timed rounds per config (default 10 CPU, 30 GPU)")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write markdown tables here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    plan = make_plan(args, started)
    report = dict(device=plan.device, on_gpu=plan.on_gpu, quick=plan.quick, machine=machine_info(plan))
    report.update(run_all(plan, started))
    report["elapsed_s"] = time.perf_counter() - started
    report["configs"] = [asdict(c) | {"label": c.label} for c in plan.configs]
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_report(report, plan))
    print_report(report, plan)


if __name__ == "__main__":
    main()
