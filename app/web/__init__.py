"""The browser view of a headless run (`gui --headless --serve HOST:PORT`): each stream's drawn video as MJPEG,
its readout as JSON and Prometheus metrics, over the standard library's threading HTTP server (no Qt).

    view = ViewServer(("127.0.0.1", 8080), ["video.mp4"])   # serving from now on, in its own thread
    view.publish(0, picture)          # from the pipeline's loop: never waits for a browser
    view.update(stream.states, [stats], detector)   # the readout, once a second
    view.close()
"""
from app.web.server import ViewServer, parse_address

__all__ = ["ViewServer", "parse_address"]
