"""Build hook: the man page `cloud-config.1` is generated from the parser (argparse-manpage) at build time.

Everything else about the package is in pyproject.toml.
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MAN_PAGE = "build/man/cloud-config.1"


def write_man_page() -> None:
    """Write the man page from the current parser."""
    sys.path.insert(0, str(ROOT / "src"))
    from cloud_config import __version__
    from cloud_config.cli.main import build_parser
    from cloud_config.cli.shell import man_page

    target = ROOT / MAN_PAGE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(man_page(build_parser(every=True)[0], __version__), encoding="utf-8")


class BuildWithManPage(build_py):
    """build_py, then the man page."""

    def run(self) -> None:
        write_man_page()
        super().run()


write_man_page()  # data_files must exist whenever setuptools looks at them (sdist, wheel, editable)
setup(cmdclass={"build_py": BuildWithManPage}, data_files=[("share/man/man1", [MAN_PAGE])])
