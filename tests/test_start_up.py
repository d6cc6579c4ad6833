"""Start-up answers first: the listener serves before the coordinators, transactions, cleaner
and admin API are imported and built, and nothing answers from half-built state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from katka import api
from katka.broker import Broker
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from katka.metadata import catalog
from katka.metadata.internal_topics import (
    OFFSETS_TOPIC,
    SHARE_STATE_TOPIC,
    TRANSACTION_STATE_TOPIC,
)
from katka.node import Endpoint
from katka.storage import MemoryStorageEngine

LOADED_LATER = ("katka.coordinator", "katka.transactions", "katka.admin", "prometheus_client")

SERVING_SCRIPT = """
import asyncio, json, sys, tempfile
from pathlib import Path
sys.modules["hypothesis"] = None  # as `katka serve` does (katka/__main__.py)
from katka.broker import Broker
from katka.config import BrokerConfig
from katka.metadata import catalog
from katka.metadata.internal_topics import (
    OFFSETS_TOPIC,
    SHARE_STATE_TOPIC,
    TRANSACTION_STATE_TOPIC,
)
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
    # prometheus_client waits for the first scrape of /metrics.
    assert set(loaded["everything"]) == {"katka.coordinator", "katka.transactions", "katka.admin"}


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


PLAIN_SERVE_SCRIPT = """
import json, sys
import katka.server.run as run

def serve_forever(broker, on_ready):  # stands in for serving: what was imported to get here
    print(json.dumps(sorted(m for m in ("click", "kio.index") if m in sys.modules)))

run.serve_forever = serve_forever
sys.argv = ["katka", "serve", "--listen", "127.0.0.1:0", "--data-dir", sys.argv[1],
            "--log-level=WARNING", "-o", "num.partitions=3"]
from katka.__main__ import main
main()
"""


def test_katka_serve_with_plain_arguments_starts_without_importing_click(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_SERVE_SCRIPT, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "click" not in json.loads(out.strip().splitlines()[-1])


def test_katka_serve_with_a_bad_value_says_so_in_clicks_words(tmp_path: Path) -> None:
    for args, said in (
        (["--listen", "nowhere"], "Invalid value for --listen: expected HOST:PORT"),
        (["-o", "num.partitions=none"], "Invalid value none for configuration num.partitions"),
        (["--fsync", "sometimes"], "'sometimes' is not one of 'policy', 'always'"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "katka", "serve", "--data-dir", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("katka: error: "), result.stderr
        assert said in result.stderr


def test_a_fresh_data_directory_writes_its_catalog_once_and_a_restart_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    real_write = catalog.write_atomically

    def counting_write(path: Path, data: bytes) -> None:
        writes.append(path.name)
        real_write(path, data)

    monkeypatch.setattr(catalog, "write_atomically", counting_write)
    for _ in range(2):
        broker = Broker(BrokerConfig(), tmp_path, Endpoint("127.0.0.1", 0))
        broker.open()
        assert {t.name for t in broker.topics.catalog} == {
            OFFSETS_TOPIC,
            TRANSACTION_STATE_TOPIC,
            SHARE_STATE_TOPIC,
        }
        broker.storage.close()
    assert writes.count(catalog.CATALOG_FILE) == 1
