"""Checking objects against published CRD schemas (npm @kubernetes-models/*: Argo CD, Flux,
Prometheus Operator; pinned by tests/schemas/package-lock.json, installed by scripts/setup).

Without node or the packages the checks are skipped, saying why, except under CI (CI=true), where
a missing schema is a failure: CI must not pass unchecked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=true: these checks must run)")
    pytest.skip(reason)


def schema_check(docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """Run tests/schemas/validate.js on `docs`: one "ok <kind>/<name>" line per valid object."""
    if shutil.which("node") is None:
        _unavailable("node is not installed: cannot run the CRD schema checks")
    models = SCHEMAS / "node_modules" / "@kubernetes-models"
    if not all((models / name).is_dir() for name in ("argo-cd", "flux-cd", "prometheus-operator")):
        _unavailable("schemas not installed: run `npm ci --prefix tests/schemas`")
    return subprocess.run(
        ["node", str(SCHEMAS / "validate.js")],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
