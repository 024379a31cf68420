"""`facesmith swap` end to end on short clips of the shared pair, killed mid-way and resumed.

The subprocess runs the real CLI with `lite` shrunk to a tiny width (set before the CLI starts) so
that training takes seconds; everything else is the shipped code path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import facesmith
from facesmith.errors import InputError, OutputError
from facesmith.faceset import list_faces
from facesmith.media.video import probe_video
from facesmith.models import checkpoint as ckpt_io

from .test_convert import TINY, VIDEOS, cut_clip, packets

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
       "OMP_NUM_THREADS": "1"}
TINY_CLI = (
    "import sys\n"
    "from facesmith.models.lite import Lite\n"
    "from facesmith.models.liae import Liae\n"
    f"Lite.DEFAULTS.update({TINY!r}, lr=2e-3, batch_size=8)\n"
    f"Liae.DEFAULTS.update({TINY!r}, lr=2e-3, batch_size=8)\n"
    "from facesmith.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not VIDEOS.is_dir():
        pytest.fail(f"shared test videos not found at {VIDEOS}")
    root = tmp_path_factory.mktemp("clips")
    return (cut_clip(VIDEOS / "identity_a.mp4", root / "source.mp4", 3.0),
            cut_clip(VIDEOS / "identity_b.mp4", root / "target.mp4", 1.5))


def swap_cmd(source: Path, target: Path, out: Path, work: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", TINY_CLI, "swap", str(source), str(target), "-o", str(out), "--workdir", str(work),
            "--iterations", "120", "--save-every", "10", "--every", "2", "--json", *extra]


def state(work: Path) -> dict:
    return json.loads((work / "state.json").read_text())


def rerun_after_kill_past_rename(cmd: list[str], out: Path, work: Path) -> None:
    """A swap killed after convert renamed OUT into place, before the stage was recorded (found by
    scripts/soak.py): the re-run replaces its own output instead of refusing it as someone else's."""
    data = state(work)
    data["stages"]["convert"] = {"done": False, "summary": {"output": str(out), "settings": "?"}}
    (work / "state.json").write_text(json.dumps(data))
    redo = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert redo.returncode == 0, redo.stderr
    assert not json.loads(redo.stdout)["stages"]["convert"]["reused"] and probe_video(out).frame_count == 45


def test_swap_resumes_after_sigkill(clips: tuple[Path, Path], tmp_path: Path) -> None:
    source, target = clips
    out, work = tmp_path / "swapped.mp4", tmp_path / "work"
    cmd = swap_cmd(source, target, out, work)
    # 1. killed without warning once training has saved a checkpoint
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 240
    while not (ckpt_io.latest_name(work / "model") if (work / "model").is_dir() else None):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed = state(work)["stages"]
    assert killed["extract-source"]["done"] and killed["extract-target"]["done"]
    assert not killed.get("convert", {}).get("done") and not out.exists()
    faces_before = sorted(p.name for p in (work / "faces_target").iterdir())
    # 2. the same command finishes the job, reusing what was done
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    stages = summary["stages"]
    assert stages["extract-source"]["reused"] and stages["extract-target"]["reused"]
    if "train" in killed:  # killed after training: only convert was left
        assert stages["train"]["reused"]
    else:
        assert not stages["train"]["reused"] and stages["train"]["resumed_from"] >= 10
    assert stages["train"]["iterations"] == 120
    assert stages["convert"]["frames"] == 45 and stages["convert"]["faces_swapped"] >= 40
    coverage = summary["pose_coverage"]  # said before training: the target's faces beyond the source's poses
    assert coverage["target_faces"] == len(list_faces(work / "faces_target")) >= coverage["beyond_source_poses"]
    assert "[1/4] extract-source: done before, reused" in done.stderr and "[4/4] convert" in done.stderr
    assert sorted(p.name for p in (work / "faces_target").iterdir()) == faces_before
    info = probe_video(out)
    assert info.frame_count == 45 and info.duration == pytest.approx(probe_video(target).duration, abs=1 / 30)
    assert packets(out, "audio") == packets(target, "audio")
    # 3. once more: nothing to do, the output is left as it is
    mtime = out.stat().st_mtime_ns
    again = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)
    assert again.returncode == 0, again.stderr
    assert all(s["reused"] for s in json.loads(again.stdout)["stages"].values())
    assert out.stat().st_mtime_ns == mtime
    # 4. a bigger budget continues training and converts again (its own output is replaced)
    more = subprocess.run([*cmd[:cmd.index("--iterations") + 1], "130", *cmd[cmd.index("--iterations") + 2:]],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert more.returncode == 0, more.stderr
    stages = json.loads(more.stdout)["stages"]
    assert stages["extract-target"]["reused"] and not stages["train"]["reused"] and not stages["convert"]["reused"]
    assert stages["train"]["resumed_from"] == 120 and stages["train"]["iterations"] == 130
    assert out.stat().st_mtime_ns != mtime and probe_video(out).frame_count == 45
    # 5. other blending settings: only convert runs again
    recolour = subprocess.run([*cmd[:cmd.index("--iterations") + 1], "130", *cmd[cmd.index("--iterations") + 2:],
                               "--color", "histogram"], capture_output=True, text=True, env=ENV, timeout=300)
    assert recolour.returncode == 0, recolour.stderr
    stages = json.loads(recolour.stdout)["stages"]
    assert stages["train"]["reused"] and not stages["convert"]["reused"]
    rerun_after_kill_past_rename(recolour.args, out, work)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped.mp4", "work"]


def test_swap_refuses_before_any_work(clips: tuple[Path, Path], tmp_path: Path) -> None:
    source, target = clips
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"x")
    with pytest.raises(OutputError, match="--overwrite"):
        facesmith.swap(source, target, existing, workdir=tmp_path / "w1", iterations=1)
    with pytest.raises(OutputError, match="does not exist"):
        facesmith.swap(source, target, tmp_path / "nope" / "o.mp4", iterations=1)
    with pytest.raises(InputError, match="TARGET must be a video"):
        facesmith.swap(source, source.parent, tmp_path / "o.mp4", iterations=1)
    # a work folder belongs to its inputs
    work = tmp_path / "w2"
    work.mkdir()
    (work / "state.json").write_text(json.dumps({"format": 1, "source": {"sha256": "0" * 64, "path": "/else"},
                                                 "target": {"sha256": "1" * 64}, "model": "liae", "stages": {}}))
    with pytest.raises(InputError, match="belongs to another SOURCE"):
        facesmith.swap(source, target, tmp_path / "o.mp4", workdir=work, iterations=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.mp4", "w2"]
