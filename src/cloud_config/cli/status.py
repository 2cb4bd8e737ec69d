"""The `status` verb: who has applied what, from the chain repo's signed status records."""

from __future__ import annotations

import argparse
from typing import Any

from cloud_config.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    """Add this group's verbs."""
    p = add_command(
        sub,
        "status",
        "show which chain commit every node applied (signed status records); exit 1 when one lags",
        run_status,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--repo", default=None, help="a chain repository on disk (default: the current folder)"
    )
    where.add_argument("--remote", default=None, help="the chain repo's URL")
    p.add_argument("--branch", default="master", help="the chain's branch (default: %(default)s)")
    p.add_argument(
        "--status-repo", default=None, help="where the records are, when not in the chain repo (URL or path)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output (default: %(default)s)")
    p.add_argument(
        "--max-lag",
        type=_count,
        default=0,
        help="first-parent steps a node may be behind the chain head (default: %(default)s)",
    )
    p.add_argument("--require-records", action="store_true", help="fail when a node has no record")


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def run_status(args: argparse.Namespace) -> int:
    """status."""
    import tempfile
    from pathlib import Path

    from cloud_config.pipeline.status_view import load, mirror

    source = args.remote or args.repo or "."
    with tempfile.TemporaryDirectory(prefix="cloud-config-status-") as tmp:
        bare = mirror(source, Path(tmp), args.branch, args.status_repo)
        consortium = load(bare, args.branch)
    if args.format == "json":
        import json

        print(json.dumps(consortium.to_json(args.max_lag, args.require_records), indent=2, sort_keys=True))
    else:
        print(render_text(consortium, args.max_lag, args.require_records), end="")
    return 1 if consortium.failing(args.max_lag, args.require_records) else 0


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render_text(consortium: Any, max_lag: int, require_records: bool) -> str:
    """The table `status` prints."""
    rows = [("DOMAIN", "OWNER", "APPLIED", "LAG", "RESULT", "SYNC", "DIGEST", "CERT", "AGE")]
    for row in consortium.rows:
        r = row.record
        if r is None:
            rows.append((row.domain, row.owner or "-", "-", "-", "no record", "-", "-", "-", "-"))
            continue
        result = r.result + (f" ({r.refusal.get('rule', '?')})" if r.result == "refused" else "")
        sync = f"{r.sync.get('health', '?')}@{r.sync.get('revision', '?')[:7]}" if r.sync else "-"
        digest = r.digest.removeprefix("sha256:")[:12] + (" DIFFERS" if row.digest_differs else "")
        cert = "-" if row.cert_days is None else f"{row.cert_days}d"
        lag = "?" if row.lag is None else str(row.lag)
        rows.append(
            (
                row.domain,
                row.owner or "-",
                r.chain_commit[:12],
                lag,
                result,
                sync,
                digest,
                cert,
                _age(row.age_seconds),
            )
        )
    widths = [max(len(line[i]) for line in rows) for i in range(len(rows[0]))]
    out = [f"chain {consortium.chain_head[:12]} ({consortium.stage}), {len(consortium.rows)} nodes"]
    out += ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in rows]
    out += [f"note: {consortium.note}"] if consortium.note else []
    out += [f"ignored: {line}" for line in consortium.ignored]
    out += [f"FAIL {line}" for line in consortium.failing(max_lag, require_records)]
    return "\n".join(out) + "\n"
