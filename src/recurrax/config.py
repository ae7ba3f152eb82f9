"""Typed configs: dataclasses loaded from TOML, overridden by ``section.key=value``, validated, saved.

A config is a (plain or frozen) dataclass whose fields are scalars (``int``, ``float``, ``bool``, ``str``),
optional scalars (``float | None``), tuples of scalars (``tuple[int, ...]``), ``Literal[...]`` choices, or
nested config dataclasses (sections, written as TOML tables). Every entry point is strict: an unknown key, a
wrong type or a value outside a ``Literal`` raises `ConfigError` naming the key path and what was expected.

- ``from_dict(cls, data)``: a config from nested dicts (missing keys take the dataclass defaults; a section
  given in part is laid over the section's own default, so a task whose ``train`` section defaults to
  ``TrainConfig(steps=300)`` keeps 300 steps when only ``train.seed`` is given).
- ``load_config(cls, path_or_None, overrides)``: defaults <- TOML file <- ``section.key=value`` overrides.
- ``to_toml(cfg)``: TOML text that `load_config` reads back to an equal config.
- ``to_dict(cfg)``: a plain JSON-able dict (tuples become lists, ``None`` stays ``None``).

TOML has no null: ``None`` is written and read as the string ``"none"``. Override values are TOML literals
(``0.01``, ``true``, ``"text"``, ``[1, 2]``); a bare word is a string (``model.cell=gru``), and a field that
takes strings keeps the text as written (``data.path=2024`` is the string ``"2024"``). Integers are accepted
for ``float`` fields; ``bool`` is never taken for a number.

Example:
    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class Optim:
    ...     lr: float = 1e-3
    ...     clip_norm: float | None = 5.0
    >>> @dataclass
    ... class Run:
    ...     optim: Optim = field(default_factory=Optim)
    >>> load_config(Run, None, ["optim.lr=0.01", "optim.clip_norm=none"])
    Run(optim=Optim(lr=0.01, clip_norm=None))
    >>> from_dict(Run, {"optim": {"lrr": 1}})
    Traceback (most recent call last):
    ...
    recurrax.config.ConfigError: unknown key 'optim.lrr' (known: lr, clip_norm)
"""

import dataclasses
import functools
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import tomli_w

T = TypeVar("T")
NONE = "none"


class ConfigError(ValueError):
    """A config key is unknown, has the wrong type, or holds a value that is not allowed."""


