"""What a speed run measures: the LSTM sizes (c1-c3 on CPU, g1-g4 on GPU), the peers, and the `Plan`.

A config is a single-direction LSTM on batch-major input ``[B, T, D]`` with ``H`` hidden units per layer.
Besides the named configs, ``--configs`` takes a size spelled ``B32T100D64H128`` (``L2`` for two layers,
``-bfloat16`` for another dtype).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jax


@dataclass(frozen=True)
class Config:
    """One benchmark size: batch ``B``, steps ``T``, inputs ``D``, hidden ``H``, layers and parameter dtype."""

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

    @property
    def key(self) -> str:
        """The name ``--configs`` knows it by: ``g1``, or ``g1-bfloat16`` for another dtype."""
        return self.name if self.dtype == "float32" else f"{self.name}-{self.dtype}"

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
COMPILE_SIZES = {"batch": 32, "inputs": 64, "hidden": 128}  # first-call time at T=100 and T=1000
LABELS = {
    "torch": "torch nn.LSTM (oneDNN)",
    "torch_cuda": "torch nn.LSTM (cuDNN)",
    "jax_cudnn": "jax.experimental.rnn (cuDNN)",
    "flax": "flax OptimizedLSTMCell + nn.RNN",
    "equinox": "equinox LSTMCell, vmap + scan",
    "recurrax": "recurrax",
    "recurrax_xla": "recurrax, XLA kernel (vendor_kernels off)",
    "recurrax_bf16": "recurrax, bfloat16 matmuls (matmul_dtype)",
    "recurrax_generic": "recurrax generic (fused=False)",
}
PEERS = ("torch", "jax_cudnn", "flax", "equinox")  # the order of the columns; torch is the reference
DEFAULT_PEERS = {"cpu": ("torch", "flax", "equinox"), "gpu": ("torch", "jax_cudnn", "flax")}
_SIZE = re.compile(r"B(\d+)T(\d+)D(\d+)H(\d+)(?:L(\d+))?(?:-(float32|bfloat16|float16))?", re.IGNORECASE)


@dataclass
class Plan:
    """What to run and how often: set from ``--device``, ``--quick`` and the selections (see `make_plan`)."""

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
    compile_steps: tuple[int, ...] = (100, 1000)

    def label(self, impl: str) -> str:
        return LABELS["torch_cuda" if impl == "torch" and self.device == "gpu" else impl]


def parse_config(spec: str) -> Config:
    """A named config (``c1``-``c3``, ``g1``-``g4``, ``g1-bfloat16``) or a size such as ``B32T100D64H128L2``.

    Example:
        >>> parse_config("B2T5D3H4").label
        'custom B2 T5 D3 H4'
    """
    for cfg in CPU_CONFIGS + GPU_CONFIGS:
        if cfg.key == spec:
            return cfg
    match = _SIZE.fullmatch(spec)
    if match is None:
        known = ", ".join(dict.fromkeys(c.key for c in CPU_CONFIGS + GPU_CONFIGS))
        raise ValueError(f"unknown config {spec!r}: use one of {known} or a size like B32T100D64H128 (L2 = 2 layers)")
    batch, steps, inputs, hidden, layers = (int(g) if g else 1 for g in match.groups()[:5])
    if min(batch, steps, inputs, hidden, layers) < 1:
        raise ValueError(f"config {spec!r}: every size must be at least 1")
    return Config("custom", batch, steps, inputs, hidden, layers, (match.group(6) or "float32").lower())


def parse_peers(names: list[str]) -> list[str]:
    """The peer implementations, checked against `PEERS` (``"none"`` alone: recurrax only)."""
    if names == ["none"]:
        return []
    for name in names:
        if name not in PEERS:
            raise ValueError(f"unknown peer {name!r}: use some of {', '.join(PEERS)} (or none)")
    return [name for name in PEERS if name in names]


def gpu_available() -> bool:
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


def make_plan(
    device: str = "cpu", quick: bool = False, repeats: int = 0, started: float = 0.0, *,
    configs: list[str] | None = None, peers: list[str] | None = None, cells: bool = True, first_call: bool = True,
) -> Plan:  # fmt: skip
    """The plan of a run (timings in seconds of ``time.perf_counter``; ``started`` is the run's start).

    ``quick`` is a smoke test: one tiny config per dtype (named configs shrink to B4 T12 D8 H16, sizes
    spelled out stay), 2 rounds, no warm-up. Rounds default to 10 (CPU) or 30 (GPU, stopping at
    ``started + 150`` s); ``repeats`` overrides them. ``cells`` adds every registered recurrax cell at the
    first config(s), ``first_call`` the compile time at T=100 and T=1000. Errors: unknown device, config or
    peer, and ``device="gpu"`` without a GPU unless ``quick`` (which then runs the GPU code paths on the CPU).
    """
    if device not in ("cpu", "gpu"):
        raise ValueError(f"unknown device {device!r}: use cpu or gpu")
    if repeats < 0:
        raise ValueError(f"repeats must be >= 0 (0 = the default), got {repeats}")
    chosen = list(dict.fromkeys(parse_config(name) for name in configs)) if configs else None
    impls = parse_peers(peers) if peers is not None else list(DEFAULT_PEERS[device])
    on_gpu = device == "gpu" and gpu_available()
    if device == "gpu" and not on_gpu and not quick:
        raise ValueError("--device gpu: JAX sees no GPU (use --quick for a CPU smoke test of the GPU code paths)")
    defaults = GPU_CONFIGS if device == "gpu" else CPU_CONFIGS
    variant_configs = [GPU_CONFIGS[0]] if device == "gpu" else CPU_CONFIGS[:2]
    if chosen:
        shrink = lambda c: c.tiny() if quick and c.name != "custom" else c
        selected = [shrink(c) for c in chosen]
        variant_configs = selected[:1]
    elif quick:  # one tiny multi-layer config per dtype
        per_dtype: dict[str, Config] = {}
        for c in sorted(defaults, key=lambda c: -c.layers):
            per_dtype.setdefault(c.dtype, c.tiny())
        selected, variant_configs = list(per_dtype.values()), [variant_configs[0].tiny()]
    else:
        selected = list(defaults)
    if quick:
        rounds, min_rounds, warmup, budget = 2, 1, 0, 0.0
    elif on_gpu:
        rounds, min_rounds, warmup, budget = 30, 5, 2, 2.0
    else:
        rounds, min_rounds, warmup, budget = 10, 5, 1, 45.0
    rounds = repeats or rounds
    deadline = started + 150.0 if on_gpu else float("inf")  # the GPU run must end within 4 minutes
    return Plan(
        device, on_gpu, quick, rounds, min(min_rounds, rounds), warmup, budget, selected,
        variant_configs if cells else [],
        [*impls, "recurrax", "recurrax_xla", "recurrax_bf16", "recurrax_generic"], deadline,
        (100, 1000) if first_call else (),
    )  # fmt: skip
