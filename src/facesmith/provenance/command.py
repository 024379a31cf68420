"""`facesmith verify FILE...`: report the facesmith marks of media files.

Exit code: 0 when at least one file is marked (watermark, metadata or facesmith C2PA manifest), 1 when
none is, 2 on bad input (missing file, not an image or video) as for every facesmith error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
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
    p.add_argument("--model", action="append", default=[], metavar="MODEL",
                   help="also test for this model's mark (a model folder or its fingerprint; repeatable): "
                        "finds it after attacks that leave too little of the mark to decode blind")
    p.add_argument("--report", metavar="FILE.html",
                   help="also write an HTML report: each file's verdict and its per-frame watermark strength")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ..errors import InputError
    from .report import describe, write_report
    from .verify import verify

    if args.frames < 1:
        raise InputError("--frames must be at least 1")
    report = _report_path(args.report, args.files) if args.report else None
    reports = verify(args.files, max_frames=args.frames, models=args.model)
    for r in reports:
        if not args.json:
            progress.log(describe(r))
    if report is not None:
        write_report(report, reports)
    marked = sum(r["marked"] for r in reports)
    return {"files": len(reports), "marked_files": marked, "results": reports,
            "exit_code": 0 if marked else 1}




def _report_path(value: str, inputs: list[str]) -> Path:
    from ..errors import InputError

    path = Path(value)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--report {value}: give an .html file name")
    if path.is_dir() or not path.parent.is_dir():
        raise InputError(f"--report {value}: not a file in an existing folder")
    if any(path.resolve() == Path(i).resolve() for i in inputs):
        raise InputError(f"--report {value} is one of the files to verify; it is never written over")
    return path
