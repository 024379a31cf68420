"""The alignments store: per source file, frame -> faces, in SQLite beside the face images.

Convert reads it to find faces without detecting again; extract uses it to resume exactly where it
stopped (every commit records the next frame to process and the tracker state at that point), and to
re-extract at another size. Plain SQLite with JSON columns: reading it never executes code.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import schema
from ..errors import InputError, OutputError
from . import store_check as check

SCHEMA_VERSION = 1
STORE_NAME = "alignments.db"
EXPORT_FORMAT = "facesmith-alignments"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    info TEXT NOT NULL,              -- JSON: width, height, fps, frame_count, rotation, ...
    next_frame INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0,
    state TEXT                       -- JSON tracker state at next_frame, for an exact resume
);
CREATE TABLE IF NOT EXISTS frames (
    source_id INTEGER NOT NULL REFERENCES sources(id),
    frame INTEGER NOT NULL,
    time REAL NOT NULL,
    faces INTEGER NOT NULL,
    PRIMARY KEY (source_id, frame)
);
CREATE TABLE IF NOT EXISTS faces (
    source_id INTEGER NOT NULL REFERENCES sources(id),
    frame INTEGER NOT NULL,
    face_index INTEGER NOT NULL,
    file TEXT NOT NULL,
    data TEXT NOT NULL,              -- JSON: the same metadata the face file carries
    PRIMARY KEY (source_id, frame, face_index)
);
"""


@dataclass
class SourceRecord:
    id: int
    sha256: str
    path: str
    kind: str
    info: dict[str, Any]
    next_frame: int
    complete: bool
    state: dict[str, Any] | None


_META_SPECS = {"settings": schema.nullable(schema.obj({})), "schema_version": schema.integer()}


def face_json(meta: dict[str, Any]) -> str:
    """How a face's metadata is stored (a worker thread may encode it ahead of the commit)."""
    return json.dumps(meta)


@dataclass
class FrameRecord:
    frame: int
    time: float
    faces: list[tuple[int, str, Any]]  # (face_index, file name, metadata dict or its face_json text)


