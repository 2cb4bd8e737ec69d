"""The status page at `/`, loaded by a real headless Chromium (Debian's chromium + chromium-driver,
through Selenium): the table lists the nodes with their applied commit, a screenshot is saved in
the test's folder, and no secret shows. Then the second listener and the bearer token."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from cloud_config import git
from cloud_config.demo.serve_process import start_serve_process
from cloud_config.demo.world import CHAIN, Person
from cloud_config.model.members import Member, Members
from cloud_config.pipeline.service_config import load_config
from cloud_config.pipeline.service_http import make_app
from tests.support.cli import SRC
from tests.support.pipeline_repos import Repos, build_template, gitea_headers, post, push_event

pytestmark = pytest.mark.slow  # a browser, a forge and a server

HOOK = "hook-Secret-page-41d9"
NOTIFY = "notify-Secret-page-8c21"
PASSWORD = "url-Pass-page-0b7e"


def _browser() -> WebDriver:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(options=options, service=DriverService(executable_path=driver))


def test_status_page_in_a_real_browser(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    repos = Repos(build_template(tmp_path / "template"), tmp_path)
    alice, pipe_key = Person("alice", tmp_path / "alice"), Person("pipe", tmp_path / "pipe")
    members = Members([Member("alice", ssh_keys=[alice.public], domains=["node0"],
                              pipeline_keys=[pipe_key.public])])  # fmt: skip
    repos.chain.write({"members.toml": members.dumps().encode()}, "members")
    chain_url = repos.chain_url.replace("http://", f"http://ops:{quote(PASSWORD)}@", 1)
    config = tmp_path / "serve.toml"
    config.write_text(
        f'workdir = "work"\n\n[[pipeline]]\nname = "chain"\nchain_repo = "{chain_url}"\n'
        f'secret_env = "CC_HOOK"\nnotify_secret_env = "CC_NOTIFY"\nstatus_key_file = "{pipe_key.key}"\n\n'
        f'[[pipeline.node]]\ndomain = "node0"\nrepo = "{repos.node_url}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "CC_HOOK": HOOK, "CC_NOTIFY": NOTIFY}
    proc, url = start_serve_process(config, env, subprocess.PIPE)
    driver = None
    try:
        assert url is not None
        body = push_event("master", repos.chain.head())
        assert post(f"{url}/hooks/chain", body, gitea_headers(HOOK.encode(), body))[0] == 202
        bare = repos.forge.path(CHAIN)
        deadline = time.monotonic() + 60
        while not git.run(bare, "for-each-ref", "refs/heads/status/node0"):
            assert time.monotonic() < deadline, "no status record"
            time.sleep(0.05)
        time.sleep(3.2)  # past the page's cache of the chain repo
        driver = _browser()
        driver.get(f"{url}/")
        table = driver.find_element(By.ID, "status")
        rows = {r.get_attribute("data-domain"): r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")}
        assert set(rows) == {"node0", "node1"}
        applied = rows["node0"].find_element(By.CSS_SELECTOR, "code.applied").text
        assert applied == repos.chain.head()
        assert "no record" in rows["node1"].text
        assert driver.find_element(By.CSS_SELECTOR, "svg[aria-label=topology]").is_displayed()
        assert driver.find_element(By.ID, "runs").text.count("node0") == 1
        refresh = driver.find_element(By.CSS_SELECTOR, "meta[http-equiv=refresh]").get_attribute("content")
        assert refresh and int(refresh) > 0
        driver.save_screenshot(str(tmp_path / "status-page.png"))
        if os.environ.get("CC_KEEP_SCREENSHOT"):
            shutil.copy(tmp_path / "status-page.png", os.environ["CC_KEEP_SCREENSHOT"])
        assert (tmp_path / "status-page.png").stat().st_size > 1000
        source = driver.page_source
        for secret in (HOOK, NOTIFY, PASSWORD, quote(PASSWORD), pipe_key.key.read_text().splitlines()[1]):
            assert secret not in source
        assert "src=" not in source and "<link" not in source and "<script" not in source  # no external asset
    finally:
        if driver is not None:
            driver.quit()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        repos.close()


def _get(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_status_listener_and_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_HOOK", HOOK)
    monkeypatch.setenv("CC_STATUS_TOKEN", "status-Token-93af")
    config = tmp_path / "serve.toml"
    config.write_text(
        'status_listen = "127.0.0.1:0"\nstatus_token_env = "CC_STATUS_TOKEN"\nworkdir = "work"\n\n'
        '[[pipeline]]\nname = "chain"\nchain_repo = "/nowhere"\nsecret_env = "CC_HOOK"\n\n'
        '[[pipeline.node]]\ndomain = "node0"\nrepo = "/nowhere-node"\n'
    )
    server = make_app(load_config(config), listen="127.0.0.1:0")
    status_server = server.status_server
    assert status_server is not None
    import threading

    for s in (server, status_server):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        for path in ("/", "/status", "/metrics"):
            assert _get(server.url + path) == 404  # moved off the webhook listener
            assert _get(status_server.url + path) == 401
            assert _get(status_server.url + path, "wrong") == 401
            assert _get(status_server.url + path, "status-Token-93af") == 200
        assert _get(server.url + "/healthz") == 200
    finally:
        for s in (server, status_server):
            s.shutdown()
            s.server_close()
        server.service.close()
