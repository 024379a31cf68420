"""A chain of worker threads joined by short queues, so the model, the blending and the main thread's
face finding run at the same time (PyTorch, OpenCV and FFmpeg release the GIL while they work).

An exception in a worker stops the chain and is raised again in the thread that feeds it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class Cancelled(Exception):
    """The worker a thread was feeding has been stopped."""


class Worker:
    def __init__(self, fn: Callable[[Any], None], name: str, depth: int = 2):
        self.fn = fn
        self.queue: queue.Queue[Any] = queue.Queue(depth)
        self.error: BaseException | None = None
        self.cancelled = False
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"facesmith-{name}")
        self.thread.start()

    def _loop(self) -> None:
        while (item := self.queue.get()) is not _STOP:
            if self.error is not None:
                continue  # failed: drain until told to stop
            try:
                self.fn(item)
            except BaseException as e:  # handed to the feeding thread
                self.error = e

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error
        if self.cancelled:
            raise Cancelled

    def put(self, item: Any) -> None:
        while True:
            self._raise()
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait for everything queued, then raise the worker's error if it had one."""
        self.queue.put(_STOP)
        self.thread.join()
        self._raise()

    def abort(self) -> None:
        self.cancelled = True
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()
        self.queue.put(_STOP)
        self.thread.join(10)