class AlignmentsStore:
    """One SQLite file per faceset folder. Not shared between threads: use it from one thread."""

    def __init__(self, path: str | Path, create: bool = True, readonly: bool = False):
        """`readonly`: only read (works on a read-only faceset); otherwise a read-only folder or store
        is refused up front with a message that says so."""
        self.path = Path(path)
        if (not create or readonly) and not self.path.is_file():
            raise InputError(f"no alignments store at {self.path}; extract the faces first")
        if not readonly:
            self._check_writable()
        try:
            self.db = self._connect(readonly)
            check.check_tables(self.db, self.path)
            version = self.get_meta("schema_version")
        except sqlite3.OperationalError as e:
            if "readonly" in str(e) or "read-only" in str(e):
                raise OutputError(f"{self.path} is read-only ({e}); facesmith needs to write it") from None
            raise InputError(f"{self.path} is not a facesmith alignments store ({e})") from None
        except sqlite3.DatabaseError as e:
            raise InputError(f"{self.path} is not a facesmith alignments store ({e})") from None
        if version is None and not readonly:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise InputError(
                f"{self.path} has alignments schema {version}; this facesmith reads {SCHEMA_VERSION}"
            )

    def _check_writable(self) -> None:
        folder = self.path.parent
        if folder.is_dir() and (not os.access(folder, os.W_OK) or (
                self.path.exists() and not os.access(self.path, os.W_OK))):
            raise OutputError(f"the faceset {folder} is read-only; facesmith needs to write {self.path.name} "
                              "(copy the faceset somewhere writable)")

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if not readonly:
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            return db
        if os.access(self.path.parent, os.W_OK) and os.access(self.path, os.W_OK):
            # a plain connection that writes nothing: it removes the -wal/-shm files when it closes,
            # which a read-only one cannot
            return sqlite3.connect(self.path, isolation_level=None)
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:  # a WAL store in a read-only folder: no -shm can be made
            db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
        return db

    @classmethod
    def in_folder(cls, folder: str | Path, create: bool = True, readonly: bool = False) -> AlignmentsStore:
        return cls(Path(folder) / STORE_NAME, create=create, readonly=readonly)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> AlignmentsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- settings -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        spec = _META_SPECS.get(key, schema.anything(check.STATE_DEPTH))
        return check.column(row[0], spec, f"{self.path}: setting {key!r}")

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # --- sources ------------------------------------------------------------------------------
    def _record(self, row: tuple[Any, ...] | None) -> SourceRecord | None:
        if row is None:
            return None
        where = f"{self.path}: source {str(row[1])[:16]}"
        id_, sha, path, kind, info, next_frame, complete, state = check.row(
            row, (int, str, str, str, str, int, int, (str, type(None))), where)
        if kind not in check.KINDS or next_frame < 0:
            raise schema.SchemaError(f"{where} is malformed (kind {kind[:20]!r}, next frame {next_frame})")
        return SourceRecord(id_, sha, path, kind, check.column(info, check.SOURCE_INFO, f"{where} info"),
                            next_frame, bool(complete),
                            check.column(state, check.STATE, f"{where} state") if state else None)

    def source(self, sha256: str) -> SourceRecord | None:
        return self._record(self.db.execute("SELECT * FROM sources WHERE sha256 = ?", (sha256,)).fetchone())

    def sources(self) -> list[SourceRecord]:
        rows = self.db.execute("SELECT * FROM sources ORDER BY id").fetchall()
        return [r for r in map(self._record, rows) if r is not None]

    def add_source(self, sha256: str, path: str, kind: str, info: dict[str, Any]) -> SourceRecord:
        self.db.execute(
            "INSERT INTO sources (sha256, path, kind, info) VALUES (?, ?, ?, ?)",
            (sha256, path, kind, json.dumps(info)),
        )
        record = self.source(sha256)
        assert record is not None
        return record

    def commit_frames(self, source_id: int, frames: Iterable[FrameRecord], next_frame: int,
                      state: dict[str, Any] | None, complete: bool = False) -> None:
        """Record processed frames and the resume point in one transaction (all or nothing)."""
        with self._transaction():
            for fr in frames:
                self.db.execute("INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?)",
                                (source_id, fr.frame, fr.time, len(fr.faces)))
                self.db.execute("DELETE FROM faces WHERE source_id = ? AND frame = ?", (source_id, fr.frame))
                self.db.executemany(
                    "INSERT INTO faces VALUES (?, ?, ?, ?, ?)",
                    [(source_id, fr.frame, idx, name, data if isinstance(data, str) else face_json(data))
                     for idx, name, data in fr.faces],
                )
            self.db.execute(
                "UPDATE sources SET next_frame = ?, state = ?, complete = ? WHERE id = ?",
                (next_frame, json.dumps(state) if state is not None else None, int(complete), source_id),
            )

    def forget_source(self, source_id: int) -> list[str]:
        """Remove a source and its faces from the store; returns the face file names it had."""
        with self._transaction():
            files = [check.face_name(r[0], f"{self.path}: face file")
                     for r in self.db.execute("SELECT file FROM faces WHERE source_id = ?", (source_id,))]
            for table in ("faces", "frames"):
                self.db.execute(f"DELETE FROM {table} WHERE source_id = ?", (source_id,))
            self.db.execute("DELETE FROM sources WHERE id = ?", (source_id,))
        return files

    # --- reading ------------------------------------------------------------------------------
    def frames(self, source_id: int, decode: bool = True) -> Iterator[FrameRecord]:
        """Every processed frame of a source in order, with its faces (frames without faces too).
        `decode=False` leaves each face's metadata as its JSON text (for callers that decode lazily)."""
        faces: dict[int, list[tuple[int, str, Any]]] = {}
        for frame, idx, name, data in self.db.execute(
            "SELECT frame, face_index, file, data FROM faces WHERE source_id = ? ORDER BY frame, face_index",
            (source_id,),
        ):
            where = f"{self.path}: face {str(name)[:80]!r}"
            check.row((frame, idx), (int, int), where)
            check.face_name(name, where)
            faces.setdefault(frame, []).append((idx, name, check.face_data(data, where) if decode else data))
        for frame, time in self.db.execute(
            "SELECT frame, time FROM frames WHERE source_id = ? ORDER BY frame", (source_id,)
        ):
            check.row((frame, time), (int, (int, float)), f"{self.path}: frame {str(frame)[:20]}")
            yield FrameRecord(frame, time, faces.get(frame, []))

    def counts(self, source_id: int | None = None) -> dict[str, int]:
        where, args = ("WHERE source_id = ?", (source_id,)) if source_id is not None else ("", ())
        frames, empty = self.db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(faces = 0), 0) FROM frames {where}", args
        ).fetchone()
        (faces,) = self.db.execute(f"SELECT COUNT(*) FROM faces {where}", args).fetchone()
        return {"frames": frames, "frames_without_face": empty, "faces": faces}

    # --- keeping the store in line with the folder ------------------------------------------------
    def face_files(self) -> dict[str, tuple[int, int, int]]:
        """Every face file the store lists -> (source_id, frame, face_index)."""
        return {check.face_name(file, f"{self.path}: face file"): (sid, frame, idx) for sid, frame, idx, file in
                self.db.execute("SELECT source_id, frame, face_index, file FROM faces")}

    def remove_faces(self, files: Iterable[str]) -> int:
        """Drop the face rows of these files (their frames stay, with fewer faces); returns how many."""
        removed = 0
        with self._transaction():
            for name in files:
                rows = self.db.execute("SELECT source_id, frame FROM faces WHERE file = ?", (name,)).fetchall()
                self.db.execute("DELETE FROM faces WHERE file = ?", (name,))
                for sid, frame in rows:
                    self._recount(sid, frame)
                removed += len(rows)
        return removed

    def add_faces(self, faces: Iterable[tuple[int, int, int, str, dict[str, Any]]]) -> int:
        """(Re-)list face files: (source_id, frame, face_index, file, metadata) rows; returns how many."""
        added = 0
        with self._transaction():
            for sid, frame, idx, name, data in faces:
                self.db.execute("INSERT OR REPLACE INTO faces VALUES (?, ?, ?, ?, ?)",
                                (sid, frame, idx, name, json.dumps(data)))
                time = float(data.get("time", 0.0)) if isinstance(data.get("time"), (int, float)) else 0.0
                self.db.execute("INSERT OR IGNORE INTO frames VALUES (?, ?, ?, 0)", (sid, frame, time))
                self._recount(sid, frame)
                added += 1
        return added

    def rename_faces(self, renames: dict[str, str]) -> None:
        """Follow face files renamed in the folder (old name -> new name), all or nothing."""
        with self._transaction():
            for old, new in renames.items():
                self.db.execute("UPDATE faces SET file = ? WHERE file = ?", (new, old))

    def _recount(self, source_id: int, frame: int) -> None:
        self.db.execute(
            "UPDATE frames SET faces = (SELECT COUNT(*) FROM faces WHERE source_id = ? AND frame = ?) "
            "WHERE source_id = ? AND frame = ?", (source_id, frame, source_id, frame))

    # --- export / import as JSON ---------------------------------------------------------------
    def export_dict(self) -> dict[str, Any]:
        """The whole store as plain JSON-ready data (see import_dict)."""
        settings = {k: self.get_meta(k) for (k,) in self.db.execute("SELECT key FROM meta ORDER BY key").fetchall()}
        sources = []
        for s in self.sources():
            frames = [{"frame": fr.frame, "time": fr.time,
                       "faces": [{"index": i, "file": f, "data": d} for i, f, d in fr.faces]}
                      for fr in self.frames(s.id)]
            sources.append({"sha256": s.sha256, "path": s.path, "kind": s.kind, "info": s.info,
                            "next_frame": s.next_frame, "complete": s.complete, "state": s.state,
                            "frames": frames})
        return {"format": EXPORT_FORMAT, "schema_version": SCHEMA_VERSION, "meta": settings, "sources": sources}

    def import_dict(self, data: Any) -> dict[str, int]:
        """Load an export: its sources replace the ones with the same SHA-256 (others are kept)."""
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            raise InputError(f"not a facesmith alignments export (expected \"format\": \"{EXPORT_FORMAT}\")")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise InputError(f"alignments export has schema {str(data.get('schema_version'))[:20]}; "
                             f"this facesmith reads {SCHEMA_VERSION}")
        schema.validate(data, check.EXPORT, "alignments export")  # all of it, before anything is written
        counts = {"sources": 0, "frames": 0, "faces": 0}
        try:
            with self._transaction():
                for key, value in data.get("meta", {}).items():
                    if key != "schema_version":
                        self.set_meta(key, value)
                for src in data["sources"]:
                    old = self.source(src["sha256"])
                    if old is not None:
                        for table in ("faces", "frames"):
                            self.db.execute(f"DELETE FROM {table} WHERE source_id = ?", (old.id,))
                        self.db.execute("DELETE FROM sources WHERE id = ?", (old.id,))
                    self.db.execute(
                        "INSERT INTO sources (sha256, path, kind, info, next_frame, complete, state) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (src["sha256"], src["path"], src["kind"], json.dumps(src["info"]), int(src["next_frame"]),
                         int(bool(src["complete"])), json.dumps(src["state"]) if src.get("state") is not None else None),
                    )
                    (sid,) = self.db.execute("SELECT id FROM sources WHERE sha256 = ?", (src["sha256"],)).fetchone()
                    for fr in src["frames"]:
                        self.db.execute("INSERT INTO frames VALUES (?, ?, ?, ?)",
                                        (sid, int(fr["frame"]), float(fr["time"]), len(fr["faces"])))
                        self.db.executemany(
                            "INSERT INTO faces VALUES (?, ?, ?, ?, ?)",
                            [(sid, int(fr["frame"]), int(f["index"]), str(f["file"]), json.dumps(f["data"]))
                             for f in fr["faces"]],
                        )
                        counts["frames"] += 1
                        counts["faces"] += len(fr["faces"])
                    counts["sources"] += 1
        except (KeyError, TypeError, ValueError, sqlite3.IntegrityError) as e:
            raise InputError(f"alignments export is malformed ({type(e).__name__}: {e}); nothing was imported") from None
        return counts

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
