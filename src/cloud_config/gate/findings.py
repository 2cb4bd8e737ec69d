"""Findings are values: what a rule found, where, and how bad; plus the report's three formats."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
JSON_VERSION = 1

# Every rule id, with what it guards (docs/verify.md lists the same ids).
RULES: dict[str, str] = {
    "stale-branch": "head is behind base; the verdict is for the merge result (warning)",
    "merge-conflict": "head merges into base without a conflict (git merge-tree, as the forge merges)",
    "unrelated-history": "head and base share history",
    "merge-changes": "a merge whose tree is not the clean merge of its parents is signed by a member; "
    "no octopus merge",
    "members-missing": "members.toml exists at the base (warning; an error with --require-members "
    "and on receipt with require_members)",
    "unknown-field": "chain_config.toml and members.toml hold only the keys the model knows",
    "schema": "chain_config.toml at head loads and every field is valid for the consensus in use",
    "duplicate-domain": "no two nodes share a domain",
    "duplicate-endpoint": "no two nodes share host:port",
    "duplicate-validator": "no validator address is listed twice",
    "stage-backwards": "the stage only moves forward (Init -> Public -> Finalize)",
    "genesis-frozen": "after Finalize, genesis_block and system_config do not change",
    "validators-frozen": "after Finalize, the validator list does not change",
    "secret-committed": "no private key, account folder or CA key in the tree or the PR's commits",
    "gitignore-weakened": ".gitignore still lists accounts/*/, ca_cert/key.pem, certs/*/key.pem",
    "ca-invalid": "ca_cert/cert.pem is a usable CA certificate",
    "ca-changed": "once node certificates exist, the CA changes only by rotate-ca's begin and finish phases",
    "ca-rotation": "during a CA rotation every added or changed node certificate is the newer CA's",
    "csr-invalid": "each certs/<d>/csr.pem is a valid CSR naming exactly {chain}-<d> (+ the node's host)",
    "cert-not-from-ca": "each certs/<d>/cert.pem is issued by ca_cert/cert.pem",
    "cert-wrong-name": "each certs/<d>/cert.pem names exactly {chain}-<d> (+ the node's host)",
    "cert-basic-constraints": "a new or changed certificate has basicConstraints CA:false (a warning "
    "for one already on the base)",
    "cert-stale-host": "a CSR or certificate the change keeps names the node's former host (warning)",
    "cert-key-mismatch": "each certificate holds the public key of its CSR",
    "cert-invalid": "each certs/<d>/cert.pem parses and is valid now",
    "cert-expired": "no certs/<d>/cert.pem is past its not-after (renew-cert)",
    "cert-expiring": "each certs/<d>/cert.pem has 30 days or more left (warning)",
    "validators-removed": "one change removes less than a third of the validators",
    "validators-few": "overlord has 4+ validators (warning); a Finalized chain has at least 1",
    "departed-cert": "no certificate left for a node that is not in the node list",
    "departure-incomplete": "a member removed from members.toml leaves no node, CSR, certificate or "
    "(before Finalize) validator behind",
    "members-invalid": "members.toml loads and is consistent",
    "unsigned-commit": "every non-merge commit carries a valid SSH signature",
    "unknown-signer": "every commit is signed by a key of members.toml at the base revision",
    "key-added-in-pr": "a commit is not signed by a key that the same PR adds to members.toml",
    "not-owner": "a member changes only its own nodes, CSRs and validators",
    "admin-only": "stage, system config, genesis, images, CA, certificates, members.toml",
    "approvals-missing": "each kind of change has the approvals [policy.approvals] of the base asks for",
    "image-unpinned": "every service image tag carries a digest (warning; error with --require-digests)",
}


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: rule id, severity, file, message, and the field inside the file."""

    rule: str
    severity: str
    path: str
    message: str
    field: str = ""

    def sort_key(self) -> tuple[int, str, str, str, str]:
        """Errors first, then by file, field, rule and message."""
        return (0 if self.severity == ERROR else 1, self.path, self.field, self.rule, self.message)


@dataclass
class Report:
    """The outcome of `verify`: the revisions compared and the sorted findings."""

    base: str
    head: str
    chain_name: str
    findings: list[Finding] = field(default_factory=list)
    # kind -> {"required", "have", "approvers", "candidates"} (gate.approvals.Approvals.to_dict)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.findings = sorted(set(self.findings), key=Finding.sort_key)

    @property
    def errors(self) -> int:
        """How many findings are errors."""
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        """How many findings are warnings."""
        return len(self.findings) - self.errors

    @property
    def passed(self) -> bool:
        """Whether nothing blocks the merge."""
        return self.errors == 0


def render_text(report: Report) -> str:
    """One line per finding, then a summary line."""
    lines = [
        f"{f.severity}: {f.path}{': ' + f.field if f.field else ''}: {f.message} [{f.rule}]"
        for f in report.findings
    ]
    verdict = "passed" if report.passed else "FAILED"
    lines.append(
        f"verify {report.base[:12]}..{report.head[:12]}: {verdict} "
        f"({report.errors} error(s), {report.warnings} warning(s))"
    )
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    """The documented, stable JSON form (docs/verify.md)."""
    doc = {
        "version": JSON_VERSION,
        "base": report.base,
        "head": report.head,
        "chain_name": report.chain_name,
        "passed": report.passed,
        "errors": report.errors,
        "warnings": report.warnings,
        "findings": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "path": f.path,
                "field": f.field,
                "message": f.message,
            }
            for f in report.findings
        ],
        "approvals": report.approvals,
    }
    return json.dumps(doc, indent=2) + "\n"


def render_markdown(report: Report) -> str:
    """A PR comment: a verdict line, then a table of findings."""
    icon = ":white_check_mark:" if report.passed else ":x:"
    verdict = "passed" if report.passed else "failed"
    lines = [
        f"### {icon} cloud-config verify {verdict}",
        "",
        f"`{report.base[:12]}..{report.head[:12]}` on chain `{report.chain_name}`: "
        f"**{report.errors} error(s)**, {report.warnings} warning(s).",
        "",
    ]
    if report.findings:
        lines += ["| | rule | file | field | finding |", "|---|---|---|---|---|"]
        for f in report.findings:
            mark = ":x:" if f.severity == ERROR else ":warning:"
            lines.append(f"| {mark} | `{f.rule}` | `{f.path}` | {_cell(f.field)} | {_cell(f.message)} |")
        lines.append("")
    if report.approvals:
        lines += ["#### Approvals", "", approvals_markdown(report.approvals)]
    return "\n".join(lines)


def approvals_markdown(approvals: dict[str, dict[str, Any]]) -> str:
    """The approvals table of a PR comment: one row per kind of change the policy names."""
    lines = ["| | kind | have / required | approved by | can still approve |", "|---|---|---|---|---|"]
    for kind, t in approvals.items():
        mark = ":white_check_mark:" if t["have"] >= t["required"] else ":hourglass:"
        who, others = ", ".join(t["approvers"]) or "-", ", ".join(t["candidates"]) or "-"
        lines.append(f"| {mark} | {kind} | {t['have']} / {t['required']} | {who} | {others} |")
    return "\n".join([*lines, ""])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


FORMATS = {"text": render_text, "json": render_json, "markdown": render_markdown}
