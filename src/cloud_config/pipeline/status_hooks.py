"""What `serve` does after each reconcile besides the reconcile itself: write the node's signed
status record, ping the delivery engine after a push, post an alert on a refusal or on the first
failure after a success; and keep the figures `/metrics` shows about them.

Nothing here may fail or slow the reconcile's own result: every step catches its errors, logs
them (redacted) and counts them; a record that could not be pushed is written afresh next time.
"""

from __future__ import annotations

import calendar
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.errors import CloudConfigError
from cloud_config.pipeline.chain_source import ChainSource
from cloud_config.pipeline.engines import check_notify, ping, post_text, push_event, read_sync
from cloud_config.pipeline.receipt import ReceiptRefused
from cloud_config.pipeline.reconcile import Outcome, ReconcileRefused, Target, _cache_dir, redact
from cloud_config.pipeline.service_config import Pipeline, ServiceConfig
from cloud_config.pipeline.status_records import build_record, now, push_record, refusal_of
from cloud_config.pipeline.webhooks import Headers

log = logging.getLogger("cloud_config.serve")
NodeKey = tuple[str, str]
# A refused chain: the receipt check's verdict, or a head that passed but cannot be rendered.
REFUSED = (ReceiptRefused, ReconcileRefused)


@dataclass
class NodeWatch:
    """What is known about one node beyond its last run."""

    sync: dict[str, str] = field(default_factory=dict)
    last_success: float | None = None
    last_applied: str | None = None  # chain commit of the last success
    lag: int = 0
    record_pushes: int = 0
    record_failures: int = 0
    record_pending: bool = False
    last_record: str | None = None
    pings: int = 0
    ping_failures: int = 0
    last_ping_seconds: float | None = None
    alerts: int = 0
    failing: bool = False
    cert_expiry: float | None = None  # the node certificate's not-after (Unix time), from its record


