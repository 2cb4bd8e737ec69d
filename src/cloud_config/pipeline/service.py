"""The webhook service: chain-repo pushes in, coalesced reconciles of the node repos out.

POST /hooks/<pipeline>   a signed push event; 401 bad signature, 413 too big, 202 accepted
GET  /healthz            "ok"
GET  /status             JSON: per node the last run (chain sha, result, node commit, duration, time,
                         a receipt refusal's rule and step, warnings)
GET  /metrics            Prometheus text format (refusals by rule, too)
GET  /                   the status page (pipeline.status_page)
POST /notify/argocd/<pipeline>, /notify/flux/<pipeline>   sync reports from the delivery engine
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config.errors import CloudConfigError
from cloud_config.pipeline.chain_source import ChainSource
from cloud_config.pipeline.coalesce import Coalescer
from cloud_config.pipeline.receipt import ReceiptCache, ReceiptRefused
from cloud_config.pipeline.reconcile import Outcome, Target, reconcile, redact, shared_chain
from cloud_config.pipeline.service_config import ServiceConfig
from cloud_config.pipeline.status_hooks import StatusHooks
from cloud_config.pipeline.webhooks import (
    Headers,
    WebhookAuthError,
    WebhookPayloadError,
    pushed_branch,
    verify,
)

log = logging.getLogger("cloud_config.serve")
Reconciler = Callable[[Target, Path], Outcome]
NodeKey = tuple[str, str]  # (pipeline, domain)
SHUTDOWN_WAIT = 60.0
PAGE_CACHE_SECONDS = 3.0


@dataclass
class LastRun:
    """The last finished reconcile of one node."""

    chain_sha: str | None
    result: str
    node_commit: str | None
    seconds: float
    time: str
    error: str | None = None
    refusal: dict[str, str] | None = None  # the receipt check's refused step: rule, commit, message
    warnings: list[str] = field(default_factory=list)


@dataclass
class Counters:
    """Metrics of one node."""

    runs: int = 0
    failures: int = 0
    commits: int = 0
    seconds: float = 0.0


class Service:
    """What the HTTP layer calls; holds the queue, the last results and the counters."""

    def __init__(self, config: ServiceConfig, reconciler: Reconciler | None = None) -> None:
        self.config = config
        self._reconcile: Reconciler | None = reconciler
        # One receipt check per pipeline, push and starting point, shared by its nodes.
        self.receipts = {name: ReceiptCache() for name in config.pipelines}
        # One chain fetch per push, one snapshot and one parse per chain commit, shared by the
        # nodes of every pipeline watching that chain repo's branch.
        sources: dict[tuple[str, str], ChainSource] = {}
        for p in config.pipelines.values():
            key = (p.chain_repo, p.branch)
            sources.setdefault(key, shared_chain(config.workdir, *key))
        self.chains = {name: sources[(p.chain_repo, p.branch)] for name, p in config.pipelines.items()}
        self._targets: dict[NodeKey, Target] = {
            (p.name, t.domain): t for p in config.pipelines.values() for t in p.targets
        }
        self._last: dict[NodeKey, LastRun] = {}
        self._counters: dict[NodeKey, Counters] = {key: Counters() for key in self._targets}
        self._hooks: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        # Bounds the git and render work running at once, however many nodes a push wakes.
        self._slots = threading.BoundedSemaphore(config.max_parallel)
        self.queue: Coalescer[NodeKey] = Coalescer(self._run)
        self.hooks = StatusHooks(config, list(self._targets), self.chains)
        self._page_lock = threading.Lock()
        self._page_cache: tuple[float, Any] = (0.0, None)

    def push(self, pipeline: str, headers: Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        """Handle one webhook whose size was already checked: (HTTP status, JSON reply)."""
        pipe = self.config.pipelines.get(pipeline)
        if pipe is None:
            return self._hook(pipeline, 404, {"error": f"no pipeline named {pipeline!r}"})
        try:
            forge = verify(headers, body, pipe.secret)
            branch, after = pushed_branch(body)
        except WebhookAuthError as exc:
            log.warning("pipeline %s: webhook refused: %s", pipeline, exc)
            return self._hook(pipeline, 401, {"error": str(exc)})
        except WebhookPayloadError as exc:
            return self._hook(pipeline, 400, {"error": str(exc)})
        if branch != pipe.branch:
            return self._hook(pipeline, 202, {"ignored": f"not a push to {pipe.branch}", "forge": forge})
        if after is not None and set(after) == {"0"}:
            return self._hook(pipeline, 202, {"ignored": f"{pipe.branch} was deleted", "forge": forge})
        asked = time.monotonic_ns()  # one time for all its nodes: they share the fetch after it
        queued = {t.domain: self.queue.submit((pipeline, t.domain), asked).value for t in pipe.targets}
        log.info(
            "pipeline %s: push %s to %s from %s; %s", pipeline, (after or "?")[:12], branch, forge, queued
        )
        return self._hook(pipeline, 202, {"queued": queued, "forge": forge})

    def refuse(self, pipeline: str, code: int, reason: str) -> tuple[int, dict[str, Any]]:
        """Count a webhook refused before it reached `push` (its body was not read)."""
        return self._hook(pipeline, code, {"error": reason})

    def _hook(self, pipeline: str, code: int, reply: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        known = pipeline if pipeline in self.config.pipelines else "-"
        with self._lock:
            self._hooks[(known, code)] = self._hooks.get((known, code), 0) + 1
        return code, reply

    def _run(self, key: NodeKey, asked: int) -> None:
        with self._slots:
            self._run_one(key, asked)

    def _run_one(self, key: NodeKey, asked: int) -> None:
        started = time.monotonic()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        outcome: Outcome | None = None
        error: BaseException | None = None
        target = self._targets[key]
        try:
            if self._reconcile is not None:
                outcome = self._reconcile(target, self.config.workdir)
            else:
                outcome = reconcile(
                    target,
                    self.config.workdir,
                    receipts=self.receipts[key[0]],
                    chain=self.chains[key[0]],
                    asked=asked,
                )
        except ReceiptRefused as exc:
            why = exc.refusal
            refusal = {"rule": why.rule, "commit": why.commit, "message": why.message}
            last = LastRun(
                exc.chain_sha, "refused", None, time.monotonic() - started, stamp, str(exc), refusal
            )
            error = exc
            log.error("%s/%s: %s", key[0], key[1], exc)
        except CloudConfigError as exc:
            error = exc
            last = LastRun(None, "failed", None, time.monotonic() - started, stamp, str(exc))
            log.error("%s/%s: %s", key[0], key[1], exc)
        except Exception as exc:  # a bug must not kill the service's worker
            error = exc
            last = LastRun(
                None, "failed", None, time.monotonic() - started, stamp, f"unexpected {type(exc).__name__}"
            )
            # The traceback goes through redact too: a bug's message may hold a repo URL.
            trace = "".join(traceback.format_exception(exc)).rstrip("\n")
            log.error("%s/%s: unexpected error\n%s", key[0], key[1], redact(trace))
        else:
            result = "committed" if outcome.committed else "up to date"
            last = LastRun(
                outcome.chain_sha, result, outcome.node_sha, outcome.seconds, stamp, warnings=outcome.warnings
            )
            log.info("%s/%s: %s", key[0], key[1], outcome.line())
            for warning in outcome.warnings:
                log.warning("%s/%s: %s", key[0], key[1], warning)
        with self._lock:
            self._last[key] = last
            counters = self._counters[key]
            counters.runs += 1
            counters.failures += last.result in ("failed", "refused")
            counters.commits += last.result == "committed"
            counters.seconds += last.seconds
        self.hooks.after_run(key, target, stamp, outcome, error)

    def status(self) -> dict[str, Any]:
        """Per pipeline, per node: the queue state and the last run."""
        out: dict[str, Any] = {}
        with self._lock:
            for (pipe, domain), target in self._targets.items():
                last = self._last.get((pipe, domain))
                out.setdefault(pipe, {})[domain] = {
                    "node_repo": redact(target.node_repo),
                    "state": self.queue.state((pipe, domain)).value,
                    "runs": self._counters[(pipe, domain)].runs,
                    "last": None if last is None else vars(last),
                }
        watches, _ = self.hooks.snapshot()
        for (pipe, domain), w in watches.items():
            out[pipe][domain]["sync"] = w.sync or None
            out[pipe][domain]["status_record"] = {
                "last": w.last_record, "pushes": w.record_pushes, "failures": w.record_failures,
                "pending": w.record_pending,
            }  # fmt: skip
        return out

    def metrics(self) -> str:
        """Prometheus text exposition of the counters."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, rows: list[tuple[dict[str, str], float]]) -> None:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
            lines.extend(f"{name}{_labels(labels)} {_number(value)}" for labels, value in rows)

        with self._lock:
            nodes = [({"pipeline": p, "domain": d}, c) for (p, d), c in sorted(self._counters.items())]
            hooks = sorted(self._hooks.items())
            checks = [(name, cache.checks) for name, cache in sorted(self.receipts.items())]
        family(
            "cloud_config_reconcile_runs_total", "counter", "Reconciles run.", [(k, c.runs) for k, c in nodes]
        )
        family(
            "cloud_config_reconcile_failures_total",
            "counter",
            "Reconciles that failed.",
            [(k, c.failures) for k, c in nodes],
        )
        family(
            "cloud_config_reconcile_commits_total",
            "counter",
            "Reconciles that pushed a commit.",
            [(k, c.commits) for k, c in nodes],
        )
        lines.extend(
            [
                "# HELP cloud_config_reconcile_duration_seconds Time spent reconciling.",
                "# TYPE cloud_config_reconcile_duration_seconds summary",
            ]
        )
        for labels, c in nodes:
            lines.append(f"cloud_config_reconcile_duration_seconds_sum{_labels(labels)} {_number(c.seconds)}")
            lines.append(f"cloud_config_reconcile_duration_seconds_count{_labels(labels)} {c.runs}")
        family(
            "cloud_config_webhooks_total",
            "counter",
            "Webhook requests by pipeline and HTTP status.",
            [({"pipeline": p, "code": str(code)}, n) for (p, code), n in hooks],
        )
        watches, refusals = self.hooks.snapshot()
        per_node = [({"pipeline": p, "domain": d}, w) for (p, d), w in sorted(watches.items())]
        family("cloud_config_node_lag_commits", "gauge",
               "First-parent chain commits the node is behind what this pipeline last saw.",
               [(k, w.lag) for k, w in per_node])  # fmt: skip
        family("cloud_config_node_last_success_timestamp_seconds", "gauge",
               "When the node's last reconcile succeeded (Unix time).",
               [(k, w.last_success) for k, w in per_node if w.last_success is not None])  # fmt: skip
        family("cloud_config_node_cert_expiry_timestamp_seconds", "gauge",
               "The node certificate's not-after (Unix time), as its last status record holds it.",
               [(k, w.cert_expiry) for k, w in per_node if w.cert_expiry is not None])  # fmt: skip
        family("cloud_config_receipt_refusals_total", "counter",
               "Chains refused by pipeline and rule: the receipt check's rules, `render` when a head "
               "that passed cannot be rendered.",
               [({"pipeline": p, "rule": r}, n) for (p, r), n in sorted(refusals.items())])  # fmt: skip
        family("cloud_config_receipt_checks_total", "counter",
               "Receipt checks run (one per push and starting point, shared by the nodes).",
               [({"pipeline": p}, n) for p, n in checks])  # fmt: skip
        family("cloud_config_status_push_failures_total", "counter", "Status records not pushed.",
               [(k, w.record_failures) for k, w in per_node])  # fmt: skip
        family("cloud_config_status_pushes_total", "counter", "Status records pushed.",
               [(k, w.record_pushes) for k, w in per_node])  # fmt: skip
        family("cloud_config_engine_pings_total", "counter", "Delivery-engine pings sent after a push.",
               [(k, w.pings) for k, w in per_node])  # fmt: skip
        family("cloud_config_engine_ping_failures_total", "counter", "Delivery-engine pings that failed.",
               [(k, w.ping_failures) for k, w in per_node])  # fmt: skip
        return "\n".join(lines) + "\n"

    def page(self) -> str:
        """The status page (the first pipeline's chain repo, read at most every PAGE_CACHE_SECONDS)."""
        from cloud_config.pipeline.status_page import render_page
        from cloud_config.pipeline.status_view import load, mirror

        pipe = next(iter(self.config.pipelines.values()))
        records = pipe.records.repo if pipe.records else None
        with self._page_lock:
            stamp, cached = self._page_cache
            if cached is None or time.monotonic() - stamp > PAGE_CACHE_SECONDS:
                try:
                    bare = mirror(pipe.chain_repo, self.config.workdir / "status-view", pipe.branch, records)
                    cached = (load(bare, pipe.branch), "")
                except (CloudConfigError, OSError) as exc:
                    cached = (None, redact(str(exc)))
                self._page_cache = (time.monotonic(), cached)
        return render_page(cached[0], self.status(), cached[1])

    def close(self, timeout: float = SHUTDOWN_WAIT) -> bool:
        """Stop taking work; wait for the running reconciles."""
        return self.queue.close(timeout)


def _labels(labels: Mapping[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise CloudConfigError(f"listen address {listen!r}: expected host:port, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "127.0.0.1", int(port)
