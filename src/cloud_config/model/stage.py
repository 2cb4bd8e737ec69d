"""The chain's stage machine: Init -> Public -> Finalize (reference §0.8)."""

from __future__ import annotations

import enum

from cloud_config.errors import StageError


class Stage(enum.Enum):
    """Where a chain is in its life; the value is how chain_config.toml spells it."""

    INIT = "Init"
    PUBLIC = "Public"
    FINALIZE = "Finalize"

    @property
    def rank(self) -> int:
        """Position on the forward path."""
        return list(Stage).index(self)

    @classmethod
    def from_flag(cls, text: str) -> Stage:
        """The stage named by `set-stage --stage` (lowercase, as cloud-config accepts)."""
        for stage in cls:
            if stage.value.lower() == text:
                return stage
        raise StageError(f"--stage: expected init, public or finalize, got {text!r}")


def require(current: Stage, allowed: set[Stage], command: str) -> None:
    """Refuse `command` unless the chain is in one of the `allowed` stages."""
    if current not in allowed:
        want = " or ".join(s.value for s in Stage if s in allowed)
        raise StageError(f"{command} needs stage {want}, but the chain is at {current.value}")


def check_move(current: Stage, target: Stage, force: bool) -> None:
    """Refuse moving backwards unless forced."""
    if target.rank < current.rank and not force:
        raise StageError(
            f"--stage: the chain is at {current.value}; moving back to {target.value} "
            "needs --force (nodes already started from the old state)"
        )
