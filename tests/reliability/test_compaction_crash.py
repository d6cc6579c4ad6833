"""SIGKILL during a cleaning, at each of its steps (the cleaner pauses there through the fault
hook KATKA_FAULT_CLEANER_PAUSE): the broker restarts, recovers the `.cleaned`/`.swap`
leftovers, and loses no latest value and no record; a later cleaning completes."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.test_compaction import EAGER, cleaned, produce, read_from
from tests.e2e.test_produce_consume import create_topic

# Each step costs two broker starts and a cleaning (~3 s of CPU): the default run kills the
# cleaner once before the swap commits and once after; `-m "slow or not slow"` (.ci/run) at
# every step.
STEPS = [
    "map-built",
    pytest.param("segments-written", marks=pytest.mark.slow),
    pytest.param("swap-ready", marks=pytest.mark.slow),
    pytest.param("swap-begin", marks=pytest.mark.slow),
    "swap-renamed",
    pytest.param("swap-deleted", marks=pytest.mark.slow),
]


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated")
@pytest.mark.parametrize("step", STEPS)
def test_a_cleaning_killed_at_any_step_loses_nothing(tmp_path: Path, step: str) -> None:
    flag = tmp_path / "paused"
    server = BrokerProcess(
        tmp_path / "data",
        overrides=["log.cleaner.backoff.ms=100"],
        env={"KATKA_FAULT_CLEANER_PAUSE": f"{step}:{flag}"},
    )
    server.start(30)
    try:
        topic = "crashing"
        # Written before the topic is compacted: a pause on the loop must not stall produce.
        create_topic(server.bootstrap, topic, 1, {"segment.bytes": EAGER["segment.bytes"]})
        writes = [(f"key-{i % 10}", f"value-{i}") for i in range(400)]
        produce(server, topic, writes)
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        resource = ConfigResource(ResourceType.TOPIC, topic, set_config=EAGER)
        admin.alter_configs([resource])[resource].result(10)
        wait_until(flag.exists, 30, what=f"the cleaner paused at {step}")
        server.kill()
        server.env = {}
        server.start(30)
        if step in ("swap-renamed", "swap-deleted"):  # committed: start-up finishes the swap
            assert "completed a cleaned segment swap" in server.log_text()
        check(read_from(server, topic), writes)
        wait_until(lambda: cleaned(server, topic), 30, what="a cleaning after the restart")
        check(read_from(server, topic), writes)
    finally:
        server.kill()


def check(records: list[tuple[int, str, str | None]], writes: list[tuple[str, str]]) -> None:
    for offset, key, value in records:
        assert (key, value) == writes[offset]
    offsets = [offset for offset, _, _ in records]
    assert offsets == sorted(set(offsets))
    latest = {key: offset for offset, (key, _) in enumerate(writes)}
    assert set(latest.values()) <= set(offsets)
