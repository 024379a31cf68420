"""`facesmith train` as a process: SIGKILL/SIGTERM and resume, bad input, `model info`, DDP under torchrun."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facesmith.faceset import read_face, write_face
from facesmith.models import checkpoint as ckpt_io

from .test_train import VIDEOS, extracted_facesets

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
CLI = [sys.executable, "-m", "facesmith.cli"]


@pytest.fixture
def facesets() -> tuple[Path, Path]:
    if not VIDEOS.is_dir():
        pytest.fail(f"shared test videos not found at {VIDEOS}")
    return extracted_facesets()


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=ENV, timeout=timeout)


def wait_for_checkpoint(proc: subprocess.Popen, model_dir: Path, past: int, timeout: float = 120) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        name = ckpt_io.latest_name(model_dir) if model_dir.is_dir() else None
        if name and int(name) > past:
            return int(name)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)
    raise AssertionError("no checkpoint appeared")


def test_sigkill_and_sigterm_then_resume(facesets: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = map(str, facesets)
    out = tmp_path / "m"
    args = [*CLI, "train", a, b, "-o", str(out), "--batch-size", "4", "--save-every", "5", "--preview-every", "1000",
            "--iterations", "100000", "--json"]
    # 1. killed without warning: the last complete checkpoint survives
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    saved = wait_for_checkpoint(proc, out, 0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed_at = int(ckpt_io.latest_name(out))
    assert killed_at >= saved and ckpt_io.load_latest(out).iteration == killed_at
    # 2. the same command resumes from it; SIGTERM saves the iteration it reached and exits 130
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    wait_for_checkpoint(proc, out, killed_at)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "progress so far is saved" in err and "Traceback" not in err
    stopped_at = int(ckpt_io.latest_name(out))
    assert stopped_at > killed_at
    # 3. finishing: resumes from the SIGTERM checkpoint and continues the same loss curve
    done = cli("train", a, b, "-o", str(out), "--iterations", str(stopped_at + 3), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed_from"] == stopped_at and summary["iterations"] == stopped_at + 3
    info = cli("model", "info", str(out), "--json")
    assert info.returncode == 0, info.stderr
    described = json.loads(info.stdout)
    assert described["iteration"] == stopped_at + 3 and described["model"] == "lite" and described["size"] == 64


def test_bad_input_is_one_clear_line(facesets: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = facesets
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in sorted(a.glob("*.jpg"))[:3]:
        image, meta = read_face(p)
        write_face(mixed / p.name, image, meta)
    image, meta = read_face(next(a.glob("*.jpg")))
    write_face(mixed / "small.jpg", image[::2, ::2].copy(), {**meta, "size": 128})
    not_ckpt = tmp_path / "not_ckpt"
    (not_ckpt / "checkpoints" / "00000001").mkdir(parents=True)
    (not_ckpt / "checkpoints" / "00000001" / "state.json").write_text('{"format": "something-else"}')
    cases = [
        ([str(tmp_path / "missing"), str(a)], r"faceset A not found"),
        ([str(empty), str(a)], r"faceset A .* holds no faces"),
        ([str(a), str(mixed)], r"faceset B .* mixes face sizes: 128 px \(e\.g\. small\.jpg\), 256 px"),
    ]
    for sets, pattern in cases:
        r = cli("train", *sets, "-o", str(tmp_path / "out"), "--iterations", "2")
        assert r.returncode != 0 and re.search(pattern, r.stderr), r.stderr
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = cli("train", str(a), str(a), "-o", str(not_ckpt), "--iterations", "2")
    assert r.returncode != 0 and "not a facesmith checkpoint" in r.stderr, r.stderr
    r = cli("model", "info", str(empty))
    assert r.returncode != 0 and "holds no checkpoint" in r.stderr
    r = cli("train", str(a), str(a), "-o", str(tmp_path / "o2"), "--model", "nope", "--iterations", "1")
    assert r.returncode != 0 and "unknown model 'nope'" in r.stderr


def test_ddp_two_processes_gloo(facesets: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = map(str, facesets)
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
         "-m", "facesmith.cli", "train", a, b, "-o", str(tmp_path / "ddp"), "--batch-size", "2",
         "--iterations", "4", "--save-every", "2", "--device", "cpu", "--json"],
        capture_output=True, text=True, env={**ENV, "OMP_NUM_THREADS": "1"}, timeout=240,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    hashes = dict(re.findall(r"rank (\d)/2: weights sha256 ([0-9a-f]{64})", r.stderr))
    assert set(hashes) == {"0", "1"} and hashes["0"] == hashes["1"], r.stderr[-2000:]
    summaries = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert summaries and all(s["world_size"] == 2 and s["iterations"] == 4 for s in summaries)
    assert ckpt_io.load_latest(tmp_path / "ddp").iteration == 4
