"""The asyncio facade: parked JoinGroup/SyncGroup complete for many members at once."""

import asyncio

from katka.clock import ManualClock
from katka.coordinator.classic.consumer_protocol import encode_assignment, encode_subscription
from katka.coordinator.classic.requests import JoinGroupRequest, SyncGroupRequest
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import MemoryInternalLog
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import AsyncioTimers
from katka.errors import ErrorCode

GROUP = "async-group"
SUB = encode_subscription(["orders"])


def make_coordinator(clock: ManualClock, **config: int) -> GroupCoordinator:
    coordinator = GroupCoordinator(
        CoordinatorConfig(**{"group_initial_rebalance_delay_ms": 0, **config}),
        clock,
        AsyncioTimers(clock),
        MemoryInternalLog(),
        lambda topic, partition: True,
    )
    coordinator.load()
    return coordinator


async def join(coordinator: GroupCoordinator, member_id: str = "", client_id: str = "c"):
    request = JoinGroupRequest(
        group_id=GROUP,
        member_id=member_id,
        client_id=client_id,
        client_host="/127.0.0.1",
        session_timeout_ms=10_000,
        rebalance_timeout_ms=30_000,
        protocol_type="consumer",
        protocols=(("range", SUB),),
        supports_skipping_assignment=True,
    )
    return await coordinator.join_group(request).wait()


async def sync(
    coordinator: GroupCoordinator, member_id: str, assignments: dict[str, bytes] | None = None
):
    request = SyncGroupRequest(GROUP, member_id, 1, assignments=assignments or {})
    return await coordinator.sync_group(request).wait()


async def join_new(coordinator: GroupCoordinator, client_id: str):
    first = await join(coordinator, client_id=client_id)
    assert first.error_code is ErrorCode.member_id_required
    return await join(coordinator, first.member_id, client_id)


def test_parked_joins_and_syncs_of_several_members_complete_concurrently():
    async def scenario() -> None:
        coordinator = make_coordinator(ManualClock())
        results = await asyncio.wait_for(
            asyncio.gather(*(join_new(coordinator, f"consumer-{i}") for i in range(5))), 5
        )
        assert {r.generation_id for r in results} == {1}
        leader = results[0].leader_id
        assert sum(1 for r in results if r.members) == 1
        followers = [
            asyncio.create_task(sync(coordinator, r.member_id))
            for r in results
            if r.member_id != leader
        ]
        await asyncio.sleep(0)
        assert not any(f.done() for f in followers)  # parked until the leader syncs
        assignments = {
            r.member_id: encode_assignment({"orders": [i]}) for i, r in enumerate(results)
        }
        lead = await sync(coordinator, leader, assignments)
        synced = await asyncio.wait_for(asyncio.gather(*followers), 5)
        assert lead.error_code is ErrorCode.none
        assert sorted(s.assignment for s in [lead, *synced]) == sorted(assignments.values())
        assert coordinator.describe_groups([GROUP])[0].group_state == "Stable"
        coordinator.shutdown()

    asyncio.run(scenario())


def test_a_parked_join_does_not_block_other_groups_or_calls():
    async def scenario() -> None:
        clock = ManualClock()
        coordinator = make_coordinator(clock, group_initial_rebalance_delay_ms=60_000)
        parked = asyncio.create_task(join_new(coordinator, "slow"))
        await asyncio.sleep(0.01)
        assert not parked.done()
        listed = coordinator.list_groups()
        assert [(g.group_id, g.group_state) for g in listed.groups] == [
            (GROUP, "PreparingRebalance")
        ]
        committed = coordinator.commit_offsets("other", "", -1, [])
        assert committed.partitions == ()
        coordinator.shutdown()
        result = await asyncio.wait_for(parked, 5)
        assert result.error_code is ErrorCode.coordinator_not_available

    asyncio.run(scenario())


def test_a_cancelled_join_forgets_its_waiter():
    async def scenario() -> None:
        coordinator = make_coordinator(ManualClock(), group_initial_rebalance_delay_ms=60_000)
        task = asyncio.create_task(join_new(coordinator, "gone"))
        await asyncio.sleep(0.01)
        assert len(coordinator.classic._join_waiters) == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert coordinator.classic._join_waiters == {}
        coordinator.shutdown()

    asyncio.run(scenario())


def test_asyncio_timers_fire_callbacks_at_their_deadline_and_honour_cancel():
    async def scenario() -> None:
        clock = ManualClock()
        timers = AsyncioTimers(clock)
        fired: list[str] = []
        timers.schedule("a", clock.now_ms() + 20, lambda: fired.append("a"))
        timers.schedule("b", clock.now_ms() + 10, lambda: fired.append("b"))
        timers.schedule("c", clock.now_ms() + 5, lambda: fired.append("c"))
        timers.cancel("c")
        timers.schedule("a", clock.now_ms() + 30, lambda: fired.append("a2"))
        await asyncio.sleep(0.08)
        assert fired == ["b", "a2"]
        assert len(timers) == 0

    asyncio.run(scenario())
