"""Verbs of the flows group (registered by later work)."""

from __future__ import annotations

from cloud_config.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    """Add this group's verbs."""
