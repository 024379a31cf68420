"""Threads joined by short queues, so decoding, the model, blending and encoding run at the same time
(PyTorch, OpenCV and FFmpeg release the GIL while they work).

`Worker`: a consumer thread fed through a bounded queue; an exception in it stops it and is raised
again in the thread that feeds it. `read_ahead`: a producer thread running an iterator ahead of its
consumer; an exception in it is raised again in the consumer.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

_STOP = object()
T = TypeVar("T")


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


def read_ahead(items: Iterator[T], depth: int = 24, name: str = "decode") -> Generator[T, None, None]:
    """Run the iterator `items` ahead in a thread, up to `depth` items; its errors are re-raised in the
    consumer at the point they happened. Closing the returned generator stops the thread."""
    q: queue.Queue[T | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for fr in items:
                if stop.is_set():
                    return
                q.put(fr)
            q.put(None)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    thread = threading.Thread(target=run, daemon=True, name=f"facesmith-{name}")
    thread.start()
    try:
        while (item := q.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)
