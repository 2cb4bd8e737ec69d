"""The completion scripts (shtab) and the man page (argparse-manpage), from the whole parser
(`cli.main.build_parser(every=True)`; main registers the `completion` verb)."""

from __future__ import annotations

import argparse


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    """Give the flags marked by `complete_dirs`/`complete_files` shtab's completers."""
    import shtab

    kinds = {"dir": shtab.DIRECTORY, "file": shtab.FILE}
    for action in parser._actions:
        kind = getattr(action, "complete_kind", None)
        if kind:
            action.complete = kinds[kind]  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _mark_paths(child)


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for `shell`, generated from the whole parser."""
    import shtab

    _mark_paths(parser)
    script: str = shtab.complete(parser, shell=shell)
    return script


def man_page(parser: argparse.ArgumentParser, version: str) -> str:
    """The man page (roff), generated from the whole parser by argparse-manpage (at build time)."""
    from argparse_manpage.manpage import Manpage

    data = {
        "project_name": "cloud-config",
        "version": version,
        "description": "CITA-Cloud chain configuration, run through Git",
        "manual_title": "cloud-config manual",
        "url": "docs/cli.md",
        "prog": "cloud-config",
    }
    return str(Manpage(parser, _data=data, format="pretty"))
