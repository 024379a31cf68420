"""One facesmith process per folder: an exclusive lock on a model folder, a faceset or a swap work folder.

The lock is an OS advisory lock (`flock` on Linux/macOS, `msvcrt.locking` on Windows) on the hidden file
FOLDER/.facesmith.lock, which also records the holder's pid for the message. The OS drops the lock
when its process dies, however it dies (SIGKILL, power loss of the process), so a lock left by a killed
run never blocks the next one; the file itself is left in place (deleting it would race with a waiting
process). Re-entrant within one process: a stage that locks a folder its caller already holds goes on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, OutputError

LOCK_NAME = ".facesmith.lock"

_HELD: dict[str, int] = {}  # real path of a lock file -> how many holders in this process
_HELD_LOCK = threading.Lock()

try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
except ImportError:  # Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return "unknown"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold the exclusive lock of `folder` (which must exist) for the block. `what` names the folder in
    messages, e.g. "model folder"."""
    folder = Path(folder)
    key = os.path.realpath(folder / LOCK_NAME)
    with _HELD_LOCK:
        if key in _HELD:
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD[key] -= 1
        return
    try:
        fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise OutputError(f"{what} {folder} is read-only ({e.strerror}); facesmith needs to write in it") from None
        raise OutputError(f"cannot lock {what} {folder}: {e.strerror or e}") from None
    try:
        if not _try_lock(fd):
            raise InputError(f"{folder} is in use by another facesmith process (pid {_holder(fd)}); "
                             f"wait for it to finish or stop it, then re-run")
        with contextlib.suppress(OSError, AttributeError):  # the pid is for the message only
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        with _HELD_LOCK:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _HELD_LOCK:
                del _HELD[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock
