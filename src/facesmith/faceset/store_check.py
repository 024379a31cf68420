"""The alignments store's shape, checked when a store is opened and whenever rows or an import are read.

`alignments.db` travels with a faceset and `faces import` reads JSON from anywhere: the tables must be
facesmith's (same columns), every JSON column must parse to the expected shape, and every face file
name must be one plain name (safepaths), so nothing read from a store can point outside the faceset.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .. import schema as s
from .face_schema import FACE_META

COLUMNS = {
    "meta": ("key", "value"),
    "sources": ("id", "sha256", "path", "kind", "info", "next_frame", "complete", "state"),
    "frames": ("source_id", "frame", "time", "faces"),
    "faces": ("source_id", "frame", "face_index", "file", "data"),
}
KINDS = ("video", "image")
STATE_DEPTH = 16

SOURCE_INFO = s.mapping(s.anything(4), max_items=256)
STATE = s.nullable(s.obj({}, extra=True))
FACE_ENTRY = s.obj({"index": s.integer(0, 1 << 16), "file": s.file_name(), "data": FACE_META})
FRAME_ENTRY = s.obj({"frame": s.integer(0, 1 << 40), "time": s.number(),
                     "faces": s.list_of(FACE_ENTRY, 0, 1024)})
SOURCE_ENTRY = s.obj(
    {"sha256": s.string(128), "path": s.string(), "kind": s.string(16, KINDS), "info": SOURCE_INFO,
     "next_frame": s.integer(0, 1 << 40), "complete": s.boolean(), "frames": s.list_of(FRAME_ENTRY)},
    {"state": STATE})
EXPORT = s.obj({"format": s.string(64), "schema_version": s.integer(), "sources": s.list_of(SOURCE_ENTRY)},
               {"meta": s.obj({}, {"settings": s.nullable(s.obj({})), "schema_version": s.integer()})})


def check_tables(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a database whose facesmith tables have other columns (another program's `faces` table)."""
    for table, wanted in COLUMNS.items():
        have = tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))
        if have and have != wanted:
            raise s.SchemaError(f"{path} is not a facesmith alignments store (its table {table!r} has columns "
                                f"{', '.join(have)[:120]})")


def column(text: Any, spec: s.Spec, where: str, max_depth: int = STATE_DEPTH) -> Any:
    """One JSON column of the store, parsed and checked."""
    if not isinstance(text, (str, bytes)):
        raise s.SchemaError(f"{where} is malformed (expected JSON text, found {type(text).__name__})")
    return s.validate(s.loads(text, where, max_depth), spec, where)


def face_data(text: Any, where: str) -> dict[str, Any]:
    """A face record (the spec bounds its nesting: convert checks every stored face it reads)."""
    if not isinstance(text, (str, bytes)):
        raise s.SchemaError(f"{where} is malformed (expected JSON text, found {type(text).__name__})")
    return s.validate(s.loads(text, where, max_depth=None), FACE_META, where)


def row(values: tuple[Any, ...], types: tuple[type | tuple[type, ...], ...], where: str) -> tuple[Any, ...]:
    """SQLite keeps any type in any column: check a row's before using it."""
    for v, t in zip(values, types, strict=True):
        if not isinstance(v, t) or isinstance(v, bool):
            raise s.SchemaError(f"{where} is malformed (a column holds {type(v).__name__} {str(v)[:40]!r})")
    return values


def face_name(name: Any, where: str) -> str:
    s.validate(name, s.file_name(), where)
    return name
