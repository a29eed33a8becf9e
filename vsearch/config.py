"""Settings and where they come from: a flag, then ``VSEARCH_*``, then a config file, then default.

Config files are TOML with the keys of :data:`SETTINGS` at the top level. The user's file is
``config.toml`` in the user config folder (``~/.config/vsearch`` on Linux); an index folder may
hold its own ``config.toml``, which wins over the user's for that index (``index`` itself can only
be set in the user's file). The default index lives in the user data folder
(``~/.local/share/vsearch/indexes/default`` on Linux), so every command finds one library from any
working folder.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from vsearch.errors import VsearchError

APP_NAME = "vsearch"
CONFIG_NAME = "config.toml"
DEFAULT_INDEX_NAME = "default"


class ConfigError(VsearchError):
    """A config file that cannot be read, or a value of the wrong type."""


@dataclass(frozen=True)
class Spec:
    """One setting: its environment variable, the type of its value, and what it does."""

    env: str
    kind: type
    help: str


SETTINGS: dict[str, Spec] = {
    "index": Spec("VSEARCH_INDEX", Path, "the index folder commands use"),
    "model": Spec("VSEARCH_MODEL", str, "encoder of new indexes and of rank/ground/classify/eval"),
    "device": Spec("VSEARCH_DEVICE", str, "encoder device: cpu, cuda, cuda:1"),
    "batch_size": Spec("VSEARCH_BATCH_SIZE", int, "items per encoder call"),
    "exclude": Spec(
        "VSEARCH_EXCLUDE", list, "globs skipped in every folder (env: comma-separated)"
    ),
    "store": Spec("VSEARCH_STORE_URL", str, "database URL of new indexes' metadata"),
}


@dataclass(frozen=True)
class Setting:
    """A resolved value and where it came from (``--flag``, ``VSEARCH_X``, a file, ``default``)."""

    value: Any
    source: str


def home() -> Path:
    """``VSEARCH_HOME`` or ``~/.cache/vsearch``: caches that can always be rebuilt."""
    return Path(os.environ.get("VSEARCH_HOME") or Path.home() / ".cache" / "vsearch")


def user_config_file() -> Path:
    return platformdirs.user_config_path(APP_NAME) / CONFIG_NAME


def user_index_path() -> Path:
    """Where the default index lives when nothing else names one."""
    return platformdirs.user_data_path(APP_NAME) / "indexes" / DEFAULT_INDEX_NAME


def default_index_path() -> Path:
    """The index to use when no flag names one: ``VSEARCH_INDEX``, the user's file, the default."""
    return resolve({})["index"].value


def resolve(
    flags: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Setting]:
    """Every setting, each from the first of: ``flags`` (non-None), environment, files, default.

    Args:
        flags: values given on the command line, by setting name (None: not given).
        environ: the environment (default: ``os.environ``).

    Raises:
        ConfigError: a config file is not valid TOML, has an unknown key or a wrong type.
    """
    environ = os.environ if environ is None else environ
    user_file = user_config_file()
    user = _read(user_file)
    index = _pick("index", flags, environ, [(user_file, user)])
    index_file = Path(index.value).expanduser() / CONFIG_NAME
    per_index = _read(index_file)
    if "index" in per_index:
        raise ConfigError(f"{index_file}: 'index' can only be set in {user_file}")
    files = [(index_file, per_index), (user_file, user)]
    settings = {"index": index}
    for name in SETTINGS:
        if name != "index":
            settings[name] = _pick(name, flags, environ, files)
    return settings


def _pick(
    name: str,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    files: list[tuple[Path, dict[str, Any]]],
) -> Setting:
    spec = SETTINGS[name]
    flag = flags.get(name)
    if flag not in (None, [], ()):
        option = f"--{name.replace('_', '-')}"
        return Setting(_checked(name, flag, option), option)
    if environ.get(spec.env):
        return Setting(_from_env(name, environ[spec.env]), spec.env)
    for path, data in files:
        if name in data:
            return Setting(_checked(name, data[name], str(path)), str(path))
    return Setting(_default(name), "default")


def _default(name: str) -> Any:
    if name == "index":
        return user_index_path()
    return [] if name == "exclude" else None


def _from_env(name: str, text: str) -> Any:
    spec = SETTINGS[name]
    if spec.kind is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if spec.kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{spec.env}={text!r}: not a whole number") from None
    return Path(text).expanduser() if spec.kind is Path else text


def _checked(name: str, value: Any, where: str) -> Any:
    kind = SETTINGS[name].kind
    if kind is Path and isinstance(value, str | os.PathLike):
        return Path(value).expanduser()
    if kind is list and isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if kind is str and isinstance(value, str):
        return value
    wanted = {Path: "a path", list: "a list of strings", int: "a positive whole number"}
    raise ConfigError(f"{where}: {name} must be {wanted.get(kind, 'a string')}, got {value!r}")


def _read(path: Path) -> dict[str, Any]:
    """The TOML file's table ({} when there is no file)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting {unknown[0]!r}; the settings are {', '.join(SETTINGS)}"
        )
    return data
