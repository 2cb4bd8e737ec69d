"""The distribution: `python -m build` makes a wheel that installs in a fresh venv, and the
installed command reports our version (cita-cloud-gitops) and the cloud-config it is compatible with."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

import cloud_config

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_ours_and_names_the_compatible_release() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "cita-cloud-gitops"
    assert project["version"] == cloud_config.__version__ != cloud_config.COMPATIBLE_WITH == "6.7.4"


@pytest.mark.slow  # builds a wheel and installs it with its dependencies in a new venv
def test_the_wheel_installs_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)]
    done = subprocess.run(build, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"cita_cloud_gitops-{cloud_config.__version__}-py3-none-any.whl"
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, str(wheel)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    version = subprocess.run(
        [str(env / "bin" / "cloud-config"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert version.stdout == (
        f"cloud-config {cloud_config.__version__} (cita-cloud-gitops; compatible with cloud-config 6.7.4)\n"
    )
    # The installed package is the wheel's, not this checkout's src/.
    where = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import cloud_config; print(cloud_config.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert str(env) in where.stdout
