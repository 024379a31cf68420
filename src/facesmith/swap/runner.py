"""`facesmith swap SOURCE TARGET -o OUT.mp4`: extract both, train, convert, in a resumable work folder.

    facesmith.swap("me.mp4", "scene.mp4", "scene_as_me.mp4", minutes=30)

Stages, each recorded in WORKDIR/state.json (written atomically) once finished:

1. extract-source: faces of SOURCE (side A; the largest face of each frame) -> WORKDIR/faces_source
2. extract-target: faces of TARGET (side B; every frame, so convert needs no detection) -> faces_target
3. train: a model (default `liae`, see plan.py) on A and B -> WORKDIR/model, up to a total time (or iteration) budget
4. convert: TARGET with direction b2a (target faces drawn as the source person) -> OUT

An interrupted stage resumes on its own: extraction continues from its last commit, training from its
last checkpoint with the budget minus the time already trained. Convert starts over (it writes OUT
under a temporary name, so an interrupted convert leaves nothing behind). Asking for a larger budget
later re-opens the train stage and converts again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import progress, schema
from ..atomic import write_json
from ..devices import pick_device
from ..errors import InputError, OutputError
from ..guards import output_folder, refuse_overlap
from ..media.inputs import expand_inputs, file_sha256
from .options import TRAIN_PASSTHROUGH, SwapOptions, SwapSummary
from .plan import SwapPlan, plan_swap

STATE_FORMAT = 1
STAGES = ("extract-source", "extract-target", "train", "convert")
SOURCE_FACES = 3000  # about how many frames of a SOURCE video are extracted by default


def _fingerprint(path: Path, label: str) -> dict[str, Any]:
    """What identifies an input: its files' hashes (a folder: every media file directly inside)."""
    sources = expand_inputs([path])
    if label == "target" and (len(sources) != 1 or sources[0].kind != "video"):
        raise InputError(f"TARGET must be a video file, not {path}; for photos use `facesmith convert`")
    digest = hashlib.sha256()
    for s in sources:
        digest.update(f"{s.path.name}\0{file_sha256(s.path)}\n".encode())
    return {"path": str(Path(os.path.abspath(path))), "sha256": digest.hexdigest(), "files": len(sources)}


_INPUT = schema.obj({}, {"path": schema.string(), "sha256": schema.string(128)})
_STATE_FILE = schema.obj({}, {"source": _INPUT, "target": _INPUT, "model": schema.string(64),
                              "stages": schema.mapping(schema.nullable(schema.obj(
                                  {}, {"done": schema.boolean(), "summary": schema.obj({})})))})


class _State:
    """WORKDIR/state.json: the inputs the folder belongs to and the stages finished."""

    def __init__(self, workdir: Path, inputs: dict[str, Any]):
        self.path = workdir / "state.json"
        self.data: dict[str, Any] = {"format": STATE_FORMAT, **inputs, "stages": {}}
        if not self.path.is_file():
            return
        try:
            old = schema.validate(schema.loads(self.path.read_bytes(), str(self.path)), _STATE_FILE, str(self.path))
        except (OSError, InputError) as e:
            raise InputError(f"{self.path} is unreadable ({e}); delete the work folder to start over") from None
        for key in ("source", "target"):
            if old.get(key, {}).get("sha256") != inputs[key]["sha256"]:
                raise InputError(f"the work folder {workdir} belongs to another {key.upper()} "
                                 f"({old.get(key, {}).get('path')}); use another --workdir or delete it")
        if old.get("model") != inputs["model"]:
            raise InputError(f"the work folder {workdir} holds a {old.get('model')!r} model, not {inputs['model']!r}; "
                             "use another --workdir, or the same --model")
        self.data["stages"] = old.get("stages", {})

    def get(self, stage: str) -> dict[str, Any] | None:
        entry = self.data["stages"].get(stage)
        return entry if entry and entry.get("done") else None

    def finish(self, stage: str, summary: dict[str, Any]) -> None:
        self.data["stages"][stage] = {"done": True, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                      "summary": summary}
        write_json(self.path, self.data)

    def begin(self, stage: str, summary: dict[str, Any]) -> None:
        """Record a stage as started (not done), so a re-run knows what it may already have written."""
        self.data["stages"][stage] = {"done": False, "summary": summary}
        write_json(self.path, self.data)

    def reopen(self, *stages: str) -> None:
        for stage in stages:
            self.data["stages"].pop(stage, None)


def _flat(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}


