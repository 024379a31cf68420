"""`faces inspect`: statistics of a faceset and a contact sheet PNG to look at it in one picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import atomic
from ..errors import OutputError
from ..face import SAME_PERSON_THRESHOLD
from ..spacing import evenly_spaced
from . import read_face, read_face_meta
from .options import InspectOptions
from .tools import embed_faces, face_size, faceset_files


def _spread(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    return {"min": round(float(a.min()), 2), "median": round(float(np.median(a)), 2),
            "max": round(float(a.max()), 2), "std": round(float(a.std()), 2)}


def count_identities(embeddings: np.ndarray, threshold: float) -> list[int]:
    """Greedy clustering (each face joins the first cluster whose mean is within threshold);
    returns the cluster sizes, largest first."""
    centres: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, e in enumerate(embeddings):
        d = [float(np.linalg.norm(e - c)) for c in centres]
        if d and min(d) <= threshold:
            k = int(np.argmin(d))
            members[k].append(i)
            centres[k] = embeddings[members[k]].mean(0)
        else:
            centres.append(e.copy())
            members.append([i])
    return sorted((len(m) for m in members), reverse=True)


def contact_sheet(files: list[Path], path: Path, thumb: int = 96, columns: int = 12, limit: int = 240) -> int:
    """A grid of thumbnails (evenly spaced over the set when it has more than `limit`), each with its
    index in the folder's order; returns how many faces it shows."""
    picks = evenly_spaced(len(files), limit)
    columns = min(columns, len(picks))
    rows = (len(picks) + columns - 1) // columns
    sheet = np.full((rows * (thumb + 2) + 2, columns * (thumb + 2) + 2, 3), 32, np.uint8)
    for n, i in enumerate(picks):
        image, _ = read_face(files[i])
        small = cv2.resize(image, (thumb, thumb), interpolation=cv2.INTER_AREA)
        cv2.putText(small, str(i + 1), (3, thumb - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(small, str(i + 1), (3, thumb - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(n, columns)
        y, x = 2 + r * (thumb + 2), 2 + c * (thumb + 2)
        sheet[y : y + thumb, x : x + thumb] = small
    ok, buf = cv2.imencode(".png", sheet)
    if not ok:
        raise OutputError(f"cannot encode the contact sheet {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(path, buf.tobytes())
    except OSError as e:
        raise OutputError(f"cannot write the contact sheet {path}: {e.strerror}") from None
    return len(picks)


def inspect_faceset(folder: str | Path, sheet: str | Path | None = None, identities: bool = True,
                    identity_sample: int = InspectOptions.identity_sample, threshold: float = SAME_PERSON_THRESHOLD) -> dict[str, Any]:
    """Count, sizes, pose spread, blur and (on an even sample) how many people the faceset holds."""
    folder = Path(folder)
    files = faceset_files(folder)
    metas = [read_face_meta(p) for p in files]
    sheet_path = Path(sheet) if sheet else folder / "_inspect" / "contact_sheet.png"
    if sheet_path.suffix.lower() != ".png":
        raise OutputError(f"the contact sheet is a PNG: give a path ending in .png (got {sheet_path})")
    shown = contact_sheet(files, sheet_path)
    stats: dict[str, Any] = {
        "faces": len(files),
        "sources": len({str((m.get("source") or {}).get("sha256")) for m in metas}),
        "crop_size": sorted({int(m["size"]) for m in metas}),
        "face_size_px": _spread([face_size(m) for m in metas]),
        "yaw": _spread([float(m.get("yaw", 0.0)) for m in metas]),
        "pitch": _spread([float(m.get("pitch", 0.0)) for m in metas]),
        "roll": _spread([float(m.get("roll", 0.0)) for m in metas]),
        "blur": _spread([float(m.get("blur", 0.0)) for m in metas]),
        "contact_sheet": str(sheet_path),
        "faces_on_sheet": shown,
    }
    if identities:
        picks = evenly_spaced(len(files), identity_sample)
        clusters = count_identities(embed_faces([files[i] for i in picks], desc="identities"), threshold)
        stats["identities"] = len(clusters)
        stats["identity_cluster_sizes"] = clusters
        stats["identity_sampled_faces"] = len(picks)
    return stats
