"""`ModelRegistry`: named, numbered model versions in a local directory, each with its stage.

Layout under ``root`` (default ``models/``)::

    index.json              {"format": 1, "models": {name: [entry, ...]}}, rewritten atomically
    .lock                   the lock file that serialises writers (``fcntl.flock``)
    <name>/v<version>/      a copy of the registered checkpoint or exported artifact
    <name>/retrain.jsonl    one line per `recurrax.lifecycle.retrain` decision

An entry holds ``version`` (1, 2, ...), ``stage``, ``created`` (UTC, ISO 8601), ``kind`` (``checkpoint``
or ``artifact``), ``task``, ``source``, ``metrics``, ``config``, ``data_fingerprint`` and ``notes``.
Stages: ``staging`` (new), ``production`` (at most one version per name: promoting one archives the
previous), ``archived``. Every change takes the lock, reads the index, writes it to a temporary file and
renames it into place, so concurrent processes never lose an update and readers never see half a file.

    >>> import tempfile
    >>> registry = ModelRegistry(tempfile.mkdtemp())
    >>> registry.list()
    []
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._files import write_atomic

from ..train import find_checkpoint, read_meta

STAGES = ("staging", "production", "archived")
INDEX_FILE = "index.json"
INDEX_FORMAT = 1
ARTIFACT_FORMAT = "recurrax-artifact"


@dataclasses.dataclass(frozen=True)
class ModelVersion:
    """One registered version; ``path`` is its copied checkpoint or artifact directory."""

    name: str
    version: int
    stage: str
    path: Path
    kind: str
    task: str | None
    source: str
    created: str
    metrics: dict[str, Any]
    config: dict[str, Any] | None
    data_fingerprint: str | None
    notes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-able data (``path`` as a string)."""
        return {**dataclasses.asdict(self), "path": str(self.path)}


