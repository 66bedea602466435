"""YAML -> typed Config, with overrides, failing before anything is built.

Every error names the file, the dotted key and what would be allowed.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, Iterable, get_args, get_origin

import yaml

from .schema import Config, ConfigError

PRESET_DIR = Path(__file__).resolve().parents[2] / "ascend_configs"


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``5e-5`` as a number. PyYAML follows YAML 1.1, whose floats need a
    dot (``5.0e-5``), so ``--lr 5e-5`` (Python prints it ``5e-05``) reached the config as the
    string '5e-05' and was refused; YAML 1.2 and every other tool read it as a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _load(text: str):
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def resolve_path(name_or_path: str | Path) -> Path:
    """A preset name ('tiny') or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found")
        return p
    candidate = PRESET_DIR / f"{name_or_path}.yaml"
    if candidate.is_file():
        return candidate
    raise ConfigError(f"{name_or_path}: neither a YAML file nor a preset; presets: {preset_names()}")


def _type_name(tp) -> str:
    if get_origin(tp) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp, key: str):
    """Check a YAML scalar against a field's type; ints are accepted where floats are expected."""
    if get_origin(tp) is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{key}: {value!r} is not allowed; allowed values: {list(get_args(tp))}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported field type {_type_name(tp)}")


def _build(cls, data: Any, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'top level'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"{where}{unknown[0]}: unknown key; allowed keys here: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value, key)
        else:
            kwargs[name] = _coerce(value, tp, key)
    return cls(**kwargs)


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. model.fusion.layers=4")
    key, raw = item.split("=", 1)
    # ``KEY=`` is the empty string (YAML would read null), e.g. ``train.freeze=`` to unfreeze
    return key.strip().split("."), _load(raw) if raw.strip() else ""


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    for item in overrides:
        path, value = _parse_override(item)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part} is not a section")
        node[path[-1]] = value
    return data


def config_from_dict(data: dict, source: str = "<dict>") -> Config:
    try:
        cfg = _build(Config, data, "")
        cfg.check()
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    return cfg


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(path: Path, _seen: tuple = ()) -> dict:
    """A YAML config as a dict; a top-level ``base: <preset or file>`` key starts from that config
    and overrides it section by section (the cluster configs reuse the model presets this way)."""
    try:
        data = _load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level: expected a mapping, got {data!r}")
    parent = data.pop("base", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: base: expected a preset name or YAML path, got {parent!r}")
    parent_path = resolve_path(parent)
    if parent_path.resolve() in _seen + (path.resolve(),):
        raise ConfigError(f"{path}: base: {parent} includes itself")
    return _merge(read_yaml(parent_path, _seen + (path.resolve(),)), data)


def load_config(name_or_path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load a preset or YAML file, apply ``--set`` overrides, and validate."""
    path = resolve_path(name_or_path)
    data = apply_overrides(read_yaml(path), overrides)
    return config_from_dict(data, str(path))


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)