class StatusHooks:
    """Per node: records, engine pings, alerts, sync reports; and their metrics."""

    def __init__(self, config: ServiceConfig, keys: list[NodeKey], chains: dict[str, ChainSource]) -> None:
        self.config = config
        self.chains = chains  # per pipeline: the chain repo its nodes read
        self.nodes: dict[NodeKey, NodeWatch] = {key: NodeWatch() for key in keys}
        self.refusals: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    # ---- after a reconcile -------------------------------------------------------------

    def after_run(
        self, key: NodeKey, target: Target, started: str, outcome: Outcome | None, error: BaseException | None
    ) -> None:
        """Called by the worker right after a reconcile of `key` (outcome, or the error it raised)."""
        try:
            self._after_run(key, target, started, outcome, error)
        except Exception as exc:  # a bug here must not kill the worker nor touch the reconcile's result
            log.error(
                "%s/%s: status hooks failed: unexpected %s: %s", *key, type(exc).__name__, redact(str(exc))
            )

    def _after_run(
        self, key: NodeKey, target: Target, started: str, outcome: Outcome | None, error: BaseException | None
    ) -> None:
        pipe = self.config.pipelines[key[0]]
        watch = self.nodes[key]
        refused = isinstance(error, REFUSED)
        chain_repo = self.chains[key[0]].repo
        if outcome is not None:
            with self._lock:
                watch.last_success, watch.last_applied, watch.lag = time.time(), outcome.chain_sha, 0
            if outcome.committed and pipe.engine is not None:
                self._ping(key, pipe, target, outcome)
        elif isinstance(error, REFUSED):
            self._count_refusal(key, watch, error, chain_repo)
        if refused or outcome is not None:
            self._record(key, pipe, target, started, outcome, error, chain_repo)
        self._alert(key, pipe, watch, outcome, error)

    def _count_refusal(
        self, key: NodeKey, watch: NodeWatch, error: ReceiptRefused | ReconcileRefused, chain_repo: Path
    ) -> None:
        rule = refusal_of(error, "")["rule"]
        lag = watch.lag
        try:
            if watch.last_applied:
                lag = len(
                    git.run(
                        chain_repo, "rev-list", "--first-parent", f"{watch.last_applied}..{error.chain_sha}"
                    ).split()
                )
        except CloudConfigError:
            pass
        with self._lock:
            self.refusals[(key[0], rule)] = self.refusals.get((key[0], rule), 0) + 1
            watch.lag = lag

    def _record(
        self,
        key: NodeKey,
        pipe: Pipeline,
        target: Target,
        started: str,
        outcome: Outcome | None,
        error: BaseException | None,
        chain_repo: Path,
    ) -> None:
        settings = pipe.records
        if settings is None:
            return
        watch = self.nodes[key]
        try:
            if outcome is not None:
                chain_sha = outcome.chain_sha
                result, refusal = ("applied" if outcome.committed else "up-to-date"), None
            else:
                assert isinstance(error, REFUSED)
                chain_sha = error.chain_sha
                result, refusal = "refused", refusal_of(error, chain_sha)
                refusal["message"] = redact(refusal["message"])
            with self._lock:
                sync = dict(watch.sync)
            record = build_record(
                target, self.config.workdir, result, started, (chain_repo, chain_sha), refusal, sync
            )
            sha = push_record(record, settings, self.config.workdir)
        except (CloudConfigError, OSError, ValueError) as exc:
            with self._lock:
                watch.record_failures += 1
                watch.record_pending = True
            log.warning("%s/%s: status record not written (retried next run): %s", *key, redact(str(exc)))
            return
        with self._lock:
            watch.record_pushes += 1
            watch.record_pending = False
            watch.last_record = sha
            if record.cert_not_after:
                watch.cert_expiry = calendar.timegm(
                    time.strptime(record.cert_not_after, "%Y-%m-%dT%H:%M:%SZ")
                )
        log.info("%s/%s: status record %s (%s)", key[0], key[1], sha[:12], record.result)

    def _ping(self, key: NodeKey, pipe: Pipeline, target: Target, outcome: Outcome) -> None:
        engine = pipe.engine
        assert engine is not None
        watch = self.nodes[key]
        node_dir = _cache_dir(self.config.workdir, target) / "node"
        try:
            before = git.rev_parse(node_dir, f"{outcome.node_sha}^")
        except CloudConfigError:
            before = "0" * 40
        body = push_event(target.node_repo, target.node_branch, before, outcome.node_sha, outcome.written)
        started = time.monotonic()
        try:
            code = ping(engine, body)
        except CloudConfigError as exc:
            code, reason = 0, str(exc)
        else:
            reason = f"HTTP {code}"
        with self._lock:
            watch.pings += 1
            watch.last_ping_seconds = time.monotonic() - started
            if not 200 <= code < 300:
                watch.ping_failures += 1
        if 200 <= code < 300:
            log.info("%s/%s: %s notified of %s", key[0], key[1], engine.kind, outcome.node_sha[:12])
        else:
            log.warning("%s/%s: %s ping failed: %s", key[0], key[1], engine.kind, redact(reason))

    def _alert(
        self,
        key: NodeKey,
        pipe: Pipeline,
        watch: NodeWatch,
        outcome: Outcome | None,
        error: BaseException | None,
    ) -> None:
        with self._lock:
            first_failure = outcome is None and not watch.failing
            watch.failing = outcome is None
        refused = isinstance(error, REFUSED)
        if not pipe.alert_url or not (refused or first_failure):
            return
        what = "refused" if refused else "failed"
        text = f"cloud-config {key[0]}/{key[1]}: reconcile {what}: {redact(str(error))}"[:1000]
        try:
            code = post_text(pipe.alert_url, text)
        except CloudConfigError as exc:
            log.warning("%s/%s: alert not sent: %s", *key, redact(str(exc)))
            return
        with self._lock:
            watch.alerts += 1
        log.info("%s/%s: alert sent (HTTP %s)", key[0], key[1], code)

    # ---- sync reports ------------------------------------------------------------------

    def notify(self, engine: str, pipeline: str, headers: Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        """A sync report from Argo CD or Flux (already size-checked); (HTTP status, JSON reply).

        Raises WebhookAuthError (401) or WebhookPayloadError (400)."""
        pipe = self.config.pipelines.get(pipeline)
        if pipe is None:
            return 404, {"error": f"no pipeline named {pipeline!r}"}
        check_notify(engine, headers, body, pipe.notify_secret)
        name, sync = read_sync(engine, body)
        target = next((t for t in pipe.targets if name == t.domain or name.endswith(f"-{t.domain}")), None)
        if target is None:
            return 202, {"ignored": f"{name!r} is none of this pipeline's nodes"}
        with self._lock:
            self.nodes[(pipeline, target.domain)].sync = sync
        log.info(
            "%s/%s: %s reports %s at %s",
            pipeline,
            target.domain,
            engine,
            sync["health"],
            sync["revision"][:12],
        )
        return 202, {"domain": target.domain, "sync": sync}

    # ---- figures -----------------------------------------------------------------------

    def snapshot(self) -> tuple[dict[NodeKey, NodeWatch], dict[tuple[str, str], int]]:
        """Copies of the per-node figures and the refusals by (pipeline, rule)."""
        with self._lock:
            return {k: NodeWatch(**vars(v)) for k, v in self.nodes.items()}, dict(self.refusals)


def stamp() -> str:
    """Now, as runs and records are stamped."""
    return now()
