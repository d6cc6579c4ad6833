"""`katka.embedded()`: a real broker on a free port, on a background thread, for tests.

The broker runs its own event loop on a daemon thread, so blocking clients (confluent-kafka,
kafka-python) in the calling thread talk to it over loopback exactly as to `katka serve`.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from katka.broker import Broker
from katka.config import BrokerConfig
from katka.node import Endpoint
from katka.server.run import new_event_loop

T = TypeVar("T")


class EmbeddedBroker:
    def __init__(
        self, broker: Broker, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.broker = broker
        self._loop = loop
        self._thread = thread

    @property
    def bootstrap_servers(self) -> str:
        return str(self.broker.advertised_endpoint)

    @property
    def data_dir(self) -> Path | None:
        return self.broker.data_dir

    def call(self, function: Callable[..., T], *args: object) -> T:
        """Run a plain function on the broker's loop, the one owner of its state."""

        async def run() -> T:
            return function(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def stop(self) -> None:
        if not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.broker.stop(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)


def start_embedded(
    data_dir: str | Path | None = None, configs: Mapping[str, str] | None = None, port: int = 0
) -> EmbeddedBroker:
    config = BrokerConfig(dict(configs or {}))
    broker = Broker(config, Path(data_dir) if data_dir else None, Endpoint("127.0.0.1", port))
    loop = new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(broker.start())
        except BaseException as error:  # reported to the caller below
            failure.append(error)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="katka-embedded", daemon=True)
    thread.start()
    ready.wait(timeout=60)
    if failure:
        raise failure[0]
    return EmbeddedBroker(broker, loop, thread)


@contextmanager
def embedded(
    data_dir: str | Path | None = None, configs: Mapping[str, str] | None = None, port: int = 0
) -> Iterator[EmbeddedBroker]:
    """Start a broker on 127.0.0.1 and a free port; data in a temporary directory unless given."""
    temporary = None
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="katka-")
        data_dir = temporary
    running = start_embedded(data_dir, configs, port)
    try:
        yield running
    finally:
        running.stop()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
