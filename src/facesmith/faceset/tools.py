"""Curating a faceset: sort, filter by identity, dedupe, sync with the alignments store.

Nothing is deleted: faces that do not belong are moved into `DIR/_rejected/<reason>/`, out of reach of
training (which lists only the folder's own files) and easy to move back. Sorting renames the files
with an order prefix (`0001__<original name>`) that `--undo` strips again. The alignments store keeps
listing moved-aside faces until `sync`, so convert still sees every frame unless the user asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import progress
from ..errors import InputError
from ..safepaths import rename_inside
from . import face_landmarks, list_faces, read_face, read_face_meta
from .options import SORT_KEYS, DedupeOptions, FilterOptions, SortOptions
from .store import STORE_NAME, AlignmentsStore

REJECTED = "_rejected"
_ORDER_PREFIX = re.compile(r"^\d{4,}__")


def faceset_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"faceset folder not found: {folder}")
    files = list_faces(folder)
    if not files:
        raise InputError(f"no face files in {folder}; extract some with `facesmith extract`")
    return files


def original_name(name: str) -> str:
    """The file name without a sort prefix."""
    return _ORDER_PREFIX.sub("", name, count=1)


def face_size(meta: dict[str, Any]) -> float:
    """Face size in source pixels: the larger side of the landmark box."""
    x0, y0, x1, y1 = meta["box"]
    return float(max(x1 - x0, y1 - y0))


def embed_faces(files: Sequence[Path], desc: str = "embed") -> np.ndarray:
    """(N, 128) dlib identity descriptors of face files, computed on the aligned crops (~90 ms each)."""
    from ..face.identity import FaceEmbedder

    embedder = FaceEmbedder()
    out = np.zeros((len(files), 128), np.float32)
    with progress.bar(total=len(files), desc=desc, unit="face") as bar:
        for i, path in enumerate(files):
            image, meta = read_face(path)
            out[i] = embedder.embed(image, face_landmarks(meta, image.shape[0]))
            bar.update(1)
    return out


def move_aside(folder: Path, files: Sequence[Path], reason: str) -> list[str]:
    """Move face files into folder/_rejected/<reason>/ (never overwriting); returns the new paths."""
    target = folder / REJECTED / reason
    target.mkdir(parents=True, exist_ok=True)
    moved = []
    for path in files:
        dest = target / path.name
        n = 1
        while dest.exists():
            dest = target / f"{path.stem}~{n}{path.suffix}"
            n += 1
        rename_inside(folder, path, dest)
        moved.append(str(dest))
    return moved


def _rename_in_store(folder: Path, renames: dict[str, str]) -> None:
    if renames and (folder / STORE_NAME).is_file():
        with AlignmentsStore.in_folder(folder, create=False) as store:
            store.rename_faces(renames)


# --- sort --------------------------------------------------------------------------------------------


def _histogram(path: Path) -> np.ndarray:
    image, _ = read_face(path)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def _chain(features: np.ndarray, distance: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> list[int]:
    """Greedy nearest-neighbour chain from the first item: similar faces end up side by side."""
    left = list(range(1, len(features)))
    order = [0] if len(features) else []
    while left:
        d = distance(features[left], features[order[-1]])
        order.append(left.pop(int(np.argmin(d))))
    return order


def identity_order(embeddings: np.ndarray, threshold: float) -> tuple[list[int], np.ndarray]:
    """Order by distance to the faceset's main person (the face with most same-person neighbours,
    averaged with those neighbours): other people and bad detections end up last."""
    dist = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=2)
    hub = int(np.argmax((dist < threshold).sum(1)))
    centre = embeddings[dist[hub] < threshold].mean(0)
    to_centre = np.linalg.norm(embeddings - centre, axis=1)
    return [int(i) for i in np.argsort(to_centre, kind="stable")], to_centre


def sort_faces(folder: str | Path, by: str, threshold: float = SortOptions.threshold) -> dict[str, Any]:
    """Rename the faces `0001__<name>`, `0002__<name>`, ... in `by` order (re-sorting replaces the prefix)."""
    folder = Path(folder)
    files = faceset_files(folder)
    metas = [read_face_meta(p) for p in files]
    values: list[float] | None
    if by in ("blur", "size"):  # sharpest / largest first, so the worst are at the end
        values = [float(m.get("blur", 0.0)) if by == "blur" else face_size(m) for m in metas]
        order = sorted(range(len(files)), key=lambda i: -values[i])
    elif by in ("yaw", "pitch"):  # from one side to the other
        values = [float(m.get(by, 0.0)) for m in metas]
        order = sorted(range(len(files)), key=lambda i: values[i])
    elif by == "identity":
        order, dist = identity_order(embed_faces(files), threshold)
        values = [round(float(d), 4) for d in dist]
    elif by == "histogram":
        hists = np.stack([_histogram(p) for p in files])
        order = _chain(hists, lambda many, one: np.abs(many - one).sum(1))
        values = None
    else:
        raise InputError(f"unknown sort key {by!r}; use one of {', '.join(SORT_KEYS)}")
    width = max(4, len(str(len(files))))
    renames = {}
    listing = []
    for rank, i in enumerate(order, 1):
        new = f"{rank:0{width}d}__{original_name(files[i].name)}"
        renames[files[i].name] = new
        listing.append({"file": new, **({by: values[i]} if values is not None else {})})
    _apply_renames(folder, renames)
    return {"sorted_by": by, "faces": len(files), "order": listing}


def unsort_faces(folder: str | Path) -> dict[str, Any]:
    """Strip the sort prefixes again."""
    folder = Path(folder)
    files = faceset_files(folder)
    renames = {p.name: original_name(p.name) for p in files if original_name(p.name) != p.name}
    _apply_renames(folder, renames)
    return {"faces": len(files), "restored": len(renames)}


def _apply_renames(folder: Path, renames: dict[str, str]) -> None:
    renames = {old: new for old, new in renames.items() if old != new}
    targets = set(renames.values())
    if len(targets) != len(renames):
        raise InputError(f"two faces in {folder} would get the same name; rename them apart first")
    clash = [n for n in targets if (folder / n).exists() and n not in renames]
    if clash:
        raise InputError(f"{folder / clash[0]} already exists; move it away first")
    # two steps through hidden temporary names, so a new name may be an old name of another file
    temps = {old: f".sorting-{i}-{old}" for i, old in enumerate(renames)}
    for old, tmp in temps.items():
        rename_inside(folder, old, tmp)
    for old, tmp in temps.items():
        rename_inside(folder, tmp, renames[old])
    _rename_in_store(folder, renames)


# --- filter ------------------------------------------------------------------------------------------


def filter_faces(folder: str | Path, refs: Sequence[str], threshold: float = FilterOptions.threshold, dry_run: bool = False,
                 detector: str = "blazeface", landmarker: str = "mesh") -> dict[str, Any]:
    """Keep the faces whose identity distance to the nearest reference photo is <= threshold."""
    from ..face.identity_gate import reference_embedding
    from ..face.reader import FaceReader

    folder = Path(folder)
    files = faceset_files(folder)
    if not refs:
        raise InputError("give at least one reference photo with --ref IMAGE")
    for ref in refs:
        if not Path(ref).is_file():
            raise InputError(f"reference image not found: {ref}")
    reader = FaceReader(detector, landmarker)
    ref_vectors = np.stack([reference_embedding(str(r), reader) for r in refs])
    embeddings = embed_faces(files, desc="filter")
    dist = np.linalg.norm(embeddings[:, None] - ref_vectors[None], axis=2).min(1)
    rejected = [p for p, d in zip(files, dist, strict=True) if d > threshold]
    moved = [] if dry_run else move_aside(folder, rejected, "other_identity")
    return {
        "faces": len(files), "kept": len(files) - len(rejected), "rejected": len(rejected),
        "moved_to": str(folder / REJECTED / "other_identity") if moved else None, "dry_run": dry_run,
        "distances": {p.name: round(float(d), 4) for p, d in zip(files, dist, strict=True)},
        "rejected_files": [p.name for p in rejected],
    }


# --- dedupe ------------------------------------------------------------------------------------------


def phash(image_bgr: np.ndarray) -> int:
    """64-bit perceptual hash: signs of the low 8x8 DCT frequencies of a 32x32 grey thumbnail."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def dedupe_faces(folder: str | Path, threshold: int = DedupeOptions.threshold, dry_run: bool = False) -> dict[str, Any]:
    """Move aside faces whose perceptual hash is within `threshold` bits of a kept face. Of a group of
    duplicates the sharpest is kept (ties: the first by name)."""
    folder = Path(folder)
    files = faceset_files(folder)
    if not 0 <= threshold <= 32:
        raise InputError(f"--threshold is in hash bits, 0..32 (got {threshold})")
    hashes, blur = [], []
    with progress.bar(total=len(files), desc="dedupe", unit="face") as bar:
        for path in files:
            image, meta = read_face(path)
            hashes.append(phash(image))
            blur.append(float(meta.get("blur", 0.0)))
            bar.update(1)
    order = sorted(range(len(files)), key=lambda i: -blur[i])  # stable: ties keep name order
    kept: list[int] = []
    duplicates: dict[str, str] = {}
    for i in order:
        twin = next((k for k in kept if (hashes[i] ^ hashes[k]).bit_count() <= threshold), None)
        if twin is None:
            kept.append(i)
        else:
            duplicates[files[i].name] = files[twin].name
    rejected = [p for p in files if p.name in duplicates]
    if not dry_run:
        move_aside(folder, rejected, "duplicates")
    return {
        "faces": len(files), "kept": len(files) - len(rejected), "duplicates": len(rejected),
        "moved_to": str(folder / REJECTED / "duplicates") if rejected and not dry_run else None,
        "dry_run": dry_run, "duplicate_of": duplicates,
    }


