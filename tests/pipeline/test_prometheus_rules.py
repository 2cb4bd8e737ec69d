"""deploy/prometheus-rules.yaml: a valid PrometheusRule (the Prometheus Operator's CRD schema, from
npm @kubernetes-models/prometheus-operator) whose alerts use only metrics `serve` exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cloud_config.pipeline.service import Service
from cloud_config.pipeline.service_config import load_config
from tests.support.schemas import schema_check

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus-rules.yaml"


def test_prometheus_rule_is_valid_and_names_real_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (doc,) = list(yaml.safe_load_all(RULES.read_text()))
    check = schema_check([doc])
    assert check.returncode == 0, check.stdout + check.stderr
    rules = doc["spec"]["groups"][0]["rules"]
    alerts = {r["alert"]: r for r in rules}
    assert {"CloudConfigNodeLagging", "CloudConfigRefusal", "CloudConfigCertificateExpiring"} <= set(alerts)
    assert alerts["CloudConfigNodeLagging"]["for"] == "10m"
    assert "14 * 86400" in alerts["CloudConfigCertificateExpiring"]["expr"]
    monkeypatch.setenv("CC_HOOK", "x")
    config = tmp_path / "serve.toml"
    config.write_text('[[pipeline]]\nname = "c"\nchain_repo = "/c"\nsecret_env = "CC_HOOK"\n'
                      '[[pipeline.node]]\ndomain = "node0"\nrepo = "/n"\n')  # fmt: skip
    service = Service(load_config(config))
    try:
        exported = set(re.findall(r"^# TYPE (\S+)", service.metrics(), re.MULTILINE))
    finally:
        service.close()
    used = {name for r in rules for name in re.findall(r"\bcloud_config_[a-z_]+", r["expr"])}
    assert used and used <= exported, used - exported


def test_schema_check_rejects_a_broken_rule() -> None:
    (doc,) = list(yaml.safe_load_all(RULES.read_text()))
    doc["spec"]["groups"][0]["rules"][0]["for"] = 600
    assert schema_check([doc]).returncode == 1
