"""`cloud-config serve`: its configuration file, coalescing of bursts, and the real process."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cloud_config import git
from cloud_config.demo.serve_process import start_serve_process
from cloud_config.pipeline.reconcile import Outcome, Target, reconcile
from cloud_config.pipeline.service_config import load_config
from cloud_config.pipeline.service_http import make_app
from tests.support.cli import SRC
from tests.support.pipeline_repos import (
    SECRET,
    Repos,
    build_template,
    get,
    gitea_headers,
    post,
    push_event,
    write_service_file,
)

pytestmark = pytest.mark.slow  # real servers, forge over HTTP, many processes


def test_inline_secret_is_refused(cli, tmp_path: Path) -> None:
    path = write_service_file(tmp_path, "http://127.0.0.1:1/c.git", {"node0": "http://127.0.0.1:1/n.git"})
    path.write_text(path.read_text().replace('secret_file = "hook-secret"', 'secret = "hunter2"'))
    r = cli("serve", "--config", str(path))
    assert r.code == 1
    assert r.err == (
        f"error: {path}: pipeline[0].secret: secrets must not be written in this file; "
        "use secret_env or secret_file\n"
    )
    assert "hunter2" not in r.err


def test_missing_secret_env_is_refused(cli, tmp_path: Path) -> None:
    path = write_service_file(tmp_path, "http://x/c.git", {"node0": "http://x/n.git"})
    text = path.read_text().replace('secret_file = "hook-secret"', 'secret_env = "CC_TEST_UNSET_SECRET"')
    path.write_text(text)
    r = cli("serve", "--config", str(path))
    assert r.code == 1
    assert "pipeline[0].secret_env: environment variable CC_TEST_UNSET_SECRET is not set or empty" in r.err


def test_secret_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_service_file(tmp_path, "http://x/c.git", {"node0": "http://x/n.git"})
    path.write_text(path.read_text().replace('secret_file = "hook-secret"', 'secret_env = "CC_TEST_SECRET"'))
    monkeypatch.setenv("CC_TEST_SECRET", "from-env")
    config = load_config(path)
    assert config.pipelines["chain"].secret == b"from-env"
    assert "from-env" not in repr(config)


def test_receipt_settings_per_pipeline(cli, tmp_path: Path) -> None:
    """trust_root, require_members and signing_key reach every node of their pipeline."""
    path = write_service_file(
        tmp_path, "http://x/c.git", {"node0": "http://x/n0.git", "node1": "http://x/n1.git"}
    )
    extra = 'trust_root = "' + "a" * 40 + '"\nrequire_members = true\nsigning_key = "ABCDEF0123456789"\n'
    path.write_text(
        path.read_text().replace('secret_file = "hook-secret"\n', 'secret_file = "hook-secret"\n' + extra)
    )
    targets = load_config(path).pipelines["chain"].targets
    assert {(t.trust_root, t.require_members, t.signing_key) for t in targets} == {
        ("a" * 40, True, "ABCDEF0123456789")
    }
    path.write_text(path.read_text().replace("require_members = true", 'require_members = "yes"'))
    r = cli("serve", "--config", str(path))
    assert r.code == 1 and r.err == f"error: {path}: pipeline[0].require_members: must be true or false\n"


def test_burst_coalesces_to_two_runs_the_last_at_the_newest_head(tmp_path: Path) -> None:
    """Pushes arriving while node0 reconciles make one waiting run, which renders the newest head."""
    repos = Repos(build_template(tmp_path / "template"), tmp_path)
    start_head = repos.node_head()
    config = load_config(write_service_file(tmp_path, repos.chain_url, {"node0": repos.node_url}))
    seen: list[str] = []
    burst_sent = threading.Event()

    def holding_reconciler(target: Target, workdir: Path) -> Outcome:
        outcome = reconcile(target, workdir)
        seen.append(outcome.chain_sha)
        burst_sent.wait(timeout=60)  # the first run stays open until the whole burst has arrived
        return outcome

    server = make_app(config, reconciler=holding_reconciler, listen="127.0.0.1:0")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        states, host = [], "www.node1.com"
        for i in range(1, 5):
            sha = repos.edit_chain(f'host = "{host}"', f'host = "h{i}.example.org"', f"node1 moves, {i}")
            host = f"h{i}.example.org"
            body = push_event("master", sha)
            code, text = post(f"{server.url}/hooks/chain", body, gitea_headers(SECRET, body))
            assert code == 202
            states.append(json.loads(text)["queued"]["node0"])
        burst_sent.set()
        assert server.service.queue.wait_idle(60)
    finally:
        burst_sent.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert server.service.close(timeout=30)
        repos.close()
    assert states[0] == "running" and set(states[1:]) == {"running+pending"}
    assert len(seen) == 2 and seen[-1] == sha  # the newest chain head
    log = git.run(repos.node_bare, "rev-list", "master").split()
    assert log[2] == start_head  # exactly two new commits
    external = git.show(repos.node_bare, "master", "yamls/node1-external-svc.yaml")
    assert external is not None and b"externalName: h4.example.org" in external


def _start_serve(config: Path) -> tuple[subprocess.Popen[str], str]:
    proc, url = start_serve_process(config, {**os.environ, "PYTHONPATH": str(SRC)}, subprocess.PIPE)
    assert url is not None and url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
    return proc, url


def test_serve_process_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = write_service_file(tmp_path, "http://127.0.0.1:9/c.git", {"node0": "http://127.0.0.1:9/n.git"})
    proc, url = _start_serve(path)
    try:
        assert get(f"{url}/healthz") == (200, "ok\n")
        body = push_event("master", "1" * 40)
        code, _ = post(f"{url}/hooks/chain", body, {"X-Gitea-Signature": "0" * 64})
        assert code == 401
        status: dict[str, Any] = json.loads(get(f"{url}/status")[1])
        assert status["chain"]["node0"]["runs"] == 0
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert SECRET.decode() not in err


def test_max_parallel_bounds_concurrent_reconciles(tmp_path: Path) -> None:
    """Two nodes woken by one push, max_parallel = 1: their reconciles run one after the other."""
    nodes = {"node0": "http://127.0.0.1:9/n0.git", "node1": "http://127.0.0.1:9/n1.git"}
    path = write_service_file(tmp_path, "http://127.0.0.1:9/c.git", nodes, max_parallel="1")
    config = load_config(path)
    assert config.max_parallel == 1
    lock, active, peak = threading.Lock(), [0], [0]

    def counting_reconciler(target: Target, workdir: Path) -> Outcome:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.3)
            return reconcile(target, workdir)  # fails: nothing listens on port 9
        finally:
            with lock:
                active[0] -= 1

    server = make_app(config, reconciler=counting_reconciler, listen="127.0.0.1:0")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = push_event("master", "1" * 40)
        assert post(f"{server.url}/hooks/chain", body, gitea_headers(SECRET, body))[0] == 202
        assert server.service.queue.wait_idle(30)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert server.service.close(timeout=30)
    status = server.service.status()["chain"]
    assert peak[0] == 1 and {d: n["runs"] for d, n in status.items()} == {"node0": 1, "node1": 1}
    assert all(n["last"]["result"] == "failed" and "git clone" in n["last"]["error"] for n in status.values())


def test_max_parallel_must_be_positive(cli, tmp_path: Path) -> None:
    path = write_service_file(tmp_path, "http://x/c.git", {"node0": "http://x/n.git"}, max_parallel="0")
    r = cli("serve", "--config", str(path))
    assert r.code == 1 and r.err == f"error: {path}: max_parallel: must be a positive whole number\n"