def swap(source: str | Path, target: str | Path, output: str | Path, **options: Any) -> SwapSummary:
    """Run (or resume) the whole swap; returns a summary with one entry per stage. Options: the fields of
    SwapOptions (swap/options.py), and convert's blending and output options (ConvertOptions)."""
    opt, train_options, convert_options = _split_options(options)
    started = time.monotonic()
    source, target, output = Path(source), Path(target), Path(os.path.abspath(output))
    workdir = Path(os.path.abspath(opt.workdir)) if opt.workdir else output.with_name(output.stem + ".swap-work")
    if not output.parent.is_dir():  # before the work folder beside it is made
        raise OutputError(f"the folder {output.parent} does not exist; create it first or choose another output path")
    refuse_overlap(output, [("SOURCE", source)], "output")  # convert's own check protects TARGET
    refuse_overlap(workdir, [("SOURCE", source), ("TARGET", target), ("OUT", output)], "work folder")
    dev = pick_device(opt.device)
    plan = plan_swap(dev, opt.quality, opt.minutes, opt.iterations, opt.model, opt.upscale)
    progress.log(f"plan: {plan.reason}")
    inputs = {"source": _fingerprint(source, "source"), "target": _fingerprint(target, "target"), "model": plan.model}
    with output_folder(workdir, "swap work folder"):  # removed again if a refusal leaves it empty
        state = _State(workdir, inputs)
        return _run_stages(source, target, output, workdir, state, dev, plan=plan, every=opt.every,
                           batch_size=opt.batch_size,
                           save_every=opt.save_every, size=opt.size, overwrite=opt.overwrite,
                           model_options=opt.model_options, train_options=train_options,
                           convert_options=convert_options, started=started)


def _run_stages(source: Path, target: Path, output: Path, workdir: Path, state: _State, dev: str, *,
                plan: SwapPlan, every: int | None,
                batch_size: int | None, save_every: int, size: int, overwrite: bool,
                model_options: dict[str, Any] | None, train_options: dict[str, Any],
                convert_options: dict[str, Any], started: float) -> SwapSummary:
    from ..convert.options import ConvertOptions
    from ..convert.output import plan_output
    from ..convert.pipeline import convert as run_convert

    budget = {"iterations": plan.iterations} if plan.iterations else {"minutes": plan.minutes}
    settings = json.dumps(convert_options, sort_keys=True, default=str)
    ours = _reopen_what_changed(state, budget, settings, output)
    if not (ours and output.exists() and state.get("train")):
        plan_output(target, expand_inputs([target]), output, overwrite or ours, 0)  # refuse a bad OUT now
    faces_a, faces_b, model_dir = workdir / "faces_source", workdir / "faces_target", workdir / "model"
    report: SwapSummary = {"workdir": str(workdir), "output": str(output), "plan": plan.to_dict(), "stages": {},
                           "seconds": 0.0}

    def run_stage(number: int, name: str, what: str, work: Callable[[], dict[str, Any]]) -> None:
        done = state.get(name)
        if done and (name != "convert" or output.exists()):
            progress.log(f"[{number}/4] {name}: done before, reused")
            report["stages"][name] = {"reused": True, **done["summary"]}
            return
        progress.log(f"[{number}/4] {name}: {what}")
        summary = work()
        state.finish(name, _flat(summary))
        report["stages"][name] = {"reused": False, **_flat(summary)}

    def train() -> dict[str, Any]:
        return _train_stage(plan, budget, faces_a, faces_b, model_dir, device=dev, batch_size=batch_size,
                            save_every=save_every, model_options=model_options, **train_options)

    def convert() -> dict[str, Any]:
        state.begin("convert", {"output": str(output), "settings": settings})
        summary = run_convert(target, model_dir, output, direction="b2a", alignments=str(faces_b),
                              overwrite=overwrite or ours, device=dev,
                              **convert_options)
        return {**summary, "output": str(output), "settings": settings}

    step = every or _source_step(source)
    run_stage(1, "extract-source", f"faces of {source.name} (identity A)" + (f", every {step} frames" if step > 1 else ""),
              lambda: _extract_faces(source, faces_a, "SOURCE", step, size))
    run_stage(2, "extract-target", f"faces of {target.name} (identity B), every frame",
              lambda: _extract_faces(target, faces_b, "TARGET", 1, size))
    report["pose_coverage"] = _pose_coverage(faces_a, faces_b, ConvertOptions(**convert_options).unseen_pose)
    budget_text = f"to iteration {plan.iterations}" if plan.iterations else f"{budget['minutes']:g} minutes in all"
    run_stage(3, "train", f"model {plan.model} on {dev}, {budget_text}" + (f" + upscaler x{plan.upscale}" if plan.upscale
              else "") + " (Ctrl-C saves; re-run to resume)", train)
    run_stage(4, "convert", f"{target.name} -> {output.name}", convert)
    report["seconds"] = round(time.monotonic() - started, 2)
    return report


