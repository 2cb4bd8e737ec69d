"""A real `cloud-config serve` never shows a webhook secret, a URL password or key material.

One serve process with a webhook secret (from the environment) and repo URLs carrying a password,
driven with good and bad webhooks, a chain edit it must refuse and a node repo that does not exist;
then every byte it printed, /status and /metrics are searched for the secrets.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from cloud_config import git
from cloud_config.demo.serve_process import start_serve_process
from tests.support.cli import SRC
from tests.support.pipeline_repos import Repos, build_template, get, gitea_headers, post, push_event

pytestmark = pytest.mark.slow  # real servers, forge over HTTP, many processes

HOOK_SECRET = b"hook-Secret-9f3c1e7a"
PASSWORD = "url-Pass@w0rd-7d2b"  # an '@' inside, as real passwords have


def _with_password(url: str, encode: bool = True) -> str:
    password = quote(PASSWORD, safe="") if encode else PASSWORD
    return url.replace("http://", f"http://ops:{password}@", 1)


def _write_config(tmp: Path, repos: Repos) -> Path:
    missing = repos.forge.url("no-such-node-repo")
    lines = [
        'workdir = "work"',
        "max_body_bytes = 4096",
        "[[pipeline]]",
        'name = "chain"',
        f'chain_repo = "{_with_password(repos.chain_url)}"',
        'secret_env = "CC_TEST_HOOK_SECRET"',
        "[[pipeline.node]]",
        'domain = "node0"',
        f'repo = "{_with_password(repos.node_url)}"',
        "[[pipeline.node]]",
        'domain = "node1"',
        f'repo = "{_with_password(missing, encode=False)}"',  # the '@' as typed
        'chain_name = "gitops-test-chain"',
    ]
    path = tmp / "serve.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _key_material(repos: Repos) -> list[str]:
    """node0's account key and TLS key body, as its (private) node repo holds them."""
    bare = repos.node_bare
    found = []
    for path in git.ls_tree(bare, "master"):
        if path.endswith("/private_key") or path.endswith("/key.pem"):
            data = git.show(bare, "master", path)
            assert data is not None
            text = data.decode().strip()
            # The longest line of a PEM key, or the whole hex key.
            found.append(max(text.splitlines(), key=len))
    assert len(found) >= 2, found
    return found


def _wait_runs(url: str, wanted: dict[str, int]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        status = json.loads(get(f"{url}/status")[1])["chain"]
        runs = {d: status[d]["runs"] for d in wanted}
        idle = all(status[d]["state"] == "idle" for d in wanted)
        if idle and all(runs[d] >= n for d, n in wanted.items()):
            return dict(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def test_serve_never_shows_the_webhook_secret_url_password_or_keys(tmp_path: Path) -> None:
    repos = Repos(build_template(tmp_path / "template"), tmp_path)
    try:
        config = _write_config(tmp_path, repos)
        env = {**os.environ, "PYTHONPATH": str(SRC), "CC_TEST_HOOK_SECRET": HOOK_SECRET.decode()}
        proc, url = start_serve_process(config, env, subprocess.PIPE)
        assert proc.stdout is not None
        first = f"listening on {url}\n"
        try:
            assert url is not None and url.startswith("http://127.0.0.1:"), first
            hook = f"{url}/hooks/chain"
            seen: list[str] = [first]

            body = push_event("master", repos.chain.head())
            code, reply = post(hook, body, gitea_headers(HOOK_SECRET, body))
            seen.append(reply)
            assert code == 202
            status = _wait_runs(url, {"node0": 1, "node1": 1})
            assert status["node1"]["last"]["result"] == "failed"  # type: ignore[index]

            # Bad webhooks: wrong signatures and tokens, one of them the secret with a byte more.
            for headers in (
                {"X-Gitea-Signature": "0" * 64},
                {"X-Gitlab-Token": HOOK_SECRET.decode() + "x"},
                {"X-Gitee-Token": HOOK_SECRET.decode()[:-1]},
                {"X-Hub-Signature-256": "sha256=" + HOOK_SECRET.hex()},
                {},
            ):
                code, reply = post(hook, body, headers)
                seen.append(reply)
                assert code == 401
            code, reply = post(hook, b"not json", gitea_headers(HOOK_SECRET, b"not json"))
            seen.append(reply)
            assert code == 400
            deep = b"[" * 4000  # signed, under max_body_bytes, nested past the recursion limit
            code, reply = post(hook, deep, gitea_headers(HOOK_SECRET, deep))
            seen.append(reply)
            assert code == 400 and "nested more than" in reply

            # A chain edit node0 must refuse, and node1's repo still missing: two failed runs.
            sha = repos.edit_chain("block_interval = 3", 'block_interval = "three"', "break the chain")
            body = push_event("master", sha)
            code, reply = post(hook, body, gitea_headers(HOOK_SECRET, body))
            seen.append(reply)
            status = _wait_runs(url, {"node0": 2, "node1": 2})
            node0 = status["node0"]["last"]  # type: ignore[index]
            assert node0["result"] == "refused" and "refusing chain" in node0["error"]
            assert node0["refusal"]["rule"] == "schema"  # the receipt check, before rendering

            status_text, metrics = get(f"{url}/status")[1], get(f"{url}/metrics")[1]
            seen += [status_text, metrics]
            assert "http://***@127.0.0.1" in status_text
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        seen += [out, err]
        assert proc.returncode == 0, err
        assert "refusing chain" in err and "node1" in err  # the failures were logged

        everything = "\n".join(seen)
        secrets = [HOOK_SECRET.decode(), PASSWORD, quote(PASSWORD, safe=""), *_key_material(repos)]
        for secret in secrets:
            assert secret not in everything, f"a secret ({len(secret)} chars) shows in serve's output"
        # The parts of the password either side of its '@' do not show either.
        for part in PASSWORD.split("@"):
            assert part not in everything
    finally:
        repos.close()
