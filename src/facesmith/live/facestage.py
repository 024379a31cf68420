"""The face thread: tracks the faces of frame n+1 while the frame loop swaps frame n.

It takes the newest frame from the capture slot (which drops stale ones) and hands (frame, faces,
stage times) to the frame loop through a second one-item slot that it waits on (never dropping: a
frame whose faces were found is swapped). Two frames at most are held between capture and output.
While the loop keeps up with the source this costs no latency (nothing waits in the second slot);
when it does not, both threads' work overlaps on two cores instead of adding up.
"""

from __future__ import annotations

import threading
from typing import Any

from .controls import Controls
from .mailbox import Closed, LatestSlot


class FaceStage:
    def __init__(self, engine: Any, source: LatestSlot, controls: Controls, stop: threading.Event):
        self.engine, self.source, self.controls, self.stop = engine, source, controls, stop
        self.out = LatestSlot()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="facesmith-faces")

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    frame = self.source.get(timeout=0.1)
                except Closed:
                    return
                if frame is None:
                    continue
                stages: dict[str, float] = {}
                settings = self.controls.snapshot()
                faces = self.engine.find(frame.index, frame.time, frame.image, settings, stages)
                if not self.out.put((frame, faces, stages), block=True, stop=self.stop):
                    return
        except BaseException as e:  # the frame loop raises it
            self.error = e
        finally:
            self.out.close()
