"""Crash-safe file writes, in one place: a file or a directory appears under its final name complete or
not at all.

- `write_atomic(path, data)`: write to a temporary name in the same folder, flush and fsync it, rename it
  over ``path`` (atomic on POSIX), fsync the folder.
- `write_synced(path, data)`: write and fsync a file that is not yet visible (inside a temporary folder).
- `move_into_place(tmp, path)`: rename a finished temporary directory to ``path``; an existing ``path`` is
  set aside first (``.<name>.old-*``) and deleted after, so a kill leaves either version, never a mix.
- `fsync_folder(folder)`: make the renames inside ``folder`` durable.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, flushed and fsynced."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def fsync_folder(folder: Path) -> None:
    """fsync the directory ``folder`` (so that renames in it survive a crash)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Replace ``path`` by ``data`` (text is UTF-8) atomically; its folder is created. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        write_synced(tmp, data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_folder(path.parent)
    return path


def move_into_place(tmp: Path, path: Path) -> None:
    """Rename the finished directory ``tmp`` to ``path``; an existing ``path`` is first set aside and deleted
    afterwards."""
    if path.exists():
        old = path.with_name(f".{path.name}.old-{secrets.token_hex(4)}")
        os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old)
    else:
        os.rename(tmp, path)
    fsync_folder(path.parent)
