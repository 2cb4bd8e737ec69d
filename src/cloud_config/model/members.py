"""`members.toml`: who the chain's members are, their SSH signing keys, and what each one owns.

Layout (docs/members.md)::

    [[member]]
    domains = ["node0"]
    name = "alice"
    role = "member"                 # or "admin"
    ssh_keys = ["ssh-ed25519 AAAA... alice@laptop"]
    pipeline_keys = ["ssh-ed25519 AAAA... alice-pipeline"]   # optional: signs status records only
    validators = ["<validator address>"]

    [policy.approvals]              # optional: model/policy.py
    validator = 2
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud_config.errors import ConfigError, ConflictError, NotFoundError
from cloud_config.model import toml_edit
from cloud_config.model.names import dns_label_problem, hex_problem, strip_0x
from cloud_config.model.paths import MEMBERS_FILE
from cloud_config.model.policy import Policy
from cloud_config.model.schema import Reader, parse_toml

ROLES = ("admin", "member")
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
# The closed schema: the tables members.toml may hold (add a known table here) and a member's keys.
MEMBERS_TABLES = ("member", "policy")
MEMBER_KEYS = ("name", "role", "ssh_keys", "pipeline_keys", "domains", "validators")
# A principal in git's allowed-signers file: no spaces, commas or quotes.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def key_fingerprint(key: str) -> str:
    """The `SHA256:...` fingerprint git and ssh-keygen print for a public key line.

    Raises:
        ValueError: when the line is not `<type> <base64> [comment]` of a known key type.
    """
    parts = key.split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise ValueError(f"expected '<type> <base64> [comment]' with type {', '.join(KEY_TYPES[:3])}, ...")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise ValueError("the key's base64 part is not valid base64") from None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


@dataclass
class Member:
    """One member: a name (the signing principal), a role, keys, and the nodes it owns."""

    name: str
    role: str = "member"
    ssh_keys: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    validators: list[str] = field(default_factory=list)
    pipeline_keys: list[str] = field(default_factory=list)

    @property
    def is_admin(self) -> bool:
        """Whether this member may change everything."""
        return self.role == "admin"

    def to_dict(self) -> dict[str, Any]:
        """The member as members.toml holds it."""
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "ssh_keys": list(self.ssh_keys),
            "domains": list(self.domains),
            "validators": list(self.validators),
        }
        if self.pipeline_keys:
            out["pipeline_keys"] = list(self.pipeline_keys)
        return out


@dataclass
class Members:
    """The whole members.toml."""

    members: list[Member] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)

    @classmethod
    def loads(cls, text: str, source: str) -> Members:
        """Parse and validate the text of a members.toml; errors name `source` and the field."""
        data = parse_toml(text, source)
        members = cls.from_dict(data, source)
        for path, reason in members.problems():
            raise ConfigError(source, path, reason)
        return members

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str) -> Members:
        """Build from parsed TOML, checking every field's type."""
        r = Reader(source)
        r.known(data, MEMBERS_TABLES)
        out = []
        for path, entry in r.tables(data, "member", "member", []):
            r.known(entry, MEMBER_KEYS, path)
            out.append(
                Member(
                    name=r.string(entry, "name", f"{path}.name"),
                    role=r.string(entry, "role", f"{path}.role"),
                    ssh_keys=_strings(r, entry, "ssh_keys", path),
                    domains=_strings(r, entry, "domains", path),
                    validators=_strings(r, entry, "validators", path),
                    pipeline_keys=_strings(r, entry, "pipeline_keys", path),
                )
            )
        return cls(out, Policy.from_dict(r, data))

    def to_dict(self) -> dict[str, Any]:
        """The data of members.toml (no `policy` table when there is no rule)."""
        policy = self.policy.to_dict()
        return {"member": [m.to_dict() for m in self.members], **({"policy": policy} if policy else {})}

    def dumps(self, old_text: str | None = None) -> str:
        """The file text: canonical when fresh, or `old_text` edited in place (comments kept)."""
        return toml_edit.update(old_text, self.to_dict())

    # ---- questions ---------------------------------------------------------------------

    def get(self, name: str) -> Member | None:
        """The member called `name`, or None."""
        return next((m for m in self.members if m.name == name), None)

    def owner_of_domain(self, domain: str) -> Member | None:
        """The member owning node `domain`, or None."""
        return next((m for m in self.members if domain in m.domains), None)

    def owner_of_validator(self, validator: str) -> Member | None:
        """The member owning validator address `validator` (any case, 0x optional), or None."""
        wanted = strip_0x(validator).lower()
        return next((m for m in self.members if wanted in m.validators), None)

    @property
    def names(self) -> list[str]:
        """Every member's name, in file order."""
        return [m.name for m in self.members]

    @property
    def admins(self) -> list[str]:
        """The admins' names, in file order."""
        return [m.name for m in self.members if m.is_admin]

    def member_of_key(self, fingerprint: str) -> Member | None:
        """The member with an SSH key of this `SHA256:` fingerprint, or None."""
        for member in self.members:
            if any(_fingerprint_or_none(k) == fingerprint for k in member.ssh_keys):
                return member
        return None

    def member_of_pipeline_key(self, fingerprint: str) -> Member | None:
        """The member with a pipeline key of this `SHA256:` fingerprint, or None."""
        for member in self.members:
            if any(_fingerprint_or_none(k) == fingerprint for k in member.pipeline_keys):
                return member
        return None

    def allowed_signers(self, pipeline_keys: bool = False) -> str:
        """git's `gpg.ssh.allowedSignersFile` content: each key, its member name as principal.

        Chain changes count only `ssh_keys`; status records (`pipeline_keys=True`) count both.
        """
        lines = [
            f'{m.name} namespaces="git" {" ".join(key.split()[:2])}'
            for m in self.members
            for key in (m.ssh_keys + m.pipeline_keys if pipeline_keys else m.ssh_keys)
        ]
        return "".join(f"{line}\n" for line in lines)

    # ---- validation --------------------------------------------------------------------

    def problems(self) -> Iterator[tuple[str, str]]:
        """Every (field, reason) that makes this file unusable."""
        first_of: dict[tuple[str, str], int] = {}
        for i, member in enumerate(self.members):
            path = f"member[{i}]"
            yield from _member_problems(member, path)
            for kind, values in (
                ("name", [member.name]),
                ("ssh_keys", [key_fingerprint_or_text(k) for k in member.ssh_keys + member.pipeline_keys]),
                ("domains", member.domains),
                ("validators", member.validators),
            ):
                for value in values:
                    owner = first_of.setdefault((kind, value), i)
                    if owner != i or (kind != "name" and values.count(value) > 1):
                        other = self.members[owner].name
                        yield f"{path}.{kind}", f"{value!r} is listed twice (first by {other!r})"
        yield from self.policy.problems(len(self.members), len(self.admins))


