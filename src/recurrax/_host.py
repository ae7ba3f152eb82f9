"""What machine and which package versions this process runs on (for benchmark records)."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (``platform``'s guess where there is none)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return cpu


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def package_version(package: str) -> str:
    """The installed version of ``package``, or ``"not installed"``."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
