"""`ViewServer`: the browser view's HTTP server in its own daemon thread (ThreadingHTTPServer: one thread a
client). Paths: `/` the page, `/stream/N.mjpg` stream N's drawn video (multipart/x-mixed-replace, one part per
JPEG), `/status.json`, `/metrics` (Prometheus). A client that stops reading only blocks its own thread (and is
dropped after `WRITE_TIMEOUT_S`); the pipeline's `publish` never waits for one."""
from __future__ import annotations

import errno
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from app.web.frames import FrameSlot
from app.web.page import page_html
from app.web.status import prometheus_text, public_source, starting_payload, status_payload, stream_label
from centernet.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
BOUNDARY = "frame"
WRITE_TIMEOUT_S = 10.0    # a client whose socket took nothing for this long is dropped
STREAM_PATH = re.compile(r"^/stream/(\d+)\.mjpg$")


def parse_address(text: str) -> tuple[str, int]:
    """'[HOST:]PORT' -> (host, port); host 127.0.0.1 when left out, '[::1]:8080' for IPv6; port 0: any free one."""
    host, _, port = str(text).strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not port.isdigit() or int(port) > 65535 or (":" in host and not str(text).strip().startswith("[")):
        raise ConfigError(f"--serve {text!r} is not [HOST:]PORT: give e.g. 8080 or 127.0.0.1:8080 "
                          f"(port 0 picks a free one)")
    return host or DEFAULT_HOST, int(port)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True       # a client's thread never holds the process at exit

    def __init__(self, address, handler):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)


class ViewServer:
    """Serves from construction until `close()`. `publish(i, image)` and `update(...)` are the pipeline's side."""

    def __init__(self, address: tuple[str, int], sources: list[str], jpeg_quality: int = 80):
        self.sources = [str(s) for s in sources]
        self.slots = [FrameSlot(jpeg_quality) for _ in self.sources]
        self.page = page_html([public_source(s) for s in self.sources]).encode()
        self._status = starting_payload(self.sources)
        self._lock = threading.Lock()
        host, port = address
        try:
            self.httpd = _HTTPServer((host, port), _handler(self))
        except OSError as e:
            raise ConfigError(_bind_error(host, port, e)) from None
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="web-view", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # ---- the pipeline's side ------------------------------------------------------------------------------
    def watched(self, stream: int) -> bool:
        """Some client serves this stream now (else drawing a picture for it can wait)."""
        return self.slots[stream].watchers > 0

    def publish(self, stream: int, image: np.ndarray) -> None:
        """Stream `stream`'s newest drawn picture (BGR; not changed afterwards). Never waits for a client."""
        self.slots[stream].publish(image)

    def update(self, statuses: list, stats: list, detector=None) -> None:
        """The readout: `centernet.live` StreamStatuses (`Stream.statuses`), their PipelineStats (one each), the
        Detector."""
        self.set_status(status_payload(stats, [stream_label(st, s) for st, s in zip(statuses, stats)], detector))

    def set_status(self, payload: dict) -> None:
        with self._lock:
            self._status = payload

    @property
    def status(self) -> dict:
        with self._lock:
            return self._status

    def close(self) -> None:
        """Stop serving: every MJPEG client's loop ends, the listening socket closes."""
        for slot in self.slots:
            slot.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(2.0)

    def __enter__(self) -> "ViewServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _bind_error(host: str, port: int, e: OSError) -> str:
    if e.errno == errno.EADDRINUSE:
        return f"--serve {host}:{port}: the port is in use: pick another port (or 0 for any free one)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"--serve {host}:{port}: no permission to bind that port: use a port above 1023"
    return f"--serve {host}:{port}: cannot listen there ({e.strerror or e}): give an address of this machine, " \
           f"e.g. 127.0.0.1:8080"


def _handler(view: ViewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = WRITE_TIMEOUT_S     # the socket's: a stuck client's write fails instead of blocking forever
        protocol_version = "HTTP/1.0"

        def log_message(self, *args) -> None:   # no line per request on the readout's terminal
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", view.page)
            elif path == "/status.json":
                self._send(200, "application/json", json.dumps(view.status).encode())
            elif path == "/metrics":
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(view.status).encode())
            elif (m := STREAM_PATH.match(path)) and int(m.group(1)) < len(view.slots):
                self._mjpeg(view.slots[int(m.group(1))])
            else:
                known = ", ".join(f"/stream/{i}.mjpg" for i in range(len(view.slots)))
                self._send(404, "text/plain; charset=utf-8", f"not found: {path} (try /, {known}, /status.json, "
                                                             f"/metrics)\n".encode())

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _mjpeg(self, slot: FrameSlot) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            with slot.cond:
                slot.watchers += 1
            sent = 0
            try:
                while not slot.closed:
                    taken = slot.next_jpeg(sent, timeout_s=0.5)   # the newest frame once ready for one
                    if taken is None:
                        continue
                    sent, jpeg = taken
                    self.wfile.write(b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                     % (BOUNDARY.encode(), len(jpeg)) + jpeg + b"\r\n")
                    self.wfile.flush()
            except OSError:   # the browser left (reset, broken pipe) or stopped reading (timeout)
                pass
            finally:
                with slot.cond:
                    slot.watchers -= 1
                self.close_connection = True

    return Handler
