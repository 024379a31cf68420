"""CLI for `facesmith faces`: sort, filter, dedupe, inspect and sync a faceset folder."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .. import atomic, schema
from ..errors import InputError, OutputError
from ..locking import folder_lock
from ..options import add_options, options_of
from .face_file import FACE_SUFFIXES
from .options import SORT_KEYS, TOOL_OPTIONS


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "faces",
        help="sort, filter, dedupe, inspect and sync a faceset",
        description="Curate a faceset folder. Nothing is deleted: rejected faces are moved into "
        "DIR/_rejected/<reason>/ (out of training; move them back to restore). Run `faces sync DIR` "
        "afterwards so convert skips the faces you removed.",
    )
    tools = p.add_subparsers(dest="faces_command", metavar="TOOL", parser_class=type(p))
    tools.required = True

    def tool(name: str, help_text: str) -> argparse.ArgumentParser:
        t = tools.add_parser(name, help=help_text, description=help_text)
        t.add_argument("dir", metavar="DIR", help="faceset folder")
        t.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print one machine-readable summary object on stdout")
        t.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars or logs on stderr")
        if name in TOOL_OPTIONS:
            add_options(t, TOOL_OPTIONS[name])
        return t

    tool("sort", "rename the faces 0001__<name>, 0002__<name>, ... in the chosen order "
                 "(blur/size: best first; yaw/pitch: one side to the other; identity: the main person "
                 "first, others last; histogram: similar-looking faces together)")
    tool("filter", "keep only the person in the reference photos; move the others to _rejected/other_identity")
    tool("dedupe", "move near-duplicate faces to _rejected/duplicates (keeps the sharpest of each group)")
    tool("inspect", "statistics and a contact sheet PNG of the faceset")
    tool("sync", "drop deleted or moved-aside faces from the alignments store (convert then skips "
                 "them) and list again faces that were moved back")

    t = tool("export", "write the alignments store as JSON")
    t.add_argument("-o", "--output", required=True, metavar="JSON", help="file to write (outside the faceset)")
    t.add_argument("--overwrite", action="store_true", help="replace JSON if it exists")

    t = tool("import", "load alignments from JSON (its sources replace those with the same SHA-256)")
    t.add_argument("input", metavar="JSON", help="file written by `faces export`")
    return p


_CHANGES_FACESET = ("sort", "filter", "dedupe", "sync", "import")


def run(args: argparse.Namespace) -> dict[str, Any]:
    cmd, folder = args.faces_command, Path(args.dir)
    if cmd in _CHANGES_FACESET and not getattr(args, "dry_run", False) and folder.is_dir():
        with folder_lock(folder, "faceset"):  # one process edits a faceset at a time
            return _run(args, cmd, folder)
    return _run(args, cmd, folder)


def _run(args: argparse.Namespace, cmd: str, folder: Path) -> dict[str, Any]:
    from . import sheet, tools

    if cmd in TOOL_OPTIONS:
        opt: Any = TOOL_OPTIONS[cmd](**options_of(args, TOOL_OPTIONS[cmd]))
    if cmd == "sort":
        if opt.undo:
            return tools.unsort_faces(folder)
        if not opt.by:
            raise InputError(f"give the order with --by {{{','.join(SORT_KEYS)}}}, or --undo")
        return tools.sort_faces(folder, opt.by, threshold=opt.threshold)
    if cmd == "filter":
        return tools.filter_faces(folder, opt.ref, threshold=opt.threshold, dry_run=opt.dry_run)
    if cmd == "dedupe":
        return tools.dedupe_faces(folder, threshold=opt.threshold, dry_run=opt.dry_run)
    if cmd == "inspect":
        if opt.identity_sample < 1:
            raise InputError("--identity-sample must be at least 1")
        return sheet.inspect_faceset(folder, opt.sheet, identities=opt.identities,
                                     identity_sample=opt.identity_sample)
    if cmd == "sync":
        return tools.sync_store(folder, dry_run=opt.dry_run)
    if not folder.is_dir():
        raise InputError(f"faceset folder not found: {folder}")
    if cmd == "export":
        return _export(folder, Path(args.output), args.overwrite)
    return _import(folder, Path(args.input))


def _export(folder: Path, output: Path, overwrite: bool) -> dict[str, Any]:
    """The store as JSON, never onto the faceset's own files nor over a file without --overwrite."""
    from .store import STORE_NAME, AlignmentsStore

    if Path(os.path.realpath(output)).parent == Path(os.path.realpath(folder)) and (
            output.name.startswith(STORE_NAME) or output.suffix.lower() in FACE_SUFFIXES):
        raise OutputError(f"{output} is part of the faceset {folder}; export to a file outside it")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} already exists; pass --overwrite to replace it")
    if output.is_dir():
        raise OutputError(f"{output} is a folder; give a file name")
    with AlignmentsStore.in_folder(folder, create=False, readonly=True) as store:
        data = store.export_dict()
    try:
        atomic.remove_stale_parts(output)
        atomic.write_json(output, data)
    except OSError as e:
        raise OutputError(f"cannot write {output}: {e.strerror}") from None
    faces = sum(len(fr["faces"]) for s in data["sources"] for fr in s["frames"])
    return {"output": str(output), "sources": len(data["sources"]), "faces": faces}


def _import(folder: Path, source: Path) -> dict[str, Any]:
    from .store import STORE_NAME, AlignmentsStore

    try:
        data = schema.loads(source.read_bytes(), f"alignments export {source}")
    except FileNotFoundError:
        raise InputError(f"alignments export not found: {source}") from None
    except OSError as e:
        raise InputError(f"cannot read {source} ({e.strerror or e})") from None
    with AlignmentsStore(folder / STORE_NAME) as store:
        return {"imported": store.import_dict(data), "faces_in_store": store.counts()["faces"]}
