"""Helpers of the hardening tests (issue 14): the CLI as a user runs it, and a private mount namespace
for a full disk or a read-only folder (the tests run as root, whom file modes do not stop)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
VIDEOS = DATA / "video"
IMAGES = DATA / "images"
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
       "OMP_NUM_THREADS": "1"}
CLI = [sys.executable, "-m", "facesmith.cli"]


def run_cli(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args), "-q"], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess, *, code: int | None = None, match: str = "") -> str:
    """The run failed with exactly one `facesmith: error:` line (and no traceback); returns it."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode not in (0, 1), (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("facesmith: error: "), result.stderr[-2000:]
    if code is not None:
        assert result.returncode == code, (result.returncode, lines[0])
    assert match.lower() in lines[0].lower(), lines[0]
    return lines[0]


def digest_tree(path: Path) -> dict[str, str]:
    """Every file under `path` (or the file itself) -> SHA-256, to prove an input was not touched."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def copy_faceset(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".facesmith.lock", "*-wal", "*-shm"))
    return dst


def namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not namespaces_work(), reason="needs unprivileged mount namespaces (unshare -rm)")


def run_cli_mounted(setup: str, *args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI inside a private user + mount namespace after the shell commands `setup` (e.g. a 2 MB
    tmpfs, a read-only bind mount): the machine's own mounts are never changed."""
    cli = " ".join(shlex.quote(str(a)) for a in [*CLI, *args, "-q"])
    return subprocess.run(["unshare", "-rm", "sh", "-c", f"{setup} && exec {cli}"], capture_output=True,
                          text=True, env=ENV, timeout=timeout)


def read_only(folder: Path) -> str:
    """Shell commands making `folder` read-only inside the namespace."""
    q = shlex.quote(str(folder))
    return f"mount --bind {q} {q} && mount -o remount,bind,ro {q}"


def small_disk(folder: Path, size: str) -> str:
    q = shlex.quote(str(folder))
    return f"mkdir -p {q} && mount -t tmpfs -o size={size} tmpfs {q}"