def require(condition: bool, key: str, message: str) -> None:
    """Raise ``ConfigError("<key>: <message>")`` unless ``condition``; for ``__post_init__`` checks.

    `from_dict` prefixes the section path, so ``lr: must be > 0`` reads ``optim.lr: must be > 0``.
    """
    if not condition:
        raise ConfigError(f"{key}: {message}")


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """The config ``cls`` built from nested dicts, strictly: unknown keys and wrong types raise `ConfigError`."""
    return _from_mapping(cls, data, "")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain JSON-able dict of ``cfg`` (sections become dicts, tuples lists, ``None`` stays ``None``)."""
    if not _is_config(type(cfg)):
        raise TypeError(f"expected a config dataclass instance, got {type(cfg).__name__}")
    return _plain(cfg)


def to_toml(cfg: Any) -> str:
    """TOML text for ``cfg`` (``None`` written as ``"none"``); `load_config` reads it back to an equal config."""
    return tomli_w.dumps(_none_as_text(to_dict(cfg)))


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = ()) -> T:
    """The config ``cls`` from its defaults, then the TOML file at ``path`` (if any), then ``overrides``.

    ``overrides`` are ``"section.key=value"`` strings (the CLI's ``--set``); see the module docstring for how
    values are parsed.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
    for item in overrides:
        keys, value = parse_override(cls, item)
        set_path(data, keys, value)
    return from_dict(cls, data)


def _is_config(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """The ``__init__`` fields of a config dataclass and their resolved types, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _from_mapping(cls: type[T], data: Any, path: str) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__}: expected a section of keys, got {data!r}")
    known = _field_types(cls)
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown key '{_join(path, str(key))}' (known: {', '.join(known)})")
    defaults = {f.name: _default(f) for f in dataclasses.fields(cls)}
    defaults = {name: value for name, value in defaults.items() if value is not dataclasses.MISSING}
    values = {}
    for name, tp in known.items():
        if name in data:
            value = data[name]
            if _is_config(type(defaults.get(name))) and isinstance(value, Mapping):
                value = _laid_over(_plain(defaults[name]), value)
            values[name] = convert_value(value, tp, _join(path, name))
        elif name not in defaults:
            raise ConfigError(f"missing key '{_join(path, name)}'")
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(_join(path, str(error))) from None


def convert_value(value: Any, tp: Any, path: str) -> Any:
    """``value`` checked against (and, for int -> float and lists -> tuples, converted to) the type ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_config(tp):
        return value if isinstance(value, tp) else _from_mapping(tp, value, path)
    if origin in (Union, types.UnionType):
        if type(None) in args and (value is None or value == NONE):
            return None
        for member in args:
            if member is type(None):
                continue
            try:
                return convert_value(value, member, path)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: expected {_describe(tp)}, got {value!r}")
    if origin is Literal:
        if any(value == choice and type(value) is type(choice) for choice in args):
            return value
        raise ConfigError(f"{path}: expected one of {list(args)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected {_describe(tp)}, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert_value(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{path}: expected {_describe(tp)} ({len(args)} items), got {value!r}")
        return tuple(convert_value(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    if tp in (bool, int, float, str):
        raise ConfigError(f"{path}: expected {tp.__name__}, got {value!r}")
    raise TypeError(f"{path}: unsupported config field type {tp!r}")


def _describe(tp: Any) -> str:
    """A short human name for a field type: ``float``, ``float or none``, ``list of int``, ``one of [...]``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(NONE if a is type(None) else _describe(a) for a in args)
    if origin is Literal:
        return f"one of {list(args)}"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_describe(args[0])}"
        return "list of " + ", ".join(_describe(a) for a in args)
    if _is_config(tp):
        return "a section"
    return getattr(tp, "__name__", repr(tp))


def _accepts_str(tp: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_accepts_str(a) for a in args)
    if origin is Literal:
        return any(isinstance(a, str) for a in args)
    return tp is str


def field_type(cls: type, keys: list[str]) -> Any:
    """The type of the field at the dotted path ``keys`` under ``cls``; unknown keys raise `ConfigError`."""
    tp: Any = cls
    for depth, key in enumerate(keys):
        path = ".".join(keys[: depth + 1])
        if not _is_config(tp):
            raise ConfigError(f"unknown key '{path}' ('{'.'.join(keys[:depth])}' is not a section)")
        known = _field_types(tp)
        if key not in known:
            raise ConfigError(f"unknown key '{path}' (known: {', '.join(known)})")
        tp = known[key]
    return tp


def parse_override(cls: type, item: str) -> tuple[list[str], Any]:
    """``"section.key=value"`` -> (``["section", "key"]``, the parsed value)."""
    key, sep, raw = item.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    keys = key.split(".")
    tp = field_type(cls, keys)
    if _is_config(tp):
        raise ConfigError(f"'{key}' is a section; set one of its keys ({', '.join(_field_types(tp))})")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if not isinstance(value, str) and _accepts_str(tp):
        value = raw
    return keys, value


def set_path(data: dict[str, Any], keys: list[str], value: Any) -> None:
    """``data[k0][k1]...[kn] = value`` for ``keys = [k0, ..., kn]``, creating the sections on the way; a key on
    the way that holds a value, not a section, is a `ConfigError`."""
    for depth, key in enumerate(keys[:-1]):
        section = data.setdefault(key, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{'.'.join(keys[: depth + 1])}: expected a section of keys, got {section!r}")
        data = section
    data[keys[-1]] = value


def _default(field: dataclasses.Field) -> Any:
    """The default value of a dataclass field (made by its factory), or ``dataclasses.MISSING``."""
    return field.default if field.default_factory is dataclasses.MISSING else field.default_factory()


def _laid_over(base: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` (a section's default, as plain dicts) with the keys of ``given`` written over it, section by section."""
    out = dict(base)
    for key, value in given.items():
        nested = isinstance(value, Mapping) and isinstance(out.get(key), dict)
        out[key] = _laid_over(out[key], value) if nested else value
    return out


def _plain(value: Any) -> Any:
    if _is_config(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _none_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _none_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_none_as_text(v) for v in value]
    return NONE if value is None else value
