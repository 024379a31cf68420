"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target.

A reader (or a resumed job) sees either the old file or the complete new one, never a partial write.
Jobs that write many small files (extraction: one face per frame) skip the per-file fsync
(`durable=False`; the rename alone already makes them atomic for a killed process) and call
`sync_filesystem` once before they record those files as done: one flush a second instead of one per
file (measured: 30 fsyncs 12 ms, one syncfs after 30 writes 2 ms).

A file written here gets the mode a plain `open()` would give it (0666 less the umask; an existing
file keeps its own), not mkstemp's 0600. Temporary names carry the writer's pid, so a later run can
remove the ones a killed process left (`remove_stale_parts`) without touching a live writer's.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask. Linux shows it in /proc (read each time: ~10 us, and a caller may change it);
    elsewhere it is set and restored once, under a lock, before worker threads create files."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return _umask_once()


@functools.cache
def _umask_once() -> int:
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def output_mode(target: str | os.PathLike[str], folder: bool = False) -> int:
    """The permission bits `open()` (or `mkdir()`) would give `target`: an existing target keeps its
    own, a new one gets 0666 (0777 for a folder) less the umask."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(target).st_mode)
    return (0o777 if folder else 0o666) & ~_umask()


def temp_prefix(target: Path) -> str:
    """The hidden, per-process prefix of `target`'s temporary names (see remove_stale_parts)."""
    return f".{target.name}.{os.getpid()}."


def make_temp(target: Path, suffix: str, folder: bool = False) -> Path:
    """A new temporary file (or folder) beside `target`, with the mode `target` will have."""
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=suffix, dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=suffix, dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    os.chmod(tmp, output_mode(target, folder))
    return tmp


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True


def remove_stale_parts(target: str | os.PathLike[str]) -> int:
    """Remove the temporary files and folders of `target` that processes no longer running left behind
    (a killed convert's `.OUT.<pid>.*.part*`); returns how many. Live writers' are left alone."""
    target = Path(target)
    pattern = re.compile(r"\.+" + re.escape(f"{target.name}.") + r"(\d+)\.[^/]*\.(part|old)(\.[^/]*)?$")
    removed = 0
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            m = pattern.match(entry.name)
            if not m or pid_alive(int(m.group(1))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is renamed onto `target`.

    `suffix` defaults to the target's own, so encoders that pick a format from the extension work.
    `durable=False` skips the fsync: see the module docstring for who may do that.
    """
    target = Path(target)
    tmp_path = make_temp(target, (target.suffix if suffix is None else suffix) + ".part")
    try:
        yield tmp_path
        if durable:
            with open(tmp_path, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes, durable: bool = True) -> None:
    with atomic_path(target, durable=durable) as tmp:
        tmp.write_bytes(data)


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs, looked up on first use among the symbols already loaded (no `find_library`:
    it runs ldconfig, ~20 ms that every import of this module would pay)."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):  # not Linux: no syncfs (or no CDLL(None) on Windows)
        return None


def sync_filesystem(folder: str | os.PathLike[str]) -> None:
    """Flush to disk everything written so far on the filesystem that holds `folder` (Linux syncfs;
    elsewhere a global sync where the OS has one)."""
    syncfs = _libc_syncfs()
    if syncfs is not None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    if hasattr(os, "sync"):
        os.sync()


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    write_bytes(target, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def check_can_create(path: str | os.PathLike[str]) -> None:
    """Raise OutputError now, before any work, if the folder `path` could not be made or written in
    later; creates nothing (a refusal must not leave an empty folder behind)."""
    from .errors import OutputError

    path = Path(path)
    if path.is_dir():
        check_writable_dir(path, create=False)
        return
    if path.exists():
        raise OutputError(f"output path exists and is not a folder: {path}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot create output folder {path}: {parent} is not a folder")
    check_writable_dir(parent, create=False)


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
