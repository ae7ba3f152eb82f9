"""What machine and which package versions this process runs on (for benchmark records)."""

from __future__ import annotations

import os
import platform
import subprocess
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


def source_revision(folder: str | os.PathLike | None = None) -> dict[str, str | bool | None]:
    """The git commit of the checkout that holds ``folder`` (default: this package) and whether it has
    uncommitted changes: ``{"commit", "dirty"}``, both None outside a git checkout."""
    where = folder if folder is not None else os.path.dirname(__file__)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
