"""A real `cloud-config serve` on loopback writes signed status records after every reconcile
(commit, no-op, refusal), pings the delivery engine (a stand-in checking the payload and the
signature as Argo CD does), takes Argo CD and Flux sync reports (401 without the secret), and
`cloud-config status` reads the result; /metrics counts it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cloud_config import git
from cloud_config.demo.serve_process import start_serve_process
from cloud_config.demo.world import CHAIN, Person
from cloud_config.model.members import Member, Members
from cloud_config.model.status_record import RECORD_FILE, StatusRecord
from tests.support.cli import SRC, run_process
from tests.support.engines import Collector, EngineStandIn, argocd_notification, flux_event, flux_notification
from tests.support.pipeline_repos import Repos, build_template, get, gitea_headers, post, push_event

pytestmark = pytest.mark.slow  # real servers, forge over HTTP

HOOK = b"hook-secret-5b1c"
NOTIFY = b"notify-secret-77aa"
ENGINE = b"argocd-webhook-secret-3e9d"


def _record(bare: Path, domain: str = "node0") -> tuple[str, StatusRecord] | None:
    ref = f"refs/heads/status/{domain}"
    sha = git.run(bare, "for-each-ref", "--format=%(objectname)", ref)
    if not sha:
        return None
    data = git.show(bare, sha, RECORD_FILE)
    assert data is not None
    return sha, StatusRecord.loads(data.decode(), ref)


def _wait_record(bare: Path, old: str | None, timeout: float = 20) -> tuple[str, StatusRecord, float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        got = _record(bare)
        if got is not None and got[0] != old:
            return got[0], got[1], time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError("no new status record")


def test_serve_records_pings_and_sync_reports(tmp_path: Path) -> None:
    repos = Repos(build_template(tmp_path / "template"), tmp_path)
    alice, pipeline_key = Person("alice", tmp_path / "alice"), Person("pipe", tmp_path / "pipe")
    members = Members([Member("alice", role="admin", ssh_keys=[alice.public], domains=["node0"],
                              pipeline_keys=[pipeline_key.public])])  # fmt: skip
    repos.chain.write({"members.toml": members.dumps().encode()}, "members")
    engine = EngineStandIn("argocd", ENGINE)
    slack = Collector()
    for name, value in (("hook", HOOK), ("notify", NOTIFY), ("engine", ENGINE)):
        (tmp_path / name).write_bytes(value + b"\n")
    config = tmp_path / "serve.toml"
    config.write_text(
        f'workdir = "work"\n\n[[pipeline]]\nname = "chain"\nchain_repo = "{repos.chain_url}"\n'
        f'secret_file = "hook"\nstatus_key_file = "{pipeline_key.key}"\nnotify_secret_file = "notify"\n'
        f'argocd_webhook_url = "{engine.url}"\nengine_secret_file = "engine"\n'
        f'alert_webhook_url = "{slack.url}"\n\n'
        f'[[pipeline.node]]\ndomain = "node0"\nrepo = "{repos.node_url}"\n'
    )
    bare = repos.forge.path(CHAIN)
    proc, url = start_serve_process(config, {**os.environ, "PYTHONPATH": str(SRC)}, subprocess.PIPE)
    try:
        assert url is not None
        hook = f"{url}/hooks/chain"

        def fire(sha: str) -> None:
            body = push_event("master", sha)
            assert post(hook, body, gitea_headers(HOOK, body))[0] == 202

        # 1. A no-op run (the node repo is already rendered from this chain): an up-to-date record.
        fire(repos.chain.head())
        sha1, rec, _ = _wait_record(bare, None)
        assert rec.result == "up-to-date" and rec.chain_commit == repos.chain.head() and rec.owner == "alice"
        assert rec.node_commit == repos.node_head() and rec.digest.startswith("sha256:")
        assert rec.cert_not_after.endswith("Z") and not engine.accepted  # no push, no ping

        # 2. A change: committed, an applied record, and the engine pinged with a valid signature.
        # Signed by alice, an admin: the receipt check judges it with the members.toml now in force.
        merged = repos.edit_chain(
            'host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved", alice
        )
        merged_at = time.monotonic()
        fire(merged)
        sha2, rec, _ = _wait_record(bare, sha1)
        record_seconds = time.monotonic() - merged_at
        assert rec.result == "applied" and rec.chain_commit == merged and rec.node_commit == repos.node_head()
        deadline = time.monotonic() + 30
        while not engine.accepted and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.accepted and not engine.refused, engine.refused
        event = json.loads(engine.accepted[0].body)
        assert event["repository"]["html_url"] == repos.node_url and event["after"] == repos.node_head()
        assert event["ref"] == "refs/heads/master"
        merged_wall = time.time() - (time.monotonic() - merged_at)
        notified = engine.accepted[0].at - merged_wall
        print(
            f"chain merge -> status record visible: {record_seconds:.2f} s; "
            f"-> engine notified: {notified:.2f} s"
        )
        # The record commit is signed by the pipeline key, and `status` counts it.
        r = run_process("status", "--remote", repos.chain_url, "--format", "json")
        assert r.code == 0, r.out + r.err
        node0 = json.loads(r.out)["nodes"][0]
        assert node0["record_commit"] == sha2 and node0["lag"] == 0 and node0["result"] == "applied"

        # 3. Sync reports: Argo CD (Bearer) and Flux (generic-hmac), refused without the secret.
        notify = f"{url}/notify/argocd/chain"
        assert argocd_notification(notify, NOTIFY.decode(), f"{CHAIN}-node0", repos.node_head())[0] == 202
        assert argocd_notification(notify, "wrong", f"{CHAIN}-node0", repos.node_head())[0] == 401
        flux_body = flux_event(f"{CHAIN}-node0", repos.node_head())
        assert flux_notification(f"{url}/notify/flux/chain", NOTIFY, flux_body) == 202
        assert flux_notification(f"{url}/notify/flux/chain", NOTIFY, flux_body, sign=False) == 401
        assert flux_notification(f"{url}/notify/flux/chain", b"other", flux_body) == 401
        fire(merged)  # the next record carries the last report (Flux's)
        sha3, rec, _ = _wait_record(bare, sha2)
        assert rec.result == "up-to-date" and rec.sync["engine"] == "flux"
        assert rec.sync["revision"] == repos.node_head() and rec.sync["health"].startswith("Ready")

        # 4. A refusal: a refused record naming the rule and the refused commit; status exits 1.
        broken = repos.edit_chain("block_interval = 3", 'block_interval = "six"', "break the chain", alice)
        fire(broken)
        _, rec, _ = _wait_record(bare, sha3)
        assert rec.result == "refused" and rec.chain_commit == broken
        assert (
            rec.refusal["commit"] == broken
            and rec.refusal["rule"] not in ("", "render")  # the receipt check's own rule, typed
            and "block_interval" in rec.refusal["message"]
        )
        r = run_process("status", "--remote", repos.chain_url)
        assert r.code == 1 and "refused" in r.out and "FAIL node0: refused" in r.out
        assert len(slack.bodies) == 1 and set(slack.bodies[0]) == {"text"}  # one alert: the refusal
        assert "chain/node0: reconcile refused" in slack.bodies[0]["text"]

        metrics = get(f"{url}/metrics")[1]
        assert 'cloud_config_status_pushes_total{pipeline="chain",domain="node0"} 4' in metrics
        assert 'cloud_config_status_push_failures_total{pipeline="chain",domain="node0"} 0' in metrics
        assert (
            f'cloud_config_receipt_refusals_total{{pipeline="chain",rule="{rec.refusal["rule"]}"}} 1'
            in metrics
        )
        assert 'cloud_config_node_lag_commits{pipeline="chain",domain="node0"} 1' in metrics
        assert 'cloud_config_engine_pings_total{pipeline="chain",domain="node0"} 1' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        engine.close()
        slack.close()
        repos.close()
    everything = out + err
    for secret in (HOOK, NOTIFY, ENGINE):
        assert secret.decode() not in everything


def test_failed_status_push_is_counted_and_never_fails_the_reconcile(tmp_path: Path) -> None:
    repos = Repos(build_template(tmp_path / "template"), tmp_path)
    key = Person("pipe", tmp_path / "pipe").key
    (tmp_path / "hook").write_bytes(HOOK)
    config = tmp_path / "serve.toml"
    config.write_text(
        f'workdir = "work"\n\n[[pipeline]]\nname = "chain"\nchain_repo = "{repos.chain_url}"\n'
        f'secret_file = "hook"\nstatus_key_file = "{key}"\n'
        f'status_repo = "{repos.forge.url("no-such-repo")}"\n\n'
        f'[[pipeline.node]]\ndomain = "node0"\nrepo = "{repos.node_url}"\n'
    )
    proc, url = start_serve_process(config, {**os.environ, "PYTHONPATH": str(SRC)}, subprocess.PIPE)
    try:
        assert url is not None
        merged = repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
        body = push_event("master", merged)
        assert post(f"{url}/hooks/chain", body, gitea_headers(HOOK, body))[0] == 202
        deadline = time.monotonic() + 60
        while 'status_push_failures_total{pipeline="chain",domain="node0"} 1' not in get(f"{url}/metrics")[1]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status = json.loads(get(f"{url}/status")[1])["chain"]["node0"]
        assert status["last"]["result"] == "committed" and status["status_record"]["pending"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        repos.close()
