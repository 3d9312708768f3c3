"""TOML recipes onto frozen dataclasses: strict keys, strict types, round-trip.

Every stage's config is a frozen dataclass in its own small file. A recipe maps
onto it here; an unknown key or a wrong type is a one-line `UsageError`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

from flower_edge.errors import UsageError

C = TypeVar("C")


def load_toml(path: str | os.PathLike) -> dict:
    """Read a TOML file, turning syntax errors into a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"recipe not found: {path} (pass an existing .toml file to --config)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"recipe {path} is not valid TOML: {exc}") from None


def _check(value: Any, hint: Any, key: str) -> Any:
    """Coerce/validate one value against a type hint; raise UsageError on mismatch."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg, key)
            except UsageError as exc:
                errors.append(str(exc))
        raise UsageError(errors[0] if errors else f"'{key}' has a wrong type")
    if origin is typing.Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise UsageError(f"'{key}' must be one of {choices}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise UsageError(f"'{key}' must be a list, got {type(value).__name__} {value!r}")
        inner = args[0] if args else Any
        return tuple(_check(v, inner, key) for v in value)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise UsageError(f"'{key}' must be a table, got {value!r}")
        return from_mapping(hint, value, prefix=f"{key}.")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        if isinstance(value, bool) and hint is not bool:
            raise UsageError(f"'{key}' must be {hint.__name__}, got {value!r}")
        if not isinstance(value, hint):
            raise UsageError(f"'{key}' must be {hint.__name__}, got {type(value).__name__} {value!r}")
        return value
    return value


def from_mapping(cls: type[C], data: Mapping[str, Any], prefix: str = "") -> C:
    """Build dataclass `cls` from a mapping; unknown keys and wrong types are errors."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        # a key that belongs in a sub-table (e.g. calib_samples in [quantize.int8]) says so
        tables = [name for name, hint in hints.items() if dataclasses.is_dataclass(hint)
                  and unknown[0] in {f.name for f in dataclasses.fields(hint)}]
        if tables:
            raise UsageError(f"recipe key '{prefix}{unknown[0]}' belongs in the [{prefix}{tables[0]}] table")
        known = ", ".join(sorted(fields))
        raise UsageError(f"unknown recipe key '{prefix}{unknown[0]}' (known keys: {known})")
    kwargs = {k: _check(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"invalid recipe values for {cls.__name__}: {exc}") from None


def load_recipe_file(cls: type[C], path: str | os.PathLike | None, base: C | None = None) -> C:
    """The one recipe loader: a TOML file's tables over `base` (default: `cls()`); None
    gives `base`. Tables and keys the file omits keep base's values."""
    base = cls() if base is None else base
    return base if path is None else merge_tables(base, load_toml(path))


def merge_tables(cfg: C, tables: Mapping[str, Any]) -> C:
    """The one "flags over recipe" merge: `tables` ({table: {key: value}}; None = not
    given) over the dataclass `cfg`, checked like a recipe (unknown key = UsageError)."""
    return from_mapping(type(cfg), _merged(to_dict(cfg), tables))


def _merged(base: dict, changes: Mapping[str, Any]) -> dict:
    """`changes` over `base`, table by table at any depth (a [quantize.int8] table changes only
    the keys it names); None = not given; a non-table value replaces (from_mapping checks it)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key, {}), Mapping):
            out[key] = _merged(out.get(key, {}), value)
        elif value is not None:
            out[key] = value
    return out


def override(cfg: C, **changes: Any) -> C:
    """Return `cfg` with every non-None change applied (CLI flags over recipe keys)."""
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        return cfg
    return from_mapping(type(cfg), {**to_dict(cfg), **given})


def to_dict(cfg: Any) -> dict:
    """A dataclass as a plain dict (tuples become lists, None values dropped)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a dict of scalars, lists and one level of nested tables to TOML."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items()
                     if v is not None and not isinstance(v, Mapping))
    return "\n".join(lines).lstrip("\n") + "\n"
