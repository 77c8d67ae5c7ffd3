"""The project's own HTTP servers on loopback (the gateway, the scripted server): start, stop, `with`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict, headers: dict | None = None) -> None:
    """Answer a request with a JSON body."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class LocalHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on loopback for many parallel clients (the listen backlog of the standard
    library's default, 5, resets connections when 50+ agents connect at once)."""

    daemon_threads = True
    request_queue_size = 256


class BackgroundHTTPService:
    """start() / stop() / `with` for a service that serves `self._make_handler()` on 127.0.0.1."""

    _server: LocalHTTPServer | None = None

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _closing(self) -> None:
        """Called first by stop(): release what handlers may be waiting on."""

    @property
    def port(self) -> int:
        assert self._server, "start() the service first"
        return self._server.server_address[1]

    def start(self):
        self._server = LocalHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._server.owner = self  # handlers reach their service as self.server.owner
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._closing()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
