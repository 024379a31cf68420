"""`facesmith verify FILE...`: report the facesmith marks of media files.

Exit code: 0 when at least one file is marked (watermark, metadata or facesmith C2PA manifest), 1 when
none is, 2 on bad input (missing file, not an image or video) as for every facesmith error.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import progress


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "verify", help="tell whether media was made by facesmith (watermark, metadata, C2PA manifest)",
        description="For each file: marked or not, the watermark payload and its confidence, the "
                    "metadata found and the C2PA manifest's status. Exit code 0 if any file is marked, "
                    "1 if none is, 2 on bad input.")
    p.add_argument("files", nargs="+", metavar="FILE", help="videos, images or folders of them")
    p.add_argument("--frames", type=int, default=30, metavar="N",
                   help="video frames read per file, evenly spaced (default 30)")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ..errors import InputError
    from .verify import verify

    if args.frames < 1:
        raise InputError("--frames must be at least 1")
    reports = verify(args.files, max_frames=args.frames)
    for r in reports:
        if not args.json:
            progress.log(_describe(r))
    marked = sum(r["marked"] for r in reports)
    return {"files": len(reports), "marked_files": marked, "results": reports,
            "exit_code": 0 if marked else 1}


def _describe(r: dict[str, Any]) -> str:
    wm = r["watermark"]
    if wm["found"]:
        p = wm["payload"]
        mark = (f"watermark: facesmith v{p['version']}, model {p['model']}, bit accuracy "
                f"{wm['bit_accuracy']:.1%}, in {wm['frames_marked']}/{wm['frames_checked']} frames")
    else:
        mark = f"watermark: none ({wm['faces_checked']} faces in {wm['frames_checked']} frames)"
    meta = "metadata: " + (", ".join(f"{k}={v}" for k, v in r["metadata"].items()) if r["metadata"] else "none")
    c = r["c2pa"]
    c2pa = "c2pa: " + ("none" if not c["present"] else
                       f"{c.get('validation_state')}{' (trusted)' if c['trusted'] else ''}")
    return f"{r['path']}: {'MARKED' if r['marked'] else 'not marked'}\n  {mark}\n  {meta}\n  {c2pa}"
