"""The approval policy in `members.toml`: how many members must approve each kind of change.

Layout (docs/members.md)::

    [policy.approvals]
    validator = 2          # that many distinct members (the author counts when a member)
    node = "1/2"           # at least ceil(1/2 x number of members)
    members = "admins"     # every admin

A kind that the table does not name needs no approval beyond its author's signature (in its lane).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloud_config.model.schema import Reader

# The kinds of change a policy can name, in the order reports list them.
KINDS = ("node", "csr", "cert", "validator", "stage", "system", "ca", "members", "other")
# The closed schema: the tables [policy] may hold.
POLICY_TABLES = ("approvals",)
ADMINS = "admins"
_FRACTION = re.compile(r"^\s*(\d{1,4})\s*/\s*(\d{1,4})\s*$")
_MAX_COUNT = 10_000


@dataclass(frozen=True)
class Threshold:
    """One kind's rule, as written: a count (int), a fraction ("k/n") or "admins"."""

    value: int | str

    @classmethod
    def parse(cls, value: object) -> Threshold:
        """The threshold `value` stands for.

        Raises:
            ValueError: naming what a threshold may be.
        """
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= _MAX_COUNT:
                raise ValueError(f"a count of members must be 1-{_MAX_COUNT}, got {value}")
            return cls(value)
        if isinstance(value, str):
            if value == ADMINS:
                return cls(value)
            match = _FRACTION.match(value)
            if match:
                k, n = int(match.group(1)), int(match.group(2))
                if 1 <= k <= n:
                    return cls(f"{k}/{n}")
                raise ValueError(f"a fraction 'k/n' needs 1 <= k <= n, got {value!r}")
        shown = f"{value!r}" if isinstance(value, str) else type(value).__name__
        raise ValueError(f'must be a count (2), a fraction ("2/3") or "admins", got {shown}')

    @property
    def is_admins(self) -> bool:
        """Whether every admin must approve."""
        return self.value == ADMINS

    def eligible(self, names: Sequence[str], admins: Sequence[str]) -> list[str]:
        """Whose approvals count towards this threshold: every member, or the admins."""
        return list(admins if self.is_admins else names)

    def required(self, members: int, admins: int) -> int:
        """How many approvals it takes with `members` members of whom `admins` are admins."""
        if self.is_admins:
            return admins
        if isinstance(self.value, int):
            return self.value
        k, n = (int(part) for part in self.value.split("/"))
        return -(-k * members // n)  # ceil(k/n x members), in integers

    def describe(self, members: int, admins: int) -> str:
        """The rule in words: '2 of 3 members', '2/3 of 3 members (2)', 'every admin (2)'."""
        need = self.required(members, admins)
        if self.is_admins:
            return f"every admin ({need})"
        if isinstance(self.value, int):
            return f"{need} of {members} members"
        return f"{self.value} of {members} members ({need})"

    def __str__(self) -> str:
        return str(self.value)


@dataclass
class Policy:
    """`[policy]` of members.toml: the approvals each kind of change needs (absent kinds: none)."""

    approvals: dict[str, Threshold] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, r: Reader, data: Mapping[str, Any]) -> Policy:
        """Read the `policy` table of parsed members.toml (absent: no policy)."""
        table = r.table(data, "policy", "policy")
        r.known(table, POLICY_TABLES, "policy")
        approvals = r.table(table, "approvals", "policy.approvals")
        r.known(approvals, KINDS, "policy.approvals")  # an unknown kind of change is an unknown field
        out: dict[str, Threshold] = {}
        for kind, value in approvals.items():
            where = f"policy.approvals.{kind}"
            try:
                out[kind] = Threshold.parse(value)
            except ValueError as exc:
                raise r.fail(where, str(exc)) from None
        return cls({kind: out[kind] for kind in KINDS if kind in out})

    def to_dict(self) -> dict[str, Any]:
        """The `policy` table as members.toml holds it; empty when there is no rule."""
        if not self.approvals:
            return {}
        return {"approvals": {kind: t.value for kind, t in self.approvals.items()}}

    def problems(self, members: int, admins: int) -> Iterator[tuple[str, str]]:
        """(field, reason) for each rule that no set of members could ever meet."""
        for kind, threshold in self.approvals.items():
            where = f"policy.approvals.{kind}"
            if threshold.is_admins and admins == 0:
                yield where, '"admins" needs at least one member with role = "admin"'
            elif threshold.required(members, admins) > members:
                yield where, f"needs {threshold.value} members but the file lists {members}"

    def changes(self, other: Policy) -> list[str]:
        """Words for each rule that differs from `other` (the newer policy): 'validator 2 -> 3'."""
        return [
            f"{kind} {self.approvals.get(kind, 'none')} -> {other.approvals.get(kind, 'none')}"
            for kind in KINDS
            if self.approvals.get(kind) != other.approvals.get(kind)
        ]
