"""Training logs: a CSV rewritten atomically, and TensorBoard event files written directly.

The event format is tiny (TFRecord framing around an `Event` protobuf), so it is written here rather
than pulling TensorBoard/protobuf into the dependencies; `tensorboard --logdir MODEL_DIR/tensorboard`
reads it.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import struct
import time
from pathlib import Path

from .. import atomic

# ---- CSV ----

class CsvLog:
    """Rows kept in memory and the file rewritten atomically on flush; a resume drops rows past the
    checkpoint's iteration so the curve continues exactly where the weights are."""

    def __init__(self, path: Path, fields: list[str], resume_from: int | None) -> None:
        self.path, self.fields = path, fields
        self.rows: list[dict[str, str]] = []
        if resume_from is not None and path.is_file():
            with open(path, newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(float(r.get("iteration", 0))) <= resume_from]

    def add(self, row: dict[str, object]) -> None:
        self.rows.append({k: (f"{v:.6g}" if isinstance(v, float) else str(v)) for k, v in row.items()})

    def flush(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, self.fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic.write_bytes(self.path, buf.getvalue().encode())

    def column(self, name: str) -> list[float]:
        return [float(r[name]) if r.get(name) not in (None, "") else float("nan") for r in self.rows]


# ---- TensorBoard ----

def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _masked(data: bytes) -> bytes:
    c = crc32c(data)
    return struct.pack("<I", (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    key = _varint(num << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


class EventWriter:
    """Scalars to `logdir/events.out.tfevents.<time>.<host>` (one new file per session)."""

    def __init__(self, logdir: Path) -> None:
        logdir.mkdir(parents=True, exist_ok=True)
        self.path = logdir / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        self.f = open(self.path, "ab")  # noqa: SIM115 - kept open for the whole run
        self._write(_field(1, 1, struct.pack("<d", time.time())) + _field(3, 2, b"brain.Event:2"))

    def _write(self, event: bytes) -> None:
        header = struct.pack("<Q", len(event))
        self.f.write(header + _masked(header) + event + _masked(event))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        summary = b"".join(
            _field(1, 2, _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", float(v))))
            for tag, v in values.items()
        )
        self._write(_field(1, 1, struct.pack("<d", time.time())) + _field(2, 0, _varint(step)) + _field(5, 2, summary))

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        self.f.close()
