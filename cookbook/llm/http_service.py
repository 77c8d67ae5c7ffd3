"""The project's own HTTP servers on loopback (the gateway, the scripted server): start, stop, `with`; and
the same service on the loopback of another network namespace (an agent's container, which has no other
network), served by this process."""

from __future__ import annotations

import ctypes
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CLONE_NEWNET = 0x40000000
_elsewhere_lock = threading.Lock()  # the services' lists of servers in other namespaces


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


def enter_network_namespace(netns: Path) -> None:
    """Move the calling thread (only it) into the network namespace `netns` (`/proc/<pid>/ns/net`); needs
    CAP_SYS_ADMIN (root)."""
    fd = os.open(netns, os.O_RDONLY)
    try:
        if hasattr(os, "setns"):  # Python 3.12+
            os.setns(fd, CLONE_NEWNET)
        elif ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({netns}): {os.strerror(error)}")
    finally:
        os.close(fd)


class BackgroundHTTPService:
    """start() / stop() / `with` for a service that serves `self._make_handler()` on 127.0.0.1."""

    _server: LocalHTTPServer | None = None
    _elsewhere: list[LocalHTTPServer] = []

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

    def serve_in(self, netns: Path) -> LocalHTTPServer:
        """Serve on 127.0.0.1:<the same port> inside the network namespace `netns` too, until `stop_serving`
        (or `stop`). The socket is made by a thread that entered that namespace; this process serves it."""
        made: dict = {}

        def bind() -> None:
            try:
                enter_network_namespace(netns)
                made["server"] = LocalHTTPServer(("127.0.0.1", self.port), self._make_handler())
            except OSError as e:
                made["error"] = e

        thread = threading.Thread(target=bind)
        thread.start()
        thread.join()
        if "error" in made:
            raise made["error"]
        server = made["server"]
        server.owner = self
        with _elsewhere_lock:
            self._elsewhere = [*self._elsewhere, server]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def stop_serving(self, server: LocalHTTPServer) -> None:
        """Stop serving in the namespace `serve_in` opened `server` in."""
        with _elsewhere_lock:
            self._elsewhere = [s for s in self._elsewhere if s is not server]
        server.shutdown()
        server.server_close()

    def stop(self) -> None:
        self._closing()
        for server in self._elsewhere:
            self.stop_serving(server)
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
