"""Signed C2PA manifests (c2pa-python): write one asserting AI-altered content, and read one back."""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path
from typing import Any, BinaryIO

from .._version import __version__
from ..errors import OutputError
from . import keys

# IPTC digital source type for media that combines captured content with content made by a trained
# model: exactly a face swap (the target footage is real, the face is generated).
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
ASSERTION = "org.facesmith.provenance"

# Formats facesmith writes and the MIME types c2pa signs them as.
MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".tif": "image/tiff",
        ".tiff": "image/tiff", ".avi": "video/avi"}


def mime_of(path: Path) -> str | None:
    import c2pa

    mime = MIME.get(path.suffix.lower())
    return mime if mime in c2pa.Builder.get_supported_mime_types() else None


def manifest_definition(title: str, fingerprint: str) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "facesmith", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": SOURCE_TYPE,
                "softwareAgent": {"name": "facesmith", "version": __version__},
                "description": "face swapped by a facesmith model",
            }]}},
            {"label": ASSERTION, "data": {
                "statement": "altered by face swapping", "tool": "facesmith", "version": __version__,
                "model_fingerprint": fingerprint,
            }},
        ],
    }


def _context(identity: keys.SigningIdentity) -> Any:
    """A c2pa context that trusts the local CA (offline: no timestamp or OCSP fetches)."""
    import c2pa

    settings = {"trust": {"user_anchors": identity.ca_pem.decode()},
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    return c2pa.Context.from_dict(settings)


def sign_stream(source: BinaryIO, dest: BinaryIO, mime: str, title: str, fingerprint: str) -> None:
    """Copy the media in `source` to `dest` with a signed manifest embedded (streams: videos can be
    large). No timestamp authority: facesmith works offline, so the signature time is not attested."""
    import c2pa

    identity = keys.load_identity(create=True)
    assert identity is not None
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None)
    out = _WriteErrors(dest)
    try:
        with c2pa.Signer.from_info(info) as signer, \
                c2pa.Builder(manifest_definition(title, fingerprint), context=_context(identity)) as builder:
            builder.sign(signer, mime, source, out)
    except (c2pa.C2paError, OSError) as e:
        if out.error is not None:  # the native library reports a failed write as an opaque error of its own
            why = "the disk is full" if out.error.errno in (errno.ENOSPC, errno.EDQUOT) else (
                out.error.strerror or str(out.error))
            raise OutputError(f"C2PA signing could not write {title}: {why}; free some space and re-run") from None
        raise OutputError(f"C2PA signing failed for {title}: {str(e).splitlines()[0][:200]}") from None


class _WriteErrors:
    """A destination stream that remembers the OSError a write or flush raised (c2pa's callbacks turn
    it into an unrelated message such as "UntrackedPointer")."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.stream.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def sign_bytes(data: bytes, mime: str, title: str, fingerprint: str) -> bytes:
    out = io.BytesIO()
    sign_stream(io.BytesIO(data), out, mime, title, fingerprint)
    return out.getvalue()


def read(path: Path) -> dict[str, Any]:
    """{present, valid, trusted, validation_state, errors, assertion} for the file's C2PA manifest."""
    import c2pa

    mime = MIME.get(path.suffix.lower())
    result: dict[str, Any] = {"present": False, "valid": False, "trusted": False}
    identity = keys.load_identity(create=False)
    try:
        with open(path, "rb") as f:
            ctx = _context(identity) if identity else None
            reader = c2pa.Reader(mime, f, context=ctx) if mime else c2pa.Reader(f, context=ctx)
            with reader:
                store = json.loads(reader.json())
                state = reader.get_validation_state()
    except c2pa.C2paError as e:
        text = str(e)
        if "ManifestNotFound" not in text and "NotSupported" not in text and "not found" not in text.lower():
            result["error"] = text.splitlines()[0][:200]
        return result
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    errors = [s.get("code") for s in store.get("validation_status", []) or []]
    ours = next((a.get("data") for a in active.get("assertions", []) if a.get("label") == ASSERTION), None)
    result.update(present=True, validation_state=state, valid=state in ("Valid", "Trusted"),
                  trusted=state == "Trusted", errors=errors,
                  generator=(active.get("claim_generator_info") or [{}])[0].get("name"))
    if ours:
        result["assertion"] = ours
    return result
