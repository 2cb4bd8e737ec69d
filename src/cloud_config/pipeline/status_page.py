"""The status page `serve` answers at `/`: server-rendered HTML, inline CSS and SVG, no script,
no external asset; it reloads itself every REFRESH_SECONDS.

Shown: the chain (head, stage, validators, members), a topology picture (members -> clusters ->
nodes), the consortium's status table (status_view) and this member's recent pipeline runs. It
holds only what the chain repo and the status records already publish: no secret, no repo
credential (URLs go through `redact`).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from cloud_config.pipeline.status_view import Consortium

REFRESH_SECONDS = 10
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}
th{background:#f0f0f0} .bad{background:#fde2e2} .ok{background:#e5f5e5} .none{color:#888}
code{font-size:.85rem}
"""


def _cell(text: object, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<td{cls}>{escape(str(text))}</td>"


def _topology(consortium: Consortium, clusters: Mapping[str, str]) -> str:
    """members -> clusters -> nodes, three columns of boxes joined by lines."""
    members = [m for m in consortium.members if m[2]] or [
        ("?", "member", [r.domain for r in consortium.rows])
    ]
    nodes = [r.domain for r in consortium.rows]
    cluster_names = sorted({clusters.get(d, "") or "default" for d in nodes})
    row_h, width = 34, 720
    height = max(len(members), len(cluster_names), len(nodes), 1) * row_h + 20
    ys = {}
    svg = 'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="topology"'
    parts = [f'<svg {svg} width="{width}" height="{height}">']

    def box(x: int, y: int, label: str, fill: str) -> None:
        parts.append(f'<rect x="{x}" y="{y}" width="180" height="24" rx="4" fill="{fill}" stroke="#555"/>')
        parts.append(f'<text x="{x + 8}" y="{y + 16}" font-size="12">{escape(label)}</text>')

    for i, (name, role, _domains) in enumerate(members):
        ys[("m", name)] = 10 + i * row_h
        box(10, ys[("m", name)], f"{name} ({role})", "#e8eefc")
    for i, cluster in enumerate(cluster_names):
        ys[("c", cluster)] = 10 + i * row_h
        box(270, ys[("c", cluster)], f"cluster {cluster}", "#f4f4f4")
    state = {r.domain: r for r in consortium.rows}
    for i, domain in enumerate(nodes):
        ys[("n", domain)] = 10 + i * row_h
        row = state[domain]
        fill = (
            "#e5f5e5"
            if row.record and row.record.result != "refused" and not row.digest_differs
            else "#fde2e2"
        )
        box(530, ys[("n", domain)], domain, fill if row.record else "#eeeeee")
        y_c, y_n = ys[("c", clusters.get(domain, "") or "default")] + 12, ys[("n", domain)] + 12
        parts.append(f'<line x1="450" y1="{y_c}" x2="530" y2="{y_n}" stroke="#888"/>')
    for name, _role, domains in members:
        for domain in domains:
            if ("n", domain) not in ys:
                continue
            cluster = clusters.get(domain, "") or "default"
            y_m, y_c = ys[("m", name)] + 12, ys[("c", cluster)] + 12
            parts.append(f'<line x1="190" y1="{y_m}" x2="270" y2="{y_c}" stroke="#888"/>')
    parts.append("</svg>")
    return "".join(parts)


def _status_table(consortium: Consortium) -> str:
    head = "".join(f"<th>{h}</th>" for h in
                   ("Node", "Owner", "Applied chain commit", "Behind", "Result", "Cluster sync", "Digest",
                    "Cert days left", "Record age (s)"))  # fmt: skip
    rows = []
    for row in consortium.rows:
        r = row.record
        if r is None:
            rows.append(f'<tr data-domain="{escape(row.domain)}">{_cell(row.domain)}{_cell(row.owner or "-")}'
                        f'<td class="none" colspan="7">no record</td></tr>')  # fmt: skip
            continue
        bad = r.result == "refused" or row.digest_differs or row.lag != 0
        result = r.result + (f" ({r.refusal.get('rule', '?')})" if r.result == "refused" else "")
        sync = f"{r.sync.get('health', '?')} @ {r.sync.get('revision', '?')[:12]}" if r.sync else "-"
        rows.append(
            f'<tr data-domain="{escape(row.domain)}" class="{"bad" if bad else "ok"}">'
            + _cell(row.domain) + _cell(row.owner or "-")
            + f'<td><code class="applied">{escape(r.chain_commit)}</code></td>'
            + _cell("?" if row.lag is None else row.lag) + _cell(result) + _cell(sync)
            + _cell(r.digest.removeprefix("sha256:")[:16] + (" (differs)" if row.digest_differs else ""))
            + _cell("-" if row.cert_days is None else row.cert_days)
            + _cell("-" if row.age_seconds is None else row.age_seconds)
            + "</tr>"
        )  # fmt: skip
    return f'<table id="status"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _runs_table(runs: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for pipe, nodes in sorted(runs.items()):
        for domain, info in sorted(nodes.items()):
            last = info.get("last") or {}
            rows.append(
                "<tr>" + _cell(pipe) + _cell(domain) + _cell(info.get("state", "?"))
                + _cell(info.get("runs", 0))
                + _cell(last.get("result", "-")) + _cell((last.get("chain_sha") or "-")[:12])
                + _cell(last.get("time", "-")) + _cell(last.get("error") or "") + "</tr>"
            )  # fmt: skip
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Pipeline", "Node", "State", "Runs", "Last result", "Chain", "Time", "Error")
    )
    return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def render_page(
    consortium: Consortium | None, runs: Mapping[str, Mapping[str, Any]], problem: str = ""
) -> str:
    """The whole page. `consortium` None (with `problem`) when the chain repo could not be read."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        f"<title>cloud-config status</title><style>{_CSS}</style></head><body>",
        "<h1>Chain status</h1>",
    ]
    if consortium is None:
        parts.append(f'<p class="bad">chain repo not readable: {escape(problem)}</p>')
    else:
        validators = ", ".join(v[:12] for v in consortium.validators) or "none"
        members = ", ".join(f"{n} ({r})" for n, r, _ in consortium.members) or "none listed"
        parts += [
            f"<p>Head <code id=head>{escape(consortium.chain_head)}</code>"
            f" - stage <b>{escape(consortium.stage)}</b>"
            f" - validators: {escape(validators)} - members: {escape(members)}</p>",
            "<h2>Topology</h2>", _topology(consortium, consortium.clusters),
            "<h2>Who has applied what</h2>", _status_table(consortium),
        ]  # fmt: skip
        if consortium.ignored:
            parts.append(
                "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in consortium.ignored) + "</ul>"
            )
    parts += ["<h2>This member's pipeline runs</h2>", _runs_table(runs), "</body></html>"]
    return "\n".join(parts) + "\n"
