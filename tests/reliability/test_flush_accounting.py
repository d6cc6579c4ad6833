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
    segment = log.active_segment_on_disk
    fsync = segment.flush

    def flush_while_the_loop_appends() -> None:
        produce(log, 2)  # lands while the fsync of the first three is under way
        fsync()

    segment.flush = flush_while_the_loop_appends
    log.flush()
    segment.flush = fsync
    assert log._unflushed_messages == 2
    produce(log, 2)
    assert log.needs_flush(0)  # 4 unflushed: flush.messages is due
    harness.engine.close()
