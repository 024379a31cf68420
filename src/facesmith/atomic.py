"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target.

A reader (or a resumed job) sees either the old file or the complete new one, never a partial write.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is renamed onto `target`.

    `suffix` defaults to the target's own, so encoders that pick a format from the extension work.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=(target.suffix if suffix is None else suffix) + ".part",
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    write_bytes(target, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def check_writable_dir(path: str | os.PathLike[str], create: bool = True) -> Path:
    """Make sure `path` is (or can become) a writable folder; raise OutputError with a clear reason."""
    from .errors import OutputError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output path exists and is not a folder: {path}")
    if not path.exists():
        if not create:
            raise OutputError(f"output folder does not exist: {path}")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create output folder {path}: {e.strerror}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as e:
        raise OutputError(f"output folder is not writable: {path} ({e.strerror})") from None
    return path
