"""A real MJPEG-over-HTTP stream on 127.0.0.1 for the stream tests (library and app)."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


class MJPEGServer:
    """multipart/x-mixed-replace JPEG frames on 127.0.0.1; stop() drops every client, start() serves again.

    stall_after=N: each connection gets N frames, then nothing more while its socket stays open (a
    camera whose encoder hung, a proxy that lost its upstream) until the server stops.
    """

    def __init__(self, fps: float = 20.0, size=(160, 120), stall_after: int | None = None):
        self.fps = fps
        self.size = size
        self.stall_after = stall_after
        self.port = 0
        self.frames_sent = 0
        self.connections = 0
        self.stalled = threading.Event()     # set when a connection has stopped sending
        self._stopping = threading.Event()
        self.httpd = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while not server._stopping.is_set():
                        if server.stall_after is not None and i >= server.stall_after:
                            self.wfile.flush()
                            server.stalled.set()
                            server._stopping.wait()   # connected, silent
                            return
                        w, h = server.size
                        img = np.full((h, w, 3), 40 + (i * 5) % 200, np.uint8)
                        cv2.rectangle(img, (10 + i % 50, 20), (60 + i % 50, 90), (0, 200, 255), -1)
                        jpg = cv2.imencode(".jpg", img)[1].tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(jpg) + jpg + b"\r\n")
                        server.frames_sent += 1
                        i += 1
                        time.sleep(1.0 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.handler = Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.mjpg"

    def start(self) -> "MJPEGServer":
        self._stopping.clear()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self._stopping.set()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
