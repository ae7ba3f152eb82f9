"""``recurrax info``: versions and devices."""

from __future__ import annotations

import platform
from importlib import metadata

import typer

PACKAGES = ("recurrax", "jax", "jaxlib", "equinox", "optax", "numpy", "safetensors")


def info() -> None:
    """Versions of recurrax and its core dependencies, the Python, and the JAX devices.

    Example: recurrax info
    """
    import jax

    typer.echo(f"python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    for package in PACKAGES:
        try:
            typer.echo(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            typer.echo(f"{package} not installed")
    typer.echo(f"jax backend: {jax.default_backend()}")
    for device in jax.devices():
        typer.echo(f"device: {device.platform} {device.device_kind} (id {device.id})")