class ModelRegistry:
    """A model registry in the local directory ``root`` (created on the first registration)."""

    def __init__(self, root: str | Path = "models/"):
        self.root = Path(root)

    def register(
        self,
        name: str,
        source_dir: str | Path,
        *,
        metrics: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        data_fingerprint: str | None = None,
        stage: str = "staging",
        notes: dict[str, Any] | None = None,
    ) -> int:
        """Copy a model into the registry as the next version of ``name``; returns that version.

        ``source_dir``: a checkpoint directory, an exported artifact (`recurrax.serve.export_run`), or a run
        directory (its best, else last, checkpoint is copied). ``config`` and ``data_fingerprint`` default to
        the checkpoint's (or artifact's) ``meta.json``; ``metrics`` to the run's ``holdout.json`` when there
        is one, else the checkpoint's metrics. Registering straight into ``production`` archives the
        previous production version.
        """
        _check_name(name)
        _check_stage(stage)
        source, kind, meta, run_metrics = _resolve_source(Path(source_dir))
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked() as index:
            versions = index["models"].setdefault(name, [])
            version = max((entry["version"] for entry in versions), default=0) + 1
            entry = {
                "version": version,
                "stage": stage,
                "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "kind": kind,
                "task": meta.get("task"),
                "source": str(source.resolve()),
                "metrics": run_metrics if metrics is None else dict(metrics),
                "config": meta.get("config") if config is None else config,
                "data_fingerprint": meta.get("data_fingerprint") if data_fingerprint is None else data_fingerprint,
                "notes": dict(notes or {}),
            }
            try:
                json.dumps(entry)
            except TypeError as error:
                raise ValueError(f"metrics, config and notes must be JSON-able: {error}") from None
            _copy_dir(source, self.root / name / f"v{version}")
            if stage == "production":
                _archive_production(versions)
            versions.append(entry)
        return version

    def get(self, name: str, version: int | None = None, stage: str | None = None) -> ModelVersion:
        """A version of ``name``: ``version`` when given, else the newest in ``stage`` when given, else the
        newest. A name, version or stage with no match is a ValueError."""
        if stage is not None:
            _check_stage(stage)
        versions = self._versions(name)
        found = [
            e
            for e in versions
            if (version is None or e["version"] == version) and (stage is None or e["stage"] == stage)
        ]
        if not found:
            wanted = " and ".join(
                part for part in (version and f"version {version}", stage and f"stage {stage}") if part
            )
            raise ValueError(f"model {name!r} has no {wanted} (versions: {_summary(versions)})")
        return self._version(name, found[-1])

    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of ``name`` when given), by name then version."""
        models = _read_index(self.root)["models"]
        names = sorted(models) if name is None else [name]
        return [self._version(n, e) for n in names for e in (models[n] if name is None else self._versions(n))]

    def transition(self, name: str, version: int, stage: str) -> ModelVersion:
        """Move ``version`` of ``name`` to ``stage``; to ``production`` archives the current production one."""
        _check_stage(stage)
        with self._locked() as index:
            versions = index["models"].get(name) or []
            entry = next((e for e in versions if e["version"] == version), None)
            if entry is None:
                raise ValueError(f"model {name!r} has no version {version} (versions: {_summary(versions)})")
            if stage == "production" and entry["stage"] != "production":
                _archive_production(versions)
            entry["stage"] = stage
        return self._version(name, entry)

    def log_path(self, name: str) -> Path:
        """The ``retrain.jsonl`` of ``name`` (decisions appended by `recurrax.lifecycle.retrain`)."""
        _check_name(name)
        return self.root / name / "retrain.jsonl"

    def _versions(self, name: str) -> list[dict[str, Any]]:
        models = _read_index(self.root)["models"]
        if name not in models:
            known = ", ".join(sorted(models)) or "none"
            raise ValueError(f"no model named {name!r} in the registry {self.root} (models: {known})")
        return models[name]

    def _version(self, name: str, entry: dict[str, Any]) -> ModelVersion:
        return ModelVersion(name=name, path=self.root / name / f"v{entry['version']}", **entry)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The index under an exclusive lock; written back atomically when the block ends without error."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                index = _read_index(self.root)
                yield index
                _write_index(self.root, index)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or any(c in name for c in "/\\") or name != name.strip():
        raise ValueError(f"invalid model name {name!r}: use a non-empty name without '/', '\\' or a leading '.'")


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")


def _summary(versions: list[dict[str, Any]]) -> str:
    return ", ".join(f"{e['version']} ({e['stage']})" for e in versions) or "none"


def _archive_production(versions: list[dict[str, Any]]) -> None:
    for entry in versions:
        if entry["stage"] == "production":
            entry["stage"] = "archived"


def _resolve_source(path: Path) -> tuple[Path, str, dict[str, Any], dict[str, Any]]:
    """``(directory to copy, kind, its meta, default metrics)`` of a checkpoint, artifact or run directory."""
    if not path.is_dir():
        raise ValueError(f"cannot register {path}: not a directory")
    meta_path = path / "meta.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"cannot register {path}: malformed meta.json ({error})") from None
        if isinstance(meta, dict) and meta.get("format") == ARTIFACT_FORMAT:
            return path, "artifact", meta, {}
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    holdout = path / "holdout.json"
    metrics = json.loads(holdout.read_text()) if holdout.is_file() else _last_scores(meta.get("metrics"))
    return checkpoint, "checkpoint", meta, metrics


def _last_scores(metrics: Any) -> dict[str, Any]:
    """The validation (else train) row of a checkpoint's ``metrics``, without its bookkeeping columns."""
    if not isinstance(metrics, dict):
        return {}
    row = metrics.get("valid") or metrics.get("train") or {}
    return {k: v for k, v in row.items() if k not in ("step", "split", "time")}


def _copy_dir(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (a new path) through a temporary name, so it appears complete."""
    if target.exists():
        raise ValueError(f"{target} already exists: the registry index and its directories disagree")
    tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    try:
        shutil.copytree(source, tmp)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_index(root: Path) -> dict[str, Any]:
    path = root / INDEX_FILE
    if not path.is_file():
        return {"format": INDEX_FORMAT, "models": {}}
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed registry index {path}: {error}") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT or not isinstance(index.get("models"), dict):
        raise ValueError(f"{path} is not a registry index of format {INDEX_FORMAT}")
    return index


def _write_index(root: Path, index: dict[str, Any]) -> None:
    write_atomic(root / INDEX_FILE, json.dumps(index, indent=1) + "\n")
