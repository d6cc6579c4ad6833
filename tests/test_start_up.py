"""Start-up answers first: the listener serves before the coordinators, transactions, cleaner
and admin API are imported and built, and nothing answers from half-built state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from katka import api
from katka.broker import Broker
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from katka.node import Endpoint
from katka.storage import MemoryStorageEngine

LOADED_LATER = ("katka.coordinator", "katka.transactions", "katka.admin", "prometheus_client")

SERVING_SCRIPT = """
import asyncio, json, sys, tempfile
from pathlib import Path
sys.modules["hypothesis"] = None  # as `katka serve` does (katka/__main__.py)
from katka.broker import Broker
from katka.config import BrokerConfig
from katka.node import Endpoint

def loaded():
    return sorted({m.split(".")[0] if m.startswith("prometheus") else ".".join(m.split(".")[:2])
                   for m in sys.modules if m.startswith(PREFIXES)})

async def main():
    broker = Broker(BrokerConfig({"katka.admin.listener": "127.0.0.1:0"}),
                    Path(tempfile.mkdtemp()), Endpoint("127.0.0.1", 0))
    await broker.start_serving()
    serving = loaded()
    await broker.start_the_rest()
    everything = loaded()
    await broker.stop()
    print(json.dumps({"serving": serving, "everything": everything}))

PREFIXES = %r
asyncio.run(main())
"""


def test_the_handler_index_lists_every_handler_module_with_its_versions() -> None:
    modules = {m.API_KEY: (m.__name__.rsplit(".", 1)[1], m.VERSIONS) for m in api.ALL}
    assert api.HANDLERS == modules


def test_a_listening_broker_has_not_imported_the_coordinators_or_the_admin_api_yet() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SERVING_SCRIPT % (LOADED_LATER,)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert loaded["serving"] == []
    assert set(loaded["everything"]) == {
        "katka.coordinator",
        "katka.transactions",
        "katka.admin",
        "prometheus_client",
    }


def test_a_request_that_needs_the_coordinator_before_it_is_loaded_has_it_built() -> None:
    clock = ManualClock()
    broker = Broker(
        BrokerConfig(), None, Endpoint("127.0.0.1", 0), storage=MemoryStorageEngine(), clock=clock
    )
    broker.open()
    broker.build_node(ManualTimers(clock))
    assert broker.node.group_coordinator is None
    assert not broker.node.coordinator.fetch_offsets("nobody", None).partitions
    assert broker.node.group_coordinator is broker.coordinator
    assert broker.node.transactions is broker.transactions
