"""Search spaces over config keys: ``key=int:LOW:HIGH``, ``key=float:LOW:HIGH:log``, ``key=cat:A,B,C``.

One `Param` per config key (``section.key`` of a task's config dataclass, e.g. ``model.hidden_size``):

- ``int:LOW:HIGH`` integers in ``[LOW, HIGH]``; ``:log`` samples uniformly in log space, ``:step=N`` on the
  grid ``LOW, LOW + N, ...``. Needs a field that takes integers.
- ``float:LOW:HIGH`` floats in ``[LOW, HIGH]`` with the same ``:log`` or ``:step=X``. Needs a float field.
- ``cat:A,B,C`` one of the choices, each read as a ``--set`` value (a TOML literal, else a bare word) and
  checked against the field's type (``cat:lstm,gru``, ``cat:1,2,3``, ``cat:true,false``, ``cat:none,5.0``).

Parsing is strict: an unknown key, a malformed spec, a bound of the wrong type, ``LOW >= HIGH``, a log range
that is not positive or a repeated key raises `ConfigError` (a `ValueError`) naming it. `check_space` also
builds the base config with every bound and choice, so a value the config refuses (``model.dropout`` = 1.0)
is an error before any trial runs.

Example:
    >>> from recurrax.tasks.lm import LMConfig
    >>> space = parse_space(["model.hidden_size=int:32:256:log", "model.cell=cat:lstm,gru"], LMConfig)
    >>> space[0].distribution()
    IntDistribution(high=256, log=True, low=32, step=1)
    >>> space[1].distribution()
    CategoricalDistribution(choices=('lstm', 'gru'))
    >>> apply_params(LMConfig(), {"model.hidden_size": 64, "model.cell": "gru"}).model.cell
    'gru'
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..config import ConfigError, convert_value, parse_override, field_type, set_path, from_dict, to_dict

if TYPE_CHECKING:
    import optuna

T = TypeVar("T")
FORMS = "int:LOW:HIGH[:log|:step=N], float:LOW:HIGH[:log|:step=X] or cat:A,B,..."


@dataclass(frozen=True)
class Param:
    """One searched config key: ``kind`` ``"int"``, ``"float"`` or ``"cat"``; bounds ``low``/``high`` with
    ``log`` or ``step`` (int and float), or ``choices`` (cat)."""

    key: str
    kind: Literal["int", "float", "cat"]
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The optuna distribution this parameter samples from."""
        import optuna

        if self.kind == "cat":
            return optuna.distributions.CategoricalDistribution(self.choices)
        if self.kind == "int":
            return optuna.distributions.IntDistribution(self.low, self.high, log=self.log, step=self.step or 1)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def suggest(self, trial: optuna.Trial) -> Any:
        """The trial's value for this key (``trial.suggest_*`` under the key's name)."""
        if self.kind == "cat":
            return trial.suggest_categorical(self.key, self.choices)
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, log=self.log, step=self.step or 1)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)

    def extremes(self) -> tuple[Any, ...]:
        """The values a trial may take at the edges: both bounds, or every choice."""
        return self.choices if self.kind == "cat" else (self.low, self.high)


def parse_param(item: str, config_type: type) -> Param:
    """The `Param` of one ``key=spec`` item (see the module docstring) for the config class ``config_type``."""
    key, sep, spec = (part.strip() for part in item.partition("="))
    if not sep or not key or not spec:
        raise ConfigError(f"search parameter {item!r} must look like section.key=spec, spec one of {FORMS}")
    tp = field_type(config_type, key.split("."))
    if isinstance(tp, type) and hasattr(tp, "__dataclass_fields__"):
        raise ConfigError(f"search parameter {item!r}: '{key}' is a section, not a key")
    kind, _, rest = spec.partition(":")
    if kind == "cat":
        return _categorical(item, key, rest, config_type)
    if kind not in ("int", "float"):
        raise ConfigError(f"search parameter {item!r}: unknown kind {kind!r}; expected {FORMS}")
    parts = rest.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"search parameter {item!r}: expected {kind}:LOW:HIGH[:log|:step=...]")
    number = int if kind == "int" else float
    if not _accepts(tp, number):
        raise ConfigError(f"search parameter {item!r}: {key} does not take {kind} values; try cat:A,B,...")
    low, high = (_number(item, text, number) for text in parts[:2])
    log, step = False, None
    if len(parts) == 3:
        option = parts[2].strip()
        if option == "log":
            log = True
        elif option.startswith("step="):
            step = _number(item, option.removeprefix("step="), number)
            if step <= 0:
                raise ConfigError(f"search parameter {item!r}: step must be > 0")
        else:
            raise ConfigError(f"search parameter {item!r}: unknown option {option!r} (log or step=...)")
    if not low < high:
        raise ConfigError(f"search parameter {item!r}: LOW must be below HIGH")
    if log and low <= 0:
        raise ConfigError(f"search parameter {item!r}: a log range needs LOW > 0")
    if step is not None and (Decimal(str(high)) - Decimal(str(low))) % Decimal(str(step)) != 0:
        raise ConfigError(f"search parameter {item!r}: HIGH - LOW must be a multiple of step")
    return Param(key, kind, low, high, log, step)


def parse_space(items: Iterable[str | Param], config_type: type) -> list[Param]:
    """`parse_param` of every ``key=spec`` item (a `Param` is kept as it is); a key given twice is an error."""
    space = [item if isinstance(item, Param) else parse_param(item, config_type) for item in items]
    keys = [p.key for p in space]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ConfigError(f"search parameter {repeated[0]!r} is given more than once")
    return space


def apply_params(base: T, values: Mapping[str, Any]) -> T:
    """A copy of the config ``base`` with the dotted keys of ``values`` set, validated as a loaded config."""
    data = to_dict(base)
    for key, value in values.items():
        set_path(data, key.split("."), value)
    return from_dict(type(base), data)


def check_space(space: Iterable[Param], base: Any) -> None:
    """Raise `ConfigError` when the config ``base`` refuses a bound or choice of a parameter of ``space``."""
    for param in space:
        for value in param.extremes():
            try:
                apply_params(base, {param.key: value})
            except ConfigError as error:
                raise ConfigError(f"search parameter {param.key}: the value {value!r} is refused: {error}") from None


def _categorical(item: str, key: str, rest: str, config_type: type) -> Param:
    texts = [text.strip() for text in rest.split(",")]
    if not rest.strip() or any(not text for text in texts):
        raise ConfigError(f"search parameter {item!r}: expected cat:A,B,... with no empty choice")
    tp = field_type(config_type, key.split("."))
    choices = []
    for text in texts:
        value = parse_override(config_type, f"{key}={text}")[1]
        choices.append(convert_value(value, tp, key))
    if any(isinstance(c, (tuple, list)) for c in choices):
        raise ConfigError(f"search parameter {item!r}: list-valued keys cannot be searched")
    if len(set(map(repr, choices))) != len(choices):
        raise ConfigError(f"search parameter {item!r}: a choice is repeated")
    return Param(key, "cat", choices=tuple(choices))


def _accepts(tp: Any, number: type) -> bool:
    """Whether a field of type ``tp`` takes values of ``number`` (int or float; ``None`` members ignored)."""
    members = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    return number in members


def _number(item: str, text: str, number: type) -> int | float:
    try:
        value = number(text.strip())
    except ValueError:
        raise ConfigError(f"search parameter {item!r}: {text.strip()!r} is not a valid {number.__name__}") from None
    if not math.isfinite(value):
        raise ConfigError(f"search parameter {item!r}: {text.strip()!r} is not a finite number")
    return value
