"""Group commit runs fsync on a worker thread while the loop appends: appends made during a
flush are not covered by it and must stay counted for flush.messages."""

from __future__ import annotations

from pathlib import Path

from katka.storage.base import LogConfig
from tests.storage.storage_helpers import EngineHarness, produce


def test_appends_during_a_flush_stay_unflushed(tmp_path: Path) -> None:
    harness = EngineHarness("disk", tmp_path)
    log = harness.open(LogConfig(flush_messages=4))
    produce(log, 3)
    plan = log.begin_flush()  # on the loop
    produce(log, 2)  # lands while the fsync of the first three is under way
    plan.fsync()  # on the worker thread
    log.complete_flush(plan)  # back on the loop
    assert log.recovery_point == 3
    assert not log.needs_flush(0)  # 2 unflushed
    produce(log, 2)
    assert log.needs_flush(0)  # 4 unflushed: flush.messages is due
    harness.engine.close()
