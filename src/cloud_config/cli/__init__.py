"""The command line: one module per group of verbs; no business logic here.

Start-up: `dataclasses` imports `inspect` (with `ast`, `dis` and `tokenize`, about half a bare
interpreter's start-up) but uses it only to write a docstring for a dataclass that has none (ours
all have one). A command-line process therefore gets a stand-in `inspect` that imports the real
module on its first attribute access; a process that has imported `inspect` already keeps it.
(The standard library's LazyLoader does not serve: in 3.11 the `import` statement itself reads
`__spec__` and so loads the module.)
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _OnFirstUse(types.ModuleType):
    """Stands in for a module until one of its attributes is read; then imports and forwards to it."""

    def __getattr__(self, attribute: str) -> Any:
        import importlib

        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


if "inspect" not in sys.modules:
    sys.modules["inspect"] = _OnFirstUse("inspect")
