"""The browser preview and control endpoint: HTTP on 127.0.0.1 only (for headless machines; the web app
reuses it).

    GET  /             a page showing the stream, with the settings
    GET  /stream.mjpg  MJPEG (multipart/x-mixed-replace), the newest frame each time
    GET  /frame.jpg    the newest frame
    GET  /stats        the live figures (JSON)
    GET  /control      the settings and their choices (JSON)
    POST /control      change settings: a JSON object such as {"swap": false, "feather": 12}

Frames are JPEG-encoded by the viewer's own thread, only while someone watches (OpenCV releases the
GIL): the frame loop only hands over a reference. The server answers only requests addressed to
127.0.0.1 or localhost, and POST only with a JSON body, so another web page cannot change settings
through the user's browser.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from ..engine.names import COLORS
from ..errors import InputError, OutputError
from .controls import Controls
from .sources import LiveFrame

BOUNDARY = "facesmith-frame"
_PAGE = """<!doctype html><meta charset="utf-8"><title>facesmith live</title>
<body style="background:#111;color:#ddd;font:14px sans-serif">
<img src="/stream.mjpg" style="max-width:100%"><div id="c"></div><pre id="s"></pre>
<p>Output is synthetic (face swapped) and watermarked.</p>
<script>
function set(o){fetch('/control',{method:'POST',headers:{'Content-Type':'application/json'},
body:JSON.stringify(o)}).then(r=>r.json()).then(show)}
function show(st){if(st.error){document.getElementById('s').textContent=st.error;return}
const c=document.getElementById('c');c.innerHTML='';
const b=document.createElement('button');b.textContent=st.settings.swap?'swap: on':'swap: off';
b.onclick=()=>set({swap:!st.settings.swap});c.append(b);
for(const [k,opts] of Object.entries(st.choices)){const s=document.createElement('select');
for(const o of opts){const e=document.createElement('option');e.text=o;e.selected=o==st.settings[k];s.add(e)}
s.onchange=()=>set({[k]:s.value});c.append(' '+k+' ',s)}
for(const k of ['erode','feather']){const i=document.createElement('input');i.size=4;
i.value=st.settings[k]??'auto';i.onchange=()=>set({[k]:i.value});c.append(' '+k+' ',i)}
document.getElementById('s').textContent=JSON.stringify(st.settings)}
fetch('/control').then(r=>r.json()).then(show);
</script>
"""


class PreviewServer:
    def __init__(self, port: int, controls: Controls, stats: Callable[[], dict[str, Any]], quality: int = 80):
        self.controls, self.stats, self.quality = controls, stats, quality
        self._cond = threading.Condition()
        self._image: np.ndarray | None = None
        self._seq = 0
        self._closed = False
        self.dropped = 0
        self.frames = 0
        self.viewers = 0
        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        except OSError as e:
            raise OutputError(f"cannot serve the preview on 127.0.0.1:{port}: {e.strerror or e}") from None
        self.server.daemon_threads = True
        self.server.preview = self  # type: ignore[attr-defined]  # what _Handler serves
        self.port = self.server.server_address[1]
        self.name = f"preview http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True, name="facesmith-preview")
        self._thread.start()

    def send(self, frame: LiveFrame) -> None:
        with self._cond:
            self._image = frame.image
            self._seq += 1
            self.frames += 1
            self._cond.notify_all()

    def newest(self, after: int, timeout: float) -> tuple[int, np.ndarray | None]:
        """The newest frame once it is newer than `after` (or after `timeout`: the same one again)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._closed, timeout)
            return self._seq, self._image

    def jpeg(self, image: np.ndarray) -> bytes:
        import cv2

        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return data.tobytes() if ok else b""

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> dict[str, Any]:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        return {"output": self.name, "frames": self.frames}

    def abort(self) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    """One request; the server it belongs to carries the `PreviewServer` (`server.preview`)."""

    server_version = "facesmith-live"

    @property
    def preview(self) -> PreviewServer:
        return self.server.preview  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
        pass

    def _local(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if host in ("127.0.0.1", "localhost", ""):
            return True
        self._json(403, {"error": "only requests to 127.0.0.1 or localhost are answered"})
        return False

    def _send(self, code: int, content_type: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _json(self, code: int, body: dict[str, Any]) -> None:
        self._send(code, "application/json", json.dumps(body, default=str).encode())

    def _controls(self) -> dict[str, Any]:
        c = self.preview.controls
        return {"settings": c.snapshot().as_dict(),
                "choices": {"mask": list(c.masks), "color": list(COLORS), "faces": list(c.face_choices)}}

    def do_GET(self) -> None:
        if not self._local():
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, "text/html; charset=utf-8", _PAGE.encode())
        elif path == "/frame.jpg":
            _, image = self.preview.newest(-1, 0)
            if image is None:
                self._json(503, {"error": "no frame yet"})
            else:
                self._send(200, "image/jpeg", self.preview.jpeg(image))
        elif path == "/stream.mjpg":
            self._stream()
        elif path == "/stats":
            self._json(200, self.preview.stats())
        elif path == "/control":
            self._json(200, self._controls())
        else:
            self._json(404, {"error": f"no such page: {path}"})

    def do_POST(self) -> None:
        if not self._local():
            return
        if self.path.split("?", 1)[0] != "/control":
            self._json(404, {"error": "POST /control only"})
            return
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._json(415, {"error": "send the settings as a JSON object (Content-Type: application/json)"})
            return
        try:
            length = min(int(self.headers.get("Content-Length") or 0), 65536)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise InputError("the body must be a JSON object of settings")
            self.preview.controls.update(**body)
        except (ValueError, InputError) as e:
            self._json(400, {"error": str(e)})
            return
        self._json(200, self._controls())

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seq = -1
        self.preview.viewers += 1
        try:
            while not self.preview.closed:
                seq, image = self.preview.newest(seq, 1.0)
                if image is None:
                    continue
                data = self.preview.jpeg(image)
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}"
                                 "\r\n\r\n".encode() + data + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the viewer went away
        finally:
            self.preview.viewers -= 1