def _pose_coverage(faces_a: Path, faces_b: Path, mode: str) -> dict[str, Any]:
    """How many of the target's faces are at head poses the source never shows (convert's --unseen-pose
    then swaps, fades or keeps them), said before the training time is spent."""
    from ..engine.names import FAMILIAR_POSE
    from ..face.pose import PoseRange, pose_cells
    from ..faceset import face_poses, list_faces, read_face_meta

    source = PoseRange(pose_cells(face_poses([read_face_meta(p) for p in list_faces(faces_a)])))
    far = [source.distance(y, p) for y, p in face_poses([read_face_meta(p) for p in list_faces(faces_b)])]
    beyond = sum(d > FAMILIAR_POSE for d in far)
    if beyond:
        fate = {"swap": "convert swaps them anyway (--unseen-pose fade or keep: the target's own face there)",
                "fade": "convert fades them towards the target's own face (--unseen-pose fade)",
                "keep": "convert leaves the farthest as they are (--unseen-pose keep)"}[mode]
        progress.log(f"pose coverage: {beyond} of {len(far)} target faces ({beyond / len(far):.0%}) are more than "
                     f"{FAMILIAR_POSE:g} degrees from any pose the source shows (up to {max(far):.0f}); {fate}")
    return {"target_faces": len(far), "beyond_source_poses": beyond, "farthest_degrees": round(max(far, default=0), 1)}


def _train_stage(plan: SwapPlan, budget: dict[str, Any], faces_a: Path, faces_b: Path, model_dir: Path,
                 **train_options: Any) -> dict[str, Any]:
    """Train (or continue) the model to its budget, then the per-identity upscaler the plan asks for
    (after the model: it learns that model's blur)."""
    from ..models.checkpoint import describe, has_checkpoint
    from ..train.loop import train as run_train

    done_s = (describe(model_dir).get("train_seconds") or 0.0) if has_checkpoint(model_dir) else 0.0
    left = None if plan.iterations else budget["minutes"] - done_s / 60
    if done_s:
        progress.log(f"resuming the model trained for {done_s / 60:.1f} min so far")
    if left is not None and left <= 0:
        summary = describe(model_dir)
    else:
        summary = run_train(faces_a, faces_b, model_dir, model=plan.model, iterations=plan.iterations, minutes=left,
                            preview_every=max(100, train_options["save_every"]), **train_options)
    summary = {**summary, **budget, "train_seconds": describe(model_dir).get("train_seconds")}
    if plan.upscale:
        from ..train.upscale import train_upscaler

        up = train_upscaler(model_dir, faces_a, scale=plan.upscale, minutes=plan.upscale_minutes,
                            iterations=plan.upscale_iterations)
        summary.update({f"upscaler_{k}": v for k, v in up.items()})
    return summary


def _extract_faces(path: Path, folder: Path, label: str, step: int, size: int) -> dict[str, Any]:
    from ..extract.pipeline import extract

    summary = extract([path], folder, every=step, max_faces=1, size=size).to_dict()
    if not summary.get("faces_in_faceset"):
        raise InputError(f"no face was found in {label} {path}; use footage where the face is clearly visible")
    return summary


def _split_options(options: dict[str, Any]) -> tuple[SwapOptions, dict[str, Any], dict[str, Any]]:
    """SwapOptions, train's options passed through (TRAIN_PASSTHROUGH), and the rest checked as convert
    options now rather than after the training."""
    from ..convert.options import ConvertOptions
    from ..train.options import TrainOptions

    own = {f.name for f in dataclasses.fields(SwapOptions)}
    opt = SwapOptions(**{k: v for k, v in options.items() if k in own})
    opt.validate()
    train = {k: options[k] for k in TRAIN_PASSTHROUGH if k in options}
    TrainOptions(**train).validate()
    rest = {k: v for k, v in options.items() if k not in own and k not in train}
    unknown = sorted(set(rest) - {f.name for f in dataclasses.fields(ConvertOptions)})
    if unknown:
        raise TypeError(f"swap() got unexpected keyword arguments: {', '.join(unknown)}")
    if rest.get("occlusion"):  # what covers a face stays the target's at convert: nor is it learned as face
        train["occlusion"] = True
    return opt, train, rest


def _reopen_what_changed(state: _State, budget: dict[str, Any], settings: str, output: Path) -> bool:
    """Reopen the stages a re-run must do again; True when OUT was written by this work folder."""
    # also a convert that was started and not recorded as done: a kill between renaming OUT into place
    # and recording the stage must not leave the re-run refusing its own output
    begun = state.data["stages"].get("convert") or {}
    ours = begun.get("summary", {}).get("output") == str(output)
    converted = state.get("convert")
    trained = state.get("train")
    if trained and not _budget_reached(trained["summary"], budget):
        state.reopen("train", "convert")  # more training asked for: continue it, then convert again
    if converted and converted["summary"].get("settings") != settings:
        state.reopen("convert")  # other blending or encoding settings: convert again
    return ours


def _source_step(source: Path) -> int:
    """Every frame of a short SOURCE video; of a long one, enough for ~SOURCE_FACES faces (training
    gains little from near-identical neighbouring frames, and extraction time grows with them)."""
    from ..media.video import probe_video

    sources = expand_inputs([source])
    frames = sum(probe_video(s.path).frame_count for s in sources if s.kind == "video")
    return max(1, -(-frames // SOURCE_FACES))


def _budget_reached(summary: dict[str, Any], budget: dict[str, Any]) -> bool:
    if "iterations" in budget:
        return (summary.get("iterations") or 0) >= budget["iterations"]
    return (summary.get("train_seconds") or 0.0) >= budget["minutes"] * 60 - 1.0