# --- sync with the alignments store ------------------------------------------------------------------


def sync_store(folder: str | Path, dry_run: bool = False) -> dict[str, Any]:
    """Drop the store's rows of faces no longer in the folder (so convert skips them), and list again
    faces that were moved back (their metadata says which source, frame and index they are)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"faceset folder not found: {folder}")
    present = {p.name: p for p in list_faces(folder)}
    with AlignmentsStore.in_folder(folder, create=False) as store:
        listed = store.face_files()
        missing = sorted(set(listed) - set(present))
        sources = {s.sha256: s.id for s in store.sources()}
        back = []
        for name in sorted(set(present) - set(listed)):
            meta = read_face_meta(present[name])
            sid = sources.get(str((meta.get("source") or {}).get("sha256")))
            if sid is not None and isinstance(meta.get("frame"), int):
                data = {k: v for k, v in meta.items() if k != "format"}
                back.append((sid, meta["frame"], int(meta.get("face_index", 0)), name, data))
        unknown = len(set(present) - set(listed)) - len(back)
        if not dry_run:
            store.remove_faces(missing)
            store.add_faces(back)
        counts = store.counts()
    return {"removed": len(missing), "relisted": len(back), "unknown_files": unknown, "dry_run": dry_run,
            "faces_in_store": counts["faces"], "removed_files": missing}
