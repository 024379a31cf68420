"""Fuzz facesmith's file readers for longer than the test suite does (issue 14).

    .venv/bin/python scripts/fuzz_readers.py --seconds 600          # split over every target
    .venv/bin/python scripts/fuzz_readers.py --seconds 120 --only face_meta import

Runs the targets of tests/fuzz_targets.py with hypothesis, randomly (not derandomized like the suite),
each for its share of the time, and prints per target the executions and the distinct failures found
(exception type and first line; hypothesis shrinks each one to a minimal input, printed too).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# --src DIR fuzzes another source tree (e.g. an older commit's `git archive`) with the same targets
_SRC = sys.argv[sys.argv.index("--src") + 1] if "--src" in sys.argv else str(REPO / "src")
sys.path[:0] = [_SRC, str(REPO)]

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tests import fuzz_targets as t  # noqa: E402

TARGETS = {
    "face_meta": (t.face_meta_target, (t.face_metas,)),
    "face_file": (t.face_file_target, (st.binary(max_size=2000) | t.media_bytes,)),
    "face_segment": (t.face_file_payload_target, (
        t.face_metas.map(lambda m: json.dumps(m).encode()) | st.binary(max_size=2000), st.booleans())),
    "import": (t.import_target, (t.exports,)),
    "state": (t.state_target, (t.json_values | st.fixed_dictionaries({
        "format": st.just("facesmith-checkpoint"), "iteration": t.json_values,
        "files": st.dictionaries(st.text(max_size=30), st.text(max_size=70), max_size=3),
        "config": t.json_values}),)),
    "model_config": (t.model_options_target, (st.sampled_from(["lite", "original", "hires"]), st.dictionaries(
        st.sampled_from(["size", "enc", "dec", "latent", "e_dims", "ae_dims", "d_dims", "arch", "coverage"]),
        t.json_values | st.lists(st.integers(-5, 40000), max_size=5), max_size=4))),
    "safetensors": (t.safetensors_target, (t.safetensors_bytes,)),
    "verify": (t.verify_target, (t.media_bytes, st.sampled_from([".jpg", ".png", ".mp4", ".bin"]))),
}


def fuzz(name: str, seconds: float) -> dict:
    target, strategies = TARGETS[name]
    runs = 0
    failures: dict[str, str] = {}
    deadline = time.monotonic() + seconds

    def counted(*args: object) -> None:
        nonlocal runs
        runs += 1
        target(*args)

    while time.monotonic() < deadline:
        def timed(args: tuple) -> None:
            if time.monotonic() > deadline:
                raise _TimeUp
            counted(*args)

        test = settings(max_examples=10**9, deadline=None, database=None,
                        suppress_health_check=list(HealthCheck))(given(st.tuples(*strategies))(timed))
        try:
            test()
        except _TimeUp:
            break
        except Exception as e:  # a finding: hypothesis shrank it and re-raised
            trace = "".join(traceback.format_exception(e))
            if "_TimeUp" in trace:  # the deadline hit mid-example (hypothesis reports it as flaky)
                break
            key = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            failures.setdefault(key, trace[-1500:])
            if len(failures) >= 5:
                break
    return {"target": name, "seconds": seconds, "executions": runs, "failures": failures}


class _TimeUp(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600, help="total time, split over the targets")
    parser.add_argument("--only", nargs="+", choices=sorted(TARGETS), help="fuzz these targets only")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--src", metavar="DIR", help="the facesmith source tree to fuzz (default: this one's src/)")
    args = parser.parse_args()
    names = args.only or list(TARGETS)
    results = []
    for name in names:
        result = fuzz(name, args.seconds / len(names))
        results.append(result)
        print(f"{name:14s} {result['executions']:8d} executions in {result['seconds']:.0f} s, "
              f"{len(result['failures'])} distinct failures", flush=True)
        for key, trace in result["failures"].items():
            print(f"    {key}\n{trace}", flush=True)
    total = sum(r["executions"] for r in results)
    crashes = sum(len(r["failures"]) for r in results)
    print(f"total: {total} executions, {crashes} distinct failures")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
