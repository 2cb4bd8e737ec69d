"""The errors a user can cause, each printed as one line by the command line.

CloudConfigError            exit 1, the base of every expected failure
 +-- ConfigError            a file or field holds a bad value (names the file and the field)
 +-- UsageError             a flag holds a bad value (names the flag)
 +-- StageError             the command is not allowed in the chain's current stage
 +-- ConflictError          the change would duplicate or overwrite something that exists
 +-- NotFoundError          a file, folder, node, account or validator is missing
 +-- GitError               a git command failed (argv, exit code, stderr)

Anything else reaching the command line is a bug: exit 3, traceback only with --debug.
"""

from __future__ import annotations


class CloudConfigError(Exception):
    """A failure the user can act on; its message is one line."""

    exit_code = 1


class ConfigError(CloudConfigError):
    """A configuration file or one of its fields holds a bad value."""

    def __init__(self, source: str, field: str | None, reason: str) -> None:
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.field = field
        self.reason = reason


class UsageError(CloudConfigError):
    """A command-line flag holds a bad value."""

    exit_code = 2

    def __init__(self, flag: str, reason: str) -> None:
        super().__init__(f"{flag}: {reason}")
        self.flag = flag


class StageError(CloudConfigError):
    """The command is not allowed in the chain's current stage."""


class ConflictError(CloudConfigError):
    """The change would duplicate or silently replace something that exists."""


class NotFoundError(CloudConfigError):
    """Something the command needs does not exist."""


class GitError(CloudConfigError):
    """A git command failed."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        super().__init__(f"git {' '.join(argv)} failed ({returncode}): {last}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
