"""The ```sh fences of README.md and docs/ run as written (docs/conventions.md): in order per file,
each in its own `bash -euo pipefail`, in one scratch folder, with `cloud-config` on PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# Shell fences under another name would silently never run: a shell snippet is `sh` or `console`.
OTHER_SHELLS = {"bash", "shell", "zsh", "shell-session"}


def fences(path: Path) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block of a Markdown file."""
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(path.read_text(encoding="utf-8"))]


def test_shell_fences_are_sh_or_console() -> None:
    for path in DOCS:
        for info, _ in fences(path):
            assert info not in OTHER_SHELLS, f"{path.name}: mark ```{info} as ```sh (runs) or ```console"


@pytest.mark.parametrize(
    "path", [p for p in DOCS if any(i == "sh" for i, _ in fences(p))], ids=lambda p: p.name
)
def test_sh_snippets_run(path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for i, (info, body) in enumerate(fences(path)):
        if info != "sh":
            continue
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, f"{path.name} fence {i} failed:\n{body}\n{proc.stderr}"


def test_the_ci_snippet_keeps_the_exit_code_under_set_e() -> None:
    text = (ROOT / "docs" / "verify.md").read_text()
    lines = text.splitlines()
    assert "status=$?" not in lines and any(line.endswith("|| status=$?") for line in lines)
