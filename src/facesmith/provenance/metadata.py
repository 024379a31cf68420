"""Container metadata saying the media was altered by face swapping (MP4 tags; PNG/JPEG in images.py)."""

from __future__ import annotations

from .._version import __version__

# Every tag starts with this, so a reader (or `facesmith verify`) can recognise it without parsing.
STATEMENT = "altered by face swapping (synthetic media made with facesmith)"
KEY = "facesmith"  # our own key: kept in MP4 only with movflags=use_metadata_tags (container_options)


def provenance_text(fingerprint: str) -> str:
    return f"{STATEMENT}; tool=facesmith {__version__}; model={fingerprint}"


def container_metadata(fingerprint: str) -> dict[str, str]:
    """Tags for an MP4 (or any FFmpeg container): assign to `output_container.metadata`.

    `comment` and `description` are standard iTunes-style atoms the MP4 muxer always writes and every
    player shows; `facesmith` (a machine-readable key=value list) survives only with
    `container_options()` passed to `av.open(..., options=...)`.
    """
    text = provenance_text(fingerprint)
    return {
        "comment": text,
        "description": text,
        KEY: f"synthetic=face-swap;tool=facesmith;version={__version__};model={fingerprint}",
    }


def container_options() -> dict[str, str]:
    """Muxer options for `av.open(path, "w", options=...)` so that custom keys (`facesmith`) are kept."""
    return {"movflags": "use_metadata_tags"}


def parse_tags(tags: dict[str, str]) -> dict[str, str] | None:
    """The facesmith statement found in a dict of tags (any key), or None.

    Reads our `facesmith` key (key=value list) and the human-readable statement in comment,
    description or an image text chunk (a muxer may have dropped the custom key)."""
    found: dict[str, str] = {}
    for key, text in tags.items():
        text = str(text)
        if key == KEY and "synthetic=" in text:
            for part in text.split(";"):
                k, _, v = part.partition("=")
                if k.strip():
                    found[k.strip()] = v.strip()
        elif STATEMENT in text:
            found.setdefault("statement", STATEMENT)
            for part in text.split(";")[1:]:
                k, _, v = part.strip().partition("=")
                if k == "model":
                    found.setdefault("model", v.strip())
                elif k == "tool":
                    found.setdefault("version", v.removeprefix("facesmith").strip())
    return found or None
