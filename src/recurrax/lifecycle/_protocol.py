"""Benchmark protocols: frozen descriptions of how a headline number is measured (TOML files).

A protocol names the data, the development split that every choice may see, the test split that is scored
once per reported configuration, the seeds, the budget and the config. Its ``evaluator`` is a function
``"package.module:function"`` with the signature of `Evaluator`: it trains and scores one (config, split,
seed, fold) and must not read the test data when ``split == "dev"``.

A protocol file (``<name>.toml``; the shipped ones are in ``recurrax/lifecycle/protocols/``)::

    description = "JapaneseVowels (UEA): 9 speakers from 12 LPC coefficients, variable length"
    evaluator = "recurrax.tasks.classify:evaluate_protocol"
    metric = "accuracy"            # the headline metric, a key of the evaluator's result
    direction = "maximize"         # or "minimize"
    seeds = [0, 1, 2, 3, 4]        # test seeds
    dev_seeds = [0]                # seeds of the development runs that choose among candidates
    folds = 1                      # > 1: the evaluator's own folds (e.g. NAB's 2-fold by file)
    development = "5-fold stratified cross-validation on the 270 training cases"
    test = "the official 370 test cases"
    budget = "1000 steps of 32 cases"
    [published]                    # reference numbers printed beside ours
    "1-NN DTW" = 0.949
    [config]                       # the evaluator's config (for a task: its config sections)
    model.hidden_size = 128
    [candidates.base]              # settings that development data chooses between (default: base only)
    [candidates.small]
    model.hidden_size = 64

The config of a candidate is ``config`` updated by the candidate's table (nested keys merge); its
`config_hash` identifies it in the results and in the test-access ledger.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol as TypingProtocol

SHIPPED = "recurrax.lifecycle.protocols"
KEYS = ("description", "evaluator", "metric", "direction", "seeds", "dev_seeds", "folds", "development", "test",
        "budget", "published", "config", "candidates")  # fmt: skip


class Evaluator(TypingProtocol):
    """``evaluate(config, *, split, seed, fold, folds, workdir, data_dir) -> metrics``: trains and scores one
    run; ``split`` is ``"dev"`` (development data only) or ``"test"``; ``workdir`` is a fresh folder for run
    directories and caches; returns float metrics, the protocol's ``metric`` among them."""

    def __call__(
        self,
        config: dict[str, Any],
        *,
        split: Literal["dev", "test"],
        seed: int,
        fold: int,
        folds: int,
        workdir: Path,
        data_dir: Path | None,
    ) -> dict[str, float]: ...


@dataclass(frozen=True)
class BenchmarkProtocol:
    """A loaded protocol file (see the module docstring for the fields)."""

    name: str
    description: str
    evaluator: str
    metric: str
    direction: Literal["maximize", "minimize"]
    seeds: tuple[int, ...]
    dev_seeds: tuple[int, ...]
    folds: int
    development: str
    test: str
    budget: str
    config: dict[str, Any]
    candidates: dict[str, dict[str, Any]]
    published: dict[str, float] = field(default_factory=dict)

    def candidate_config(self, candidate: str) -> dict[str, Any]:
        """``config`` updated by candidate ``candidate``'s table (nested tables merge key by key)."""
        if candidate not in self.candidates:
            raise ValueError(f"protocol {self.name!r} has no candidate {candidate!r} (has {', '.join(self.candidates)})")
        return merged(self.config, self.candidates[candidate])

    def evaluate_function(self) -> Evaluator:
        """The evaluator that ``evaluator`` names (imported on first use)."""
        module, _, function = self.evaluator.partition(":")
        try:
            return getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"protocol {self.name!r}: cannot load evaluator {self.evaluator!r}: {error}") from error

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is better than ``b`` in the protocol's direction."""
        return a > b if self.direction == "maximize" else a < b


