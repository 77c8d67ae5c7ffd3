"""`phoenix serve` with its gRPC trace collector bound to 127.0.0.1.

Phoenix 20 binds its gRPC collector to every interface and has no setting to change that (its HTTP
server follows PHOENIX_HOST). The cookbook sends its traces over HTTP, so the collector only has to be
reachable from this machine: this launcher binds it to loopback, then runs Phoenix's own `main`.
Run as `python -m cookbook.phoenix_serve` (arguments as `phoenix serve`'s, default `serve`).
"""

from __future__ import annotations

import sys

import grpc.aio._server

_add_insecure_port = grpc.aio._server.Server.add_insecure_port


def _loopback_only(self, address: str) -> int:
    host, _, port = address.rpartition(":")
    return _add_insecure_port(self, f"127.0.0.1:{port}" if host in ("[::]", "0.0.0.0", "") else address)


def main() -> int:
    from phoenix.server.main import main as phoenix_main

    grpc.aio._server.Server.add_insecure_port = _loopback_only
    sys.argv = ["phoenix", *(sys.argv[1:] or ["serve"])]
    return phoenix_main()


if __name__ == "__main__":
    sys.exit(main())
