"""The `facesmith` command line.

Each subcommand lives in its own module exposing `add_parser(subparsers)` and `run(args) -> dict`;
the returned dict is the summary printed on stdout with `--json`. Expected failures raise
FacesmithError and become one line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import signal
import sqlite3
import sys
from typing import Any

from . import progress
from ._version import __version__
from .errors import FacesmithError

# subcommand name -> module (imported only when that subcommand runs, so `--help` stays fast)
COMMANDS: dict[str, str] = {
    "extract": "facesmith.extract.command",
    "train": "facesmith.train.command",
    "model": "facesmith.train.model_command",
    "convert": "facesmith.convert.command",
    "swap": "facesmith.swap.command",
    "verify": "facesmith.provenance.command",
    "faces": "facesmith.faceset.command",
    "evaluate": "facesmith.evaluate.command",
    "live": "facesmith.live.command",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other error
        self.exit(2, f"facesmith: error: {message} (see `{self.prog} --help`)\n")


def common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one machine-readable summary object on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or logs on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="facesmith", description="Offline face swapping for video; every output is marked as synthetic.")
    parser.add_argument("--version", action="version", version=f"facesmith {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name in COMMANDS.values():
        module = importlib.import_module(module_name)
        p = module.add_parser(sub)
        common_options(p)
        p.set_defaults(_run=module.run)
    return parser


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        return
    for key, value in summary.items():
        if isinstance(value, (dict, list)):
            continue
        print(f"{key.replace('_', ' ')}: {value}")


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def _write_failure(error: BaseException) -> str | None:
    """One line for a failure of the disk under any stage (full, read-only), wherever it surfaced: a
    worker thread, an encoder, SQLite. None for anything else (a bug, which keeps its traceback)."""
    if isinstance(error, sqlite3.OperationalError):
        text = str(error)
        if "disk is full" in text or "disk I/O error" in text:
            return f"the disk is full or failing ({text}); free some space and re-run to resume"
        if "readonly" in text:
            return f"an alignments store is read-only ({text}); copy the faceset somewhere writable"
        return None
    if not isinstance(error, OSError) or error.errno not in _FULL + _READ_ONLY:
        return None
    where = f" writing {error.filename}" if error.filename else ""
    if error.errno in _FULL:
        return f"the disk is full{where} ({error.strerror}); free some space and re-run to resume"
    if error.errno == errno.EROFS:
        return f"cannot write{where}: the file system is read-only"
    return f"no permission{where.replace('writing', 'to access')}: {error.strerror}"


def main(argv: list[str] | None = None) -> int:
    # A SIGTERM behaves like Ctrl-C so jobs can save their state on the way out.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:  # a Ctrl-C or SIGTERM while the subcommand's modules import is no traceback either
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        sys.stderr.write("facesmith: interrupted before any work started\n")
        return 130
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    progress.QUIET = args.quiet
    try:
        summary = args._run(args)
    except FacesmithError as e:
        sys.stderr.write(f"facesmith: error: {e}\n")
        if args.json:
            sys.stdout.write(json.dumps({"ok": False, "error": str(e)}) + "\n")
        return e.exit_code
    except (OSError, sqlite3.OperationalError) as e:
        message = _write_failure(e)
        if message is None:
            raise
        sys.stderr.write(f"facesmith: error: {message}\n")
        if args.json:
            sys.stdout.write(json.dumps({"ok": False, "error": message}) + "\n")
        return 3
    except KeyboardInterrupt:
        sys.stderr.write("facesmith: interrupted; progress so far is saved, re-run the same command to resume\n")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    _print_summary({"ok": True, **summary}, args.json)
    return 0 if summary.get("exit_code", 0) == 0 else int(summary["exit_code"])


if __name__ == "__main__":
    sys.exit(main())
