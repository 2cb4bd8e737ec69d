"""A small local "forge": bare repositories served over HTTP by `git http-backend` on loopback.

Used by the demo, the tests and the benchmark. Each repository can carry webhooks: its
`post-receive` hook POSTs a signed push event (Gitea style) to every URL it names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.pipeline.http_body import read_chunked

PUSH_LIMIT = 1 << 30  # the largest push the showcase forge takes

_HOOK_CONFIG = "cloud-config-webhooks.json"
_CGI_KEYS = ("PATH_INFO", "QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE", "REMOTE_ADDR")
_PASSED_HEADERS = (("HTTP_CONTENT_ENCODING", "HTTP_CONTENT_ENCODING"), ("HTTP_GIT_PROTOCOL", "GIT_PROTOCOL"))
_BACKEND_TIMEOUT = 120
StartResponse = Callable[..., Any]


def http_backend() -> str:
    """The path of git's `git-http-backend` program."""
    return str(Path(git.run(None, "--exec-path")) / "git-http-backend")


def _request_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return read_chunked(stream, PUSH_LIMIT)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(stream.read(length)) if length else b""


def _split_cgi(output: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, sep, body = output.partition(b"\r\n\r\n")
    if not sep:
        head, _, body = output.partition(b"\n\n")
    status = "200 OK"
    headers: list[tuple[str, str]] = []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = value.strip()
        elif name:
            headers.append((name.strip(), value.strip()))
    return status, headers, body


def make_wsgi_app(root: Path) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI application running `git http-backend` for the bare repositories under `root`."""
    backend = http_backend()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k.startswith("GIT_CONFIG")}
        env.update({k: str(environ.get(k, "")) for k in _CGI_KEYS})
        body = _request_body(environ)
        env.update(
            GIT_PROJECT_ROOT=str(root),
            GIT_HTTP_EXPORT_ALL="1",
            REMOTE_USER="forge",
            CONTENT_LENGTH=str(len(body)),
            GATEWAY_INTERFACE="CGI/1.1",
        )
        for wsgi_key, cgi_key in (
            ("HTTP_CONTENT_ENCODING", "HTTP_CONTENT_ENCODING"),
            ("HTTP_GIT_PROTOCOL", "GIT_PROTOCOL"),
        ):
            if wsgi_key in environ:
                env[cgi_key] = environ[wsgi_key]
        proc = subprocess.run(
            [backend], input=body, env=env, capture_output=True, timeout=_BACKEND_TIMEOUT, check=False
        )
        status, headers, out = _split_cgi(proc.stdout)
        start_response(status, [*headers, ("Content-Length", str(len(out)))])
        return [out]

    return app


class Forge:
    """Bare repositories under `root`, served on http://127.0.0.1:<port>/<name>.git while started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> Forge:
        """Start serving on an ephemeral loopback port."""
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        class _Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        class _QuietHandler(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.root.mkdir(parents=True, exist_ok=True)
        self._server = make_server(
            "127.0.0.1", 0, make_wsgi_app(self.root), server_class=_Server, handler_class=_QuietHandler
        )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="forge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (the repositories stay on disk)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Forge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, name: str) -> str:
        """The clone URL of repository `name`."""
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def path(self, name: str) -> Path:
        """The bare repository of `name` on disk."""
        return self.root / f"{name}.git"

    def create(self, name: str, branch: str = "master") -> str:
        """Create an empty bare repository; return its URL."""
        git.init(self.path(name), bare=True, branch=branch)
        git.run(self.path(name), "config", "http.receivepack", "true")
        return self.url(name)

    def add_webhook(self, name: str, url: str, secret_file: Path) -> None:
        """Make pushes to `name` POST a Gitea-style push event, signed with the secret in `secret_file`."""
        repo = self.path(name)
        config_path = repo / "hooks" / _HOOK_CONFIG
        hooks = json.loads(config_path.read_text()) if config_path.exists() else []
        hooks.append({"url": url, "secret_file": str(secret_file.resolve())})
        config_path.write_text(json.dumps(hooks, indent=2))
        _install_hook(repo / "hooks" / "post-receive")


def _install_hook(path: Path) -> None:
    import cloud_config

    src = str(Path(cloud_config.__file__).resolve().parents[1])
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {src!r})\n"
        "from cloud_config.demo.forge import post_receive\n"
        "raise SystemExit(post_receive())\n"
    )
    path.chmod(0o755)


def _push_events(lines: Iterable[str], repo_name: str) -> Iterator[dict[str, Any]]:
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            before, after, ref = parts
            yield {"ref": ref, "before": before, "after": after, "repository": {"name": repo_name}}


def post_receive() -> int:
    """The body of a forge repository's post-receive hook: send the configured webhooks."""
    import urllib.error
    import urllib.request

    from cloud_config.pipeline.webhooks import sign

    repo = Path.cwd()
    hooks = json.loads((repo / "hooks" / _HOOK_CONFIG).read_text())
    for event in _push_events(sys.stdin, repo.name.removesuffix(".git")):
        body = json.dumps(event).encode()
        for hook in hooks:
            secret = Path(hook["secret_file"]).read_bytes().strip()
            headers = {
                "Content-Type": "application/json",
                "X-Gitea-Event": "push",
                **sign("gitea", secret, body),
            }
            request = urllib.request.Request(hook["url"], data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    print(f"webhook {hook['url']}: {response.status}", file=sys.stderr)
            except urllib.error.HTTPError as exc:
                print(f"webhook {hook['url']}: {exc.code}", file=sys.stderr)
            except OSError as exc:
                print(f"webhook {hook['url']}: failed ({exc})", file=sys.stderr)
    return 0
