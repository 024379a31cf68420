"""Stage packages that can be called.

`facesmith.extract` is both the extract stage's package (`facesmith.extract.pipeline` is a module in
it) and the stage's function (`facesmith.extract(inputs, faceset)`): the package's module object is
given a class whose `__call__` imports the stage's implementation on first use and forwards to it.
So the public API cannot shadow a package, and `import facesmith` loads no stage.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def make_callable(package: str, target: str) -> None:
    """Make the package `package` callable: calling it calls `target` ("module:function", imported
    on the first call)."""
    module_name, function_name = target.split(":")

    class StagePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(module_name), function_name)(*args, **kwargs)

    sys.modules[package].__class__ = StagePackage