def _member_problems(member: Member, path: str) -> Iterator[tuple[str, str]]:
    if not _NAME.match(member.name):
        yield (
            f"{path}.name",
            "must be 1-64 letters, digits, '.', '_', '@' or '-' (a signing principal)",
        )
    if member.role not in ROLES:
        yield f"{path}.role", f"must be admin or member, got {member.role!r}"
    for kind, keys in (("ssh_keys", member.ssh_keys), ("pipeline_keys", member.pipeline_keys)):
        for j, key in enumerate(keys):
            try:
                key_fingerprint(key)
            except ValueError as exc:
                yield f"{path}.{kind}[{j}]", str(exc)
    for j, domain in enumerate(member.domains):
        reason = dns_label_problem(domain)
        if reason:
            yield f"{path}.domains[{j}]", f"{domain!r} {reason}"
    for j, validator in enumerate(member.validators):
        reason = hex_problem(validator, (40, 96))
        if reason or validator != validator.lower():
            yield f"{path}.validators[{j}]", reason or "must be lowercase hex without 0x"


def _fingerprint_or_none(key: str) -> str | None:
    try:
        return key_fingerprint(key)
    except ValueError:
        return None


def _strings(r: Reader, entry: Mapping[str, Any], key: str, path: str) -> list[str]:
    if key not in entry:
        return []
    return r.strings(entry, key, f"{path}.{key}")


def normalize_validator(value: str) -> str:
    """A validator address as members.toml stores it: no 0x, lowercase."""
    return strip_0x(value.strip()).lower()


def add_member(members: Members, new: Member, role: str | None = None) -> Member:
    """Add `new` (role `role` or "member"), or extend the member of that name: its keys, domains
    and validators are added to, and its role is changed only when `role` is given.

    Raises:
        ConflictError: when a key, domain or validator already belongs to another member.
    """
    new.validators = [normalize_validator(v) for v in new.validators]
    new.ssh_keys = [" ".join(k.split()) for k in new.ssh_keys]
    member = members.get(new.name)
    if member is None:
        new.role = role or "member"
        members.members.append(new)
        member = new
    else:
        member.role = role or member.role
        for attr in ("ssh_keys", "domains", "validators"):
            have = getattr(member, attr)
            have.extend(v for v in getattr(new, attr) if v not in have)
    _check(members)
    return member


def remove_member(members: Members, name: str, items: Member | None = None) -> Member:
    """Remove the member called `name`, or only the keys, domains and validators in `items`.

    Raises:
        NotFoundError: when there is no such member, or it has not one of `items`.
    """
    member = members.get(name)
    if member is None:
        listed = ", ".join(m.name for m in members.members) or "none"
        raise NotFoundError(f"--name: no member {name!r} (members: {listed})")
    if items is None:
        members.members.remove(member)
        _check(members)
        return member
    wanted = {
        "ssh_keys": [key_fingerprint_or_text(k) for k in items.ssh_keys],
        "domains": items.domains,
        "validators": [normalize_validator(v) for v in items.validators],
    }
    for attr, values in wanted.items():
        have = getattr(member, attr)
        ids = [key_fingerprint_or_text(v) for v in have] if attr == "ssh_keys" else list(have)
        for value in values:
            if value not in ids:
                flag = {"ssh_keys": "--ssh-key", "domains": "--domain", "validators": "--validator"}[attr]
                raise NotFoundError(f"{flag}: member {name!r} has no {value!r}")
            del have[ids.index(value)]
            ids.remove(value)
    _check(members)
    return member


def _check(members: Members) -> None:
    for path, reason in members.problems():
        raise ConflictError(f"{MEMBERS_FILE}: {path}: {reason}")


def key_fingerprint_or_text(key: str) -> str:
    """The key's fingerprint, or the text itself when it is not a key line."""
    return _fingerprint_or_none(key) or key
