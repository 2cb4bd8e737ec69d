"""`cloud-config completion bash|zsh|fish` and the man page, generated from the parser and exercised."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import ROOT, run_process


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_process("completion", "bash")
    assert result.code == 0 and result.err == ""
    path = tmp_path_factory.mktemp("completion") / "cloud-config.bash"
    path.write_text(result.out)
    return path


def complete(script: Path, words: list[str], cwd: Path | None = None) -> list[str]:
    """Source the script in a real bash and ask it to complete `words` (the last one being typed)."""
    line = " ".join(words)
    program = f"""
source {script}
COMP_WORDS=({" ".join(repr(w) for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={line!r}
COMP_POINT={len(line)}
_shtab_cloud_config cloud-config "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True, cwd=cwd)
    return [w.strip() for w in proc.stdout.splitlines() if w.strip()]


def test_bash_completes_verbs_flags_and_folders(bash_script: Path, tmp_path: Path) -> None:
    assert set(complete(bash_script, ["cloud-config", "init-ch"])) == {"init-chain", "init-chain-config"}
    assert "update-yaml" in complete(bash_script, ["cloud-config", "up"])
    flags = complete(bash_script, ["cloud-config", "set-admin", "--"])
    assert {"--admin", "--chain-name", "--config-dir", "--dry-run", "--quiet"} <= set(flags)
    assert complete(bash_script, ["cloud-config", "new-account", "--crypto", ""]) == ["eth", "sm"] or set(
        complete(bash_script, ["cloud-config", "new-account", "--crypto", ""])
    ) == {"sm", "eth"}
    assert set(complete(bash_script, ["cloud-config", "member", ""])) == {"add", "remove", "leave", "list"}
    (tmp_path / "chains").mkdir()
    (tmp_path / "chain.txt").write_text("")
    dirs = complete(bash_script, ["cloud-config", "init-chain", "--config-dir", "ch"], cwd=tmp_path)
    assert dirs == ["chains"] or dirs == ["chains/"], dirs


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(shell: str, tmp_path: Path) -> None:
    result = run_process("completion", shell)
    assert result.code == 0 and "set-admin" in result.out and "--config-dir" in result.out
    script = tmp_path / f"cloud-config.{shell}"
    script.write_text(result.out)
    check = [shell, "-n", str(script)] if shell == "zsh" else [shell, "--no-execute", str(script)]
    proc = subprocess.run(check, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_man_page_documents_every_verb(tmp_path: Path) -> None:
    from cloud_config.cli.main import build_parser
    from cloud_config.cli.shell import man_page

    page = man_page(build_parser(every=True)[0], "6.7.4")
    assert page.startswith(".TH CLOUD\\-CONFIG") or page.startswith('.TH "CLOUD-CONFIG')
    _, listed = build_parser()
    for verb, _ in listed:
        assert (
            f"cloud\\-config {verb.replace('-', chr(92) + '-')}" in page or f"cloud-config {verb}" in page
        ), verb
    assert "\\-\\-dry\\-run" in page or "--dry-run" in page
    (tmp_path / "cloud-config.1").write_text(page)
    proc = subprocess.run(
        ["groff", "-man", "-Tutf8", "-z", "-ww", str(tmp_path / "cloud-config.1")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "error" not in proc.stderr.lower(), proc.stderr


@pytest.mark.slow
def test_the_wheel_ships_the_man_page(tmp_path: Path) -> None:
    """The man page is generated at build time (setup.py) into share/man/man1 of the wheel."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("cita_cloud_gitops-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith("share/man/man1/cloud-config.1")]
        assert names
        page = archive.read(names[0]).decode()
    assert "set\\-admin" in page or "set-admin" in page
    shutil.rmtree(ROOT / "build" / "bdist.linux-x86_64", ignore_errors=True)