def merged(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``update`` applied; nested dicts merge, other values replace."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def config_hash(protocol: BenchmarkProtocol, config: Mapping[str, Any]) -> str:
    """12 hex digits of the sha256 of the evaluator and the resolved config (canonical JSON)."""
    text = json.dumps({"evaluator": protocol.evaluator, "config": config}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def parse_protocol(name: str, data: Mapping[str, Any], source: str = "") -> BenchmarkProtocol:
    """A `BenchmarkProtocol` from the parsed TOML ``data``; unknown keys and bad values raise ValueError."""
    where = source or name
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown protocol key(s) {', '.join(unknown)} (known: {', '.join(KEYS)})")
    for key in ("description", "evaluator", "metric", "development", "test", "budget"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"{where}: {key} must be a non-empty string")
    if ":" not in data["evaluator"]:
        raise ValueError(f"{where}: evaluator must read 'package.module:function', got {data['evaluator']!r}")
    direction = data.get("direction", "maximize")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"{where}: direction must be 'maximize' or 'minimize', got {direction!r}")
    seeds = _int_list(data.get("seeds"), "seeds", where)
    dev_seeds = _int_list(data.get("dev_seeds", list(seeds[:1])), "dev_seeds", where)
    folds = data.get("folds", 1)
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 1:
        raise ValueError(f"{where}: folds must be an integer >= 1, got {folds!r}")
    candidates = data.get("candidates", {"base": {}})
    if not isinstance(candidates, dict) or not candidates or not all(isinstance(v, dict) for v in candidates.values()):
        raise ValueError(f"{where}: candidates must be a table of tables (one per candidate)")
    published = data.get("published", {})
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in published.values()):
        raise ValueError(f"{where}: published values must be numbers")
    return BenchmarkProtocol(
        name=name,
        description=data["description"],
        evaluator=data["evaluator"],
        metric=data["metric"],
        direction=direction,
        seeds=seeds,
        dev_seeds=dev_seeds,
        folds=folds,
        development=data["development"],
        test=data["test"],
        budget=data["budget"],
        config=dict(data.get("config", {})),
        candidates={str(k): dict(v) for k, v in candidates.items()},
        published={str(k): float(v) for k, v in published.items()},
    )


def _int_list(value: Any, key: str, where: str) -> tuple[int, ...]:
    ok = isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not ok or len(set(value)) != len(value):
        raise ValueError(f"{where}: {key} must be a non-empty list of distinct integers, got {value!r}")
    return tuple(value)


def load_protocol_file(path: str | Path) -> BenchmarkProtocol:
    """The protocol in ``path`` (its name is the file's stem)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: cannot read the protocol: {error}") from error
    return parse_protocol(path.stem, data, str(path))


def protocol_files(folder: str | Path | None = None) -> dict[str, Callable[[], BenchmarkProtocol]]:
    """Loaders of the protocols by name: the shipped ones, then those in ``folder`` (same name: folder's)."""
    found: dict[str, Callable[[], BenchmarkProtocol]] = {}
    shipped = resources.files(SHIPPED)
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            name, text = entry.name[: -len(".toml")], entry.read_text(encoding="utf-8")
            found[name] = lambda name=name, text=text: parse_protocol(name, tomllib.loads(text), f"{name}.toml")
    if folder is not None:
        if not Path(folder).is_dir():
            raise ValueError(f"protocol folder {folder} does not exist")
        for path in sorted(Path(folder).glob("*.toml")):
            found[path.stem] = lambda path=path: load_protocol_file(path)
    return found


def load_protocol(name: str, folder: str | Path | None = None) -> BenchmarkProtocol:
    """The protocol called ``name`` (shipped, or in ``folder``), or a ``.toml`` path."""
    if name.endswith(".toml"):
        return load_protocol_file(name)
    loaders = protocol_files(folder)
    if name not in loaders:
        raise ValueError(f"unknown benchmark protocol {name!r} (known: {', '.join(sorted(loaders))})")
    return loaders[name]()
