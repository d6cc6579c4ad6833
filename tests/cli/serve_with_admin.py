"""`katka serve` with the admin HTTP API running, for the CLI's end-to-end tests.

Until katka/broker.py starts `AdminHttpServer` itself, this wraps Broker.start/stop to run it
next to the Kafka listener and report its address as `katka.admin.listener`, exactly as the
broker will. Once the broker does so, the wrapper sees the config set and stays out of the way.

    python -m tests.cli.serve_with_admin --listen 127.0.0.1:9092 --data-dir DIR
"""

from __future__ import annotations

from katka.admin import AdminHttpServer
from katka.broker import Broker
from katka.cli.serve import serve

_start, _stop = Broker.start, Broker.stop


async def start(self: Broker) -> None:
    await _start(self)
    if self.config.get("katka.admin.listener"):
        return  # the broker runs its own admin API
    server = AdminHttpServer(self)
    host, port = await server.start(self.listen.host, 0)
    self._cli_test_admin_http = server  # type: ignore[attr-defined]
    self.config._static["katka.admin.listener"] = f"{host}:{port}"


async def stop(self: Broker) -> None:
    server = getattr(self, "_cli_test_admin_http", None)
    if server is not None:
        await server.stop()
    await _stop(self)


if __name__ == "__main__":
    Broker.start = start  # type: ignore[method-assign]
    Broker.stop = stop  # type: ignore[method-assign]
    serve()
