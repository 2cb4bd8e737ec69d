"""Shared fixtures: an isolated git identity, and the command line run in-process or as a process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cloud_config.cli.main import main
from tests.support.cli import Result


@pytest.fixture(autouse=True, scope="session")
def _isolated_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every git call in the suite uses a throwaway global config and a fixed identity; no age
    identity is found unless a test sets one."""
    home = tmp_path_factory.mktemp("gitconfig")
    cfg = home / "gitconfig"
    cfg.write_text(
        "[user]\n\tname = Test\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = master\n[commit]\n\tgpgsign = false\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("GIT_", "SOPS_AGE")):
            del os.environ[key]
    # No age identity unless a test gives one (sops also reads $XDG_CONFIG_HOME/sops/age/keys.txt).
    os.environ["XDG_CONFIG_HOME"] = str(home / "xdg")
    os.environ["SOPS_DISABLE_VERSION_CHECK"] = "1"
    os.environ.update(
        GIT_CONFIG_GLOBAL=str(cfg),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `cloud-config ARGS...` in-process; returns Result(code, out, err)."""

    def run(*args: str) -> Result:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors and --help
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
