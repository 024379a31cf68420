"""What `facesmith verify` tells a person: a few lines per file, and `--report FILE.html` with each
file's verdict and its per-frame watermark strength as a small inline SVG plot."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .. import atomic
from .evidence import watermark_found

MODEL_SURE = 0.99  # v3: the model read is stated as such from this estimated certainty


def describe(r: dict[str, Any]) -> str:
    """The verdict on one file and what it rests on, in plain words."""
    wm = r["watermark"]
    parts = [name for name, found in (("watermark", watermark_found(wm)), ("metadata", bool(r["metadata"])),
                                      ("C2PA", r["c2pa"]["present"])) if found]
    head = (f"{r['path']}: MARKED as made by facesmith (found: {', '.join(parts)})" if r["marked"]
            else f"{r['path']}: not marked (no facesmith watermark, metadata or manifest found)")
    models = [_model_line(t) for t in wm.get("models", ())]
    return "\n  ".join([head, _watermark_line(wm), *models, _metadata_line(r["metadata"]), _c2pa_line(r["c2pa"])])


def _watermark_line(wm: dict[str, Any]) -> str:
    if wm["found"]:
        p = wm["payload"]
        mirrored = " (the picture is mirrored)" if wm["layer"].endswith("mirrored") else ""
        return (f"watermark: found, format v{p['version']}{mirrored}, {_model_read(p)}; a clean file reads "
                f"like this with probability {wm['false_positive_probability']:.1e}; in "
                f"{wm['frames_marked']}/{wm['frames_checked']} frames, bit accuracy {wm['bit_accuracy']:.1%}, "
                f"strength {wm['signal']:.2f} (1 = as embedded)")
    seen = f"{wm['faces_checked']} faces in {wm['frames_checked']} frames"
    if "presence_z" in wm:
        seen += f"; v3 presence z {wm['presence_z']:.1f} (p {wm['presence_p']:.2g})"
    if "check_bits_matched" in wm:
        seen += f"; best v2 reading {wm['check_bits_matched']}/32 check bits, as clean files read"
    return f"watermark: none decoded ({seen}; the test calls a clean file marked with probability <= " \
           f"{wm['false_positive_rate']:.0e})"


def _model_read(p: dict[str, Any]) -> str:
    """The model a payload names; v3's fingerprint bits have no check, so how surely they were read."""
    if "certainty" not in p:
        return f"model {p['model']}"
    if p["certainty"] >= MODEL_SURE:
        return f"model {p['model']} (read with estimated certainty {p['certainty']:.3f})"
    if p["certainty"] >= 0.5:
        return (f"model probably {p['model']} (estimated certainty {p['certainty']:.2f}; --model MODEL tests "
                "a model on its own)")
    return (f"model unknown: too little of the mark is left to read it (its bits read as {p['model']}, "
            f"estimated certainty {p['certainty']:.2f}); the metadata, the C2PA manifest or --model MODEL can tell")


_NAMED_BY = {"tags": "which the file's tags name", "given": "given with --model"}


def _model_line(t: dict[str, Any]) -> str:
    verdict = "FOUND" if t["found"] else "not found"
    line = (f"mark of model {t['model']} ({_NAMED_BY[t['named_by']]}): {verdict}; a file without it reads like "
            f"this with probability {t['false_positive_probability']:.1e} (z {t['z']:.1f})")
    if "signal" in t:
        line += f"; strength {t['signal']:.2f} (1 = as embedded, 0 = none of it)"
    return line


def _metadata_line(meta: dict[str, str] | None) -> str:
    return "metadata: " + (", ".join(f"{k}={v}" for k, v in meta.items()) if meta else "none")


def _c2pa_line(c: dict[str, Any]) -> str:
    if not c["present"]:
        return "C2PA: none" + (f" ({c['error']})" if c.get("error") else "")
    state = "valid, trusted (signed with this installation's key)" if c["trusted"] else (
        "valid, signed by a key this installation does not trust" if c["valid"] else
        f"INVALID ({c.get('validation_state')}: {', '.join(map(str, c.get('errors') or []))[:200]})")
    line = f"C2PA: {state}; content bound by {c.get('hash') or 'no hash'}"
    ours = c.get("assertion") or {}
    if ours.get("model_fingerprint"):
        line += f"; {ours.get('action', 'face swap')} by model {ours['model_fingerprint']}"
    for ing in ours.get("ingredients") or []:
        line += f"; ingredient {ing.get('title')} (SHA-256 {str(ing.get('sha256'))[:12]}...)"
    record = c.get("training_data")
    if record:
        sets = ", ".join(f"{f.get('name')} ({len(f.get('sources') or [])} sources)" for f in record.get("facesets", []))
        consent = record.get("consent")
        line += f"; trained on {sets}; consent: " + (f'"{consent}"' if consent else "none recorded")
    return line


def strength_svg(points: list[tuple[int, float]], width: int = 360, height: int = 90) -> str:
    """Per-frame watermark strength (1 = as embedded, 0 = nothing) as an inline SVG line plot."""
    if not points:
        return ""
    last = max(1, max(i for i, _ in points))
    top = max(1.5, max(s for _, s in points))
    pad = 6

    def xy(i: int, s: float) -> str:
        return (f"{pad + (width - 2 * pad) * i / last:.1f},"
                f"{height - pad - (height - 2 * pad) * max(0.0, s) / top:.1f}")

    one = height - pad - (height - 2 * pad) / top
    line = " ".join(xy(i, s) for i, s in points)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="watermark strength per frame">'
            f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#ccc"/>'
            f'<line x1="{pad}" x2="{width - pad}" y1="{one:.1f}" y2="{one:.1f}" stroke="#9c9" stroke-dasharray="4 3"/>'
            f'<polyline points="{line}" fill="none" stroke="#c33" stroke-width="1.5"/>'
            f'<text x="{pad + 2}" y="{one - 2:.1f}" font-size="9" fill="#585">1 = as embedded</text>'
            f'<text x="{width - pad - 2}" y="{height - 2}" font-size="9" text-anchor="end">frame {last}</text></svg>')


def write_report(path: Path, reports: list[dict[str, Any]]) -> None:
    """An HTML page: per file its verdict lines and the per-frame strength plot (atomic write)."""
    rows = []
    for r in reports:
        lines = describe(r).split("\n  ")
        wm = r["watermark"]
        if wm.get("strength"):
            plot, caption = strength_svg(wm["strength"]), "watermark strength per frame read"
        else:  # not decoded: the strength of a named model's mark (the first found, else the first)
            tests = wm.get("models") or [{}]
            named = next((t for t in tests if t.get("found")), tests[0])
            plot = strength_svg(named.get("strength") or [])
            caption = (f"strength per frame read of the mark of model {named.get('model')} "
                       f"({_NAMED_BY.get(named.get('named_by', ''), '')})")
        rows.append(f"<section><h2>{html.escape(lines[0])}</h2><ul>"
                    + "".join(f"<li>{html.escape(x)}</li>" for x in lines[1:])
                    + "</ul>" + (f"<p>{html.escape(caption)}:</p>{plot}" if plot else "") + "</section>")
    page = ("<!doctype html><meta charset='utf-8'><title>facesmith verify</title>"
            "<style>body{font:14px sans-serif;max-width:60em;margin:2em auto}h2{font-size:15px}</style>"
            "<h1>facesmith verify</h1>" + "".join(rows))
    atomic.write_bytes(path, page.encode())
