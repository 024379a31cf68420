"""The hand-off between a producer running at its own pace and a slower consumer: a slot of one item.

Real time means never falling behind the source. The producer's `put` replaces an item the consumer
has not taken yet (that frame is stale: it is counted as dropped), so the consumer's next `get` is
always the newest frame. `put(..., block=True)` waits for the slot instead (an unpaced file: every
frame is processed, none dropped). `close` wakes a waiting consumer with `Closed`.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class Closed(Exception):
    """The producer has finished; nothing more will come."""


class LatestSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self._closed = False
        self.dropped = 0  # items replaced before the consumer took them

    def put(self, item: Any, block: bool = False, stop: threading.Event | None = None) -> bool:
        """Offer `item`; returns False only when `block` and `stop` was set while waiting."""
        with self._cond:
            if block:
                while self._full and not self._closed and not (stop is not None and stop.is_set()):
                    self._cond.wait(0.1)
                if self._full and not self._closed:
                    return False
            elif self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> Any | None:
        """The newest item, or None after `timeout` seconds without one; `Closed` once the producer
        has closed the slot and the last item was taken."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._full:
                if self._closed:
                    raise Closed
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            item, self._item, self._full = self._item, None, False
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
