"""Reading the files a user names or the tool wrote: one clear error for missing, folder, not text."""

from __future__ import annotations

from pathlib import Path

from cloud_config.errors import ConfigError, NotFoundError, UsageError
from cloud_config.model.paths import CHAIN_CONFIG, NODE_CONFIG
from cloud_config.model.schema import decode_toml


def looks_like_hint(config_dir: Path) -> str:
    """A hint for a not-found error when `config_dir` is itself a chain or node folder, else ''.

    Running a verb inside the chain folder looks for `./<chain>/...` and `./<chain>-<domain>/`
    there; the folder that holds them is the parent.
    """
    # A node folder holds a copy of chain_config.toml too: ask for node_config.toml first.
    for name, what in ((NODE_CONFIG, "a node folder"), (CHAIN_CONFIG, "a chain folder")):
        if (config_dir / name).is_file():
            return (
                f" ({config_dir.resolve()} looks like {what}: did you mean --config-dir {config_dir / '..'}?)"
            )
    return ""


def read_text(path: Path, hint: str = "", not_text: str = "is not UTF-8 text") -> str:
    """A file's text, or NotFoundError naming the file and (`hint`) what creates it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist" + (f"; {hint}" if hint else "")) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, not_text) from None


def read_toml_text(path: Path, hint: str = "") -> str:
    """A TOML file's text, bounded in size and checked as UTF-8 before anything parses it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist" + (f"; {hint}" if hint else "")) from None
    return decode_toml(data, str(path))


def read_flag_file(flag: str, path: Path) -> str:
    """The PEM text of a file named by `flag`, or a UsageError naming the flag."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(flag, f"{path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(flag, f"{path} is a folder, expected a PEM file") from None
    except UnicodeDecodeError:
        raise UsageError(flag, f"{path} is not PEM text") from None
