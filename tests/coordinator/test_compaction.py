"""The coordinator's log is rewritten as a snapshot once superseded commits dominate it, and
replay of the compacted log restores the same offsets and groups."""

from __future__ import annotations

from katka.clock import ManualClock
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import PartitionInternalLog
from katka.coordinator.results import OffsetCommitPartition
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import ManualTimers
from katka.storage.base import LogConfig
from katka.storage.disk.engine import DiskStorageEngine


def coordinator_over(
    engine: DiskStorageEngine, clock: ManualClock
) -> tuple[GroupCoordinator, PartitionInternalLog]:
    log = PartitionInternalLog(
        engine.open_log("__consumer_offsets", 0, LogConfig(segment_bytes=64 * 1024)), clock
    )
    coordinator = GroupCoordinator(
        CoordinatorConfig(), clock, ManualTimers(clock), log, lambda _t, _p: True
    )
    coordinator.load()
    return coordinator, log


def test_many_commits_compact_to_the_live_offsets_and_replay_the_same(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    engine = DiskStorageEngine(tmp_path)
    coordinator, log = coordinator_over(engine, clock)
    for i in range(3000):
        coordinator.commit_offsets(
            f"group-{i % 3}", "", -1, [OffsetCommitPartition("orders", i % 4, i, -1, f"m{i}")]
        )
    size_before = log.log.size_bytes
    assert coordinator.maybe_compact(min_records=1000)
    assert not coordinator.maybe_compact(min_records=1000)  # nothing superseded since
    assert log.log.log_start_offset > 0
    assert log.log.size_bytes < size_before
    expected = {g: coordinator.fetch_offsets(g, None) for g in ("group-0", "group-1", "group-2")}
    engine.close()

    reopened, _ = coordinator_over(DiskStorageEngine(tmp_path), clock)
    for group_id, before in expected.items():
        after = reopened.fetch_offsets(group_id, None)
        assert sorted(
            (p.topic, p.partition, p.committed_offset, p.metadata) for p in after.partitions
        ) == sorted(
            (p.topic, p.partition, p.committed_offset, p.metadata) for p in before.partitions
        )
        assert len(after.partitions) == 4
