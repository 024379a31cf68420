"""Soak test (issue 14): N consecutive extract -> train -> convert jobs on short clips, each killed at
random moments and re-run until it completes; every re-run must complete and leave valid outputs.

    .venv/bin/python scripts/soak.py --runs 30 --json /tmp/soak.json

Each run is `facesmith swap` (extract SOURCE and TARGET, train a tiny `lite`, convert) in a fresh work
folder, started 1 to --kills times and killed (SIGKILL, or SIGTERM one time in four) after a random
delay, then run to the end. Checked after each run: exit 0 with no traceback on any start, every stage
recorded, the faces readable, the model loadable, the output with the target's frame count and marked,
and no temporary file left beside the output or in the work folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.test_convert import TINY, VIDEOS, cut_clip  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
TINY_CLI = ("import sys\nfrom facesmith.models.lite import Lite\n"
            f"Lite.DEFAULTS.update({TINY!r}, lr=2e-3, batch_size=8)\n"
            "from facesmith.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def check_outputs(work: Path, out: Path, target: Path) -> list[str]:
    from facesmith.faceset import list_faces, read_face
    from facesmith.media.video import probe_video
    from facesmith.models import load_model
    from facesmith.provenance import verify

    problems = []
    state = json.loads((work / "state.json").read_text())
    missing = [s for s in ("extract-source", "extract-target", "train", "convert")
               if not state["stages"].get(s, {}).get("done")]
    if missing:
        problems.append(f"stages not recorded: {missing}")
    for faces in (work / "faces_source", work / "faces_target"):
        files = list_faces(faces)
        if not files:
            problems.append(f"{faces.name} is empty")
        for f in files:
            read_face(f)
    load_model(work / "model")
    if probe_video(out).frame_count != probe_video(target).frame_count:
        problems.append("output frame count differs from the target's")
    if not verify([out], 2)[0]["marked"]:
        problems.append("output is not marked")
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    leftovers += [str(p.relative_to(work)) for p in work.rglob("*") if p.name.endswith(".part")
                  or p.name.startswith(".tmp-")]
    if leftovers:
        problems.append(f"temporary files left: {leftovers[:5]}")
    return problems


def one_run(i: int, clips: tuple[Path, Path], root: Path, rng: random.Random, kills: int,
            max_delay: float) -> dict:
    source, target = clips
    folder = root / f"run{i:04d}"
    folder.mkdir()
    out, work = folder / "out.mp4", folder / "work"
    cmd = [sys.executable, "-c", TINY_CLI, "swap", str(source), str(target), "-o", str(out), "--workdir", str(work),
           "--iterations", "30", "--save-every", "10", "--every", "2", "-q"]
    record: dict = {"run": i, "kills": [], "ok": False}
    started = time.monotonic()
    for _ in range(rng.randint(1, kills)):
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        delay = rng.uniform(0.3, max_delay)
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            sig = signal.SIGTERM if rng.random() < 0.25 else signal.SIGKILL
            proc.send_signal(sig)
            proc.wait()
            record["kills"].append({"after_s": round(delay, 1), "signal": sig.name})
        err = proc.stderr.read() if proc.stderr else ""
        if "Traceback" in err:
            record["error"] = f"traceback in an interrupted start: {err[-800:]}"
            return record
        if proc.returncode == 0:
            break
    final = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=900)
    record["seconds"] = round(time.monotonic() - started, 1)
    if final.returncode != 0 or "Traceback" in final.stderr:
        record["error"] = f"re-run exit {final.returncode}: {final.stderr[-800:]}"
        return record
    problems = check_outputs(work, out, target)
    if problems:
        record["error"] = "; ".join(problems)
        return record
    record["ok"] = True
    shutil.rmtree(folder, ignore_errors=True)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--kills", type=int, default=3, help="at most this many killed starts per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay", type=float, default=8.0,
                        help="kill after a random 0.3..this many seconds (a whole run takes ~6-40 s on 2 cores)")
    parser.add_argument("--minutes", type=float, default=0, help="stop starting new runs after this long (0: none)")
    parser.add_argument("--json", metavar="PATH", help="write every run's record here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="facesmith-soak-"))
    clips = (cut_clip(VIDEOS / "identity_a.mp4", root / "source.mp4", 2.0),
             cut_clip(VIDEOS / "identity_b.mp4", root / "target.mp4", 1.5))
    records = []
    stop = time.monotonic() + args.minutes * 60 if args.minutes else float("inf")
    for i in range(args.runs):
        if time.monotonic() > stop:
            break
        record = one_run(i, clips, root, rng, args.kills, args.max_delay)
        records.append(record)
        print(f"run {i}: {'ok' if record['ok'] else 'FAILED'} after {len(record['kills'])} kills "
              f"({record.get('seconds', '?')} s){'' if record['ok'] else ': ' + record['error'][:300]}", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(records, indent=2))
    failed = [r for r in records if not r["ok"]]
    kills = sum(len(r["kills"]) for r in records)
    print(f"{len(records)} runs, {kills} kills, {len(failed)} failed; work in {root}")
    if not failed:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
