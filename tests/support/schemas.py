"""CRD schema checks through node: Argo CD, Flux and Prometheus Operator objects (tests/schemas).

The schemas come from npm (@kubernetes-models/argo-cd 2.7.2, flux-cd 2.3.4, prometheus-operator
6.0.0, an ES module validate.js loads with import()), pinned by tests/schemas/package-lock.json and
installed by `npm ci --prefix tests/schemas` (scripts/setup does it). Without node or the packages
the checks are skipped, saying why, except under CI (CI=true), where a missing schema is a failure:
CI must not pass unchecked.
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
MODEL_PACKAGES = ("argo-cd", "flux-cd", "prometheus-operator")  # under node_modules/@kubernetes-models


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=true: these checks must run)")
    pytest.skip(reason)


def schema_check(docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """`node tests/schemas/validate.js` over the documents: one `ok KIND/NAME` line each."""
    if shutil.which("node") is None:
        _unavailable("node is not installed: cannot run the CRD schema checks")
    models = SCHEMAS / "node_modules" / "@kubernetes-models"
    if not all((models / name).is_dir() for name in MODEL_PACKAGES):
        _unavailable("schemas not installed: run `npm ci --prefix tests/schemas`")
    return subprocess.run(
        ["node", str(SCHEMAS / "validate.js")],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
