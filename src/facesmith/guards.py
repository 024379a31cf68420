"""Checks every stage makes before it starts: it writes onto none of its inputs, holds its folder alone,
and leaves no empty folder behind when it refuses or fails.

    @guard_output_folder("model folder", folder="model_dir", inputs=("faceset_a", "faceset_b"))
    def train(faceset_a, faceset_b, model_dir, ...): ...

The decorator finds the named arguments by name (so the stage's signature may grow), refuses before
any work when the output folder is one of the inputs (or lies inside one, or holds one), creates the
folder, holds its lock (locking.py) for the whole call and, if the call fails, removes the folder
again when it created it and nothing but the lock was written there.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .atomic import check_writable_dir
from .errors import OutputError
from .locking import LOCK_NAME, folder_lock
from .safepaths import same_or_nested

F = TypeVar("F", bound=Callable[..., Any])


def refuse_overlap(output: Path, inputs: Iterable[tuple[str, Path]], what: str, nested: bool = True) -> None:
    """OutputError when `output` is an input (`nested`: or lies inside an input folder, or holds one)."""
    for label, path in inputs:
        if path.exists() and (same_or_nested(output, path) if nested else
                              os.path.realpath(output) == os.path.realpath(path)):
            raise OutputError(f"the {what} {output} would be written onto {label} {path}; "
                              f"put the {what} somewhere else")


def refuse_inside_folder_of(output: Path, files: Iterable[Path], what: str) -> None:
    """OutputError when an input file lies directly in the output folder (it would become part of it)."""
    real_out = Path(os.path.realpath(output))
    for path in files:
        if Path(os.path.realpath(path)).parent == real_out:
            raise OutputError(f"the input {path} lies in the {what} {output}; it would become part of the "
                              f"{what} - choose another {what}")


@contextlib.contextmanager
def output_folder(folder: Path, what: str) -> Iterator[Path]:
    """Create `folder` (if needed), hold its lock; on failure remove it again if this call created it
    and it is still empty apart from the lock."""
    created = not folder.exists()
    top = folder
    if created:  # the highest missing ancestor, so a refusal leaves no empty parents either
        while not top.parent.exists() and top.parent != top:
            top = top.parent
    check_writable_dir(folder)
    ok = False
    try:
        with folder_lock(folder, what):
            yield folder
        ok = True
    finally:
        if created and not ok:
            _remove_if_empty(folder, top)


def _remove_if_empty(folder: Path, top: Path) -> None:
    with contextlib.suppress(OSError):
        if {p.name for p in folder.iterdir()} <= {LOCK_NAME}:
            (folder / LOCK_NAME).unlink(missing_ok=True)
            folder.rmdir()
            while folder != top:
                folder = folder.parent
                folder.rmdir()


def _paths(value: Any) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    return [Path(v) for v in value]


def guard_output_folder(what: str, folder: str, inputs: tuple[str, ...] = (), nested: bool = True,
                        extra_check: Callable[[Path, dict[str, Any]], None] | None = None) -> Callable[[F], F]:
    """Decorate a stage whose argument `folder` is the folder it writes (see the module docstring).
    `inputs` name the arguments holding input paths; `extra_check(folder, arguments)` may refuse more."""
    def deco(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind_partial(*args, **kwargs)
            out = Path(os.path.abspath(Path(bound.arguments[folder]).expanduser()))
            sources = [(name.replace("_", " ").upper(), p) for name in inputs
                       for p in _paths(bound.arguments.get(name))]
            refuse_overlap(out, sources, what, nested)
            if extra_check is not None:
                extra_check(out, dict(bound.arguments))
            if int(os.environ.get("RANK", "0") or 0) != 0:  # torchrun: rank 0 holds the folder for all
                return func(*args, **kwargs)
            with output_folder(out, what):
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return deco
