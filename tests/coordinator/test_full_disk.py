"""A full disk under the coordinator's log: group metadata that cannot be written does not strand
parked members (they get their answers), while offset commits are refused, never acknowledged."""

from __future__ import annotations

import asyncio

from katka.clock import ManualClock
from katka.coordinator.classic.consumer_protocol import encode_assignment
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import MemoryInternalLog
from katka.coordinator.records import OffsetKey, Record, decode_key
from katka.coordinator.results import OffsetCommitPartition
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import AsyncioTimers
from katka.errors import ErrorCode, KafkaError
from tests.coordinator.test_service_async import GROUP, join_new, sync


class FullDiskLog(MemoryInternalLog):
    def __init__(self) -> None:
        super().__init__()
        self.full = False

    def append(self, records: list[Record]) -> None:
        if self.full:
            raise KafkaError(ErrorCode.kafka_storage_error, "No space left on device")
        super().append(records)


def test_members_get_their_sync_answers_when_group_metadata_cannot_be_written() -> None:
    async def scenario() -> None:
        log = FullDiskLog()
        coordinator = GroupCoordinator(
            CoordinatorConfig(group_initial_rebalance_delay_ms=0),
            ManualClock(),
            AsyncioTimers(ManualClock()),
            log,
            lambda _topic, _partition: True,
        )
        coordinator.load()
        joined = await asyncio.wait_for(
            asyncio.gather(join_new(coordinator, "a"), join_new(coordinator, "b")), 5
        )
        leader = joined[0].leader_id
        follower = next(r.member_id for r in joined if r.member_id != leader)
        log.full = True
        parked = asyncio.create_task(sync(coordinator, follower))
        await asyncio.sleep(0)
        assignments = {
            leader: encode_assignment({"t": [0]}),
            follower: encode_assignment({"t": [1]}),
        }
        lead = await sync(coordinator, leader, assignments)
        synced = await asyncio.wait_for(parked, 5)
        assert lead.error_code is ErrorCode.none and synced.error_code is ErrorCode.none
        assert synced.assignment == assignments[follower]
        refused = coordinator.commit_offsets(GROUP, leader, 1, [OffsetCommitPartition("t", 0, 5)])
        # Kafka's answer to a commit its log refused: NOT_COORDINATOR, so the client retries.
        assert [p.error_code for p in refused.partitions] == [ErrorCode.not_coordinator]
        assert not any(isinstance(decode_key(key), OffsetKey) for key, _ in log.records)

    asyncio.run(scenario())
