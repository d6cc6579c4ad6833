"""katka's live offset reset in the coordinator, without sockets (ManualClock, in-memory log):
the old generation (classic) or epoch (KIP-848) is fenced in the same append as the offsets,
so nothing from before the reset overwrites it, and members resume from it after rejoining."""

from __future__ import annotations

from katka.coordinator.classic.consumer_protocol import encode_assignment
from katka.coordinator.results import OffsetCommitPartition
from katka.errors import ErrorCode
from tests.coordinator.harness import GROUP, Harness
from tests.coordinator.kip848_harness import GROUP as KIP848_GROUP
from tests.coordinator.kip848_harness import Kip848

RESET = {("orders", p): 0 for p in range(6)}


def committed(harness: Harness | Kip848, group: str = GROUP) -> dict[tuple[str, int], int]:
    result = harness.coordinator.fetch_offsets(group, None)
    return {(p.topic, p.partition): p.committed_offset for p in result.partitions}


def test_an_active_classic_group_refuses_an_offline_reset() -> None:
    h = Harness()
    h.stable_group(2)
    assert h.coordinator.reset_offsets(GROUP, RESET, live=False) is ErrorCode.non_empty_group
    assert committed(h) == {}


def test_a_live_reset_fences_the_classic_generation_until_members_rejoin() -> None:
    h = Harness()
    group = h.stable_group(2)
    first, second = group.member_ids
    assert h.commit(first, group.generation, {("orders", 0): 40}) == {("orders", 0): ErrorCode.none}

    assert h.coordinator.reset_offsets(GROUP, RESET, live=True) is ErrorCode.none
    assert committed(h)[("orders", 0)] == 0
    assert h.state() == "PreparingRebalance"
    # The commit and heartbeat a member sent before it knew: refused, so the reset stays.
    old = group.generation
    assert h.commit(first, old, {("orders", 0): 41}) == {
        ("orders", 0): ErrorCode.illegal_generation
    }
    assert h.heartbeat(second, old) is ErrorCode.illegal_generation
    assert h.sync(second, old).get().error_code is ErrorCode.illegal_generation
    assert committed(h)[("orders", 0)] == 0

    # Both rejoin (as librdkafka does after ILLEGAL_GENERATION) and get a new generation.
    joins = [h.join(first), h.join(second)]
    results = [j.get() for j in joins]
    generation = results[0].generation_id
    assert generation > old + 1  # the fenced generation is never handed out
    leader = results[0].leader_id
    assignments = {m: encode_assignment({"orders": [0, 1, 2]}) for m in group.member_ids}
    syncs = [h.sync(m, generation, assignments if m == leader else None) for m in group.member_ids]
    assert all(s.get().error_code is ErrorCode.none for s in syncs)
    assert h.state() == "Stable"
    assert h.commit(first, generation, {("orders", 0): 1}) == {("orders", 0): ErrorCode.none}

    history = h.coordinator.rebalance_history(GROUP)
    assert history[-1].trigger == "offset_reset" and history[-1].outcome == "Stable"


def test_a_member_parked_in_join_during_a_live_reset_rejoins_as_a_new_member() -> None:
    h = Harness()
    group = h.stable_group(2)
    first, second = group.member_ids
    parked = h.join(first)  # first starts a rebalance; second has not rejoined yet
    assert parked.parked
    assert h.coordinator.reset_offsets(GROUP, RESET, live=True) is ErrorCode.none
    assert parked.get().error_code is ErrorCode.unknown_member_id
    assert h.heartbeat(second, group.generation) is ErrorCode.illegal_generation
    superseded = h.coordinator.rebalance_history(GROUP)[-1]
    assert (superseded.member_id, superseded.outcome) == (first, "Superseded")
    in_progress = h.coordinator.classic.groups[GROUP].history.in_progress
    assert in_progress is not None and in_progress.trigger == "offset_reset"


def test_a_live_reset_survives_a_restart_and_every_member_rejoins() -> None:
    h = Harness()
    group = h.stable_group(2)
    assert h.coordinator.reset_offsets(GROUP, RESET, live=True) is ErrorCode.none
    restarted = h.restart()
    assert committed(restarted)[("orders", 3)] == 0
    first = group.member_ids[0]
    assert restarted.heartbeat(first, group.generation) is ErrorCode.unknown_member_id
    refused = restarted.commit(first, group.generation, {("orders", 0): 9})
    assert refused == {("orders", 0): ErrorCode.unknown_member_id}


def test_a_live_reset_fences_every_kip848_member_until_it_rejoins() -> None:
    k = Kip848()
    a, _ = k.join("a")
    b, _ = k.join("b")
    k.converge(a, b)
    epoch_before = k.group().group_epoch
    assert k.coordinator.reset_offsets(KIP848_GROUP, RESET, live=False) is ErrorCode.non_empty_group

    assert k.coordinator.reset_offsets(KIP848_GROUP, RESET, live=True) is ErrorCode.none
    assert k.group().group_epoch == epoch_before + 1
    assert k.group().state.value == "Reconciling"
    response = k.heartbeat(a.member_id, a.epoch, owned=a.owned)
    assert response.error_code is ErrorCode.fenced_member_epoch
    # The commit the member had in flight: refused.
    result = k.coordinator.commit_offsets(
        KIP848_GROUP,
        a.member_id,
        a.epoch,
        [OffsetCommitPartition("orders", 0, 77)],
        member_epoch_capable=True,
    )
    assert result.partitions[0].error_code is ErrorCode.stale_member_epoch
    assert committed(k, KIP848_GROUP)[("orders", 0)] == 0

    # Rejoining with epoch 0 (as librdkafka does when fenced) gives the partitions back.
    for member in (a, b):
        member.epoch, member.owned = 0, frozenset()
        rejoined = k.heartbeat(
            member.member_id, 0, topics=("orders",), owned=frozenset(), rebalance_timeout_ms=30_000
        )
        k.absorb(member, rejoined)
    k.converge(a, b)
    assert len(a.owned | b.owned) == 6
    history = k.coordinator.rebalance_history(KIP848_GROUP)
    assert history[-1].trigger == "offset_reset" and history[-1].outcome == "Stable"


def test_a_kip848_member_that_never_rejoins_after_a_live_reset_is_fenced_for_good() -> None:
    k = Kip848()
    a, _ = k.join("a")
    k.converge(a)
    assert k.coordinator.reset_offsets(KIP848_GROUP, RESET, live=True) is ErrorCode.none
    k.timers.advance(30_001)  # the member's rebalance timeout
    assert "a" not in k.group().members


def test_a_reset_waits_for_an_open_transaction_holding_the_groups_offsets() -> None:
    h = Harness()
    pending = [OffsetCommitPartition("orders", 0, 33)]
    h.coordinator.commit_offsets(GROUP, "", -1, pending, producer=(7, 0))
    refused = h.coordinator.reset_offsets(GROUP, RESET, live=True)
    assert refused is ErrorCode.unstable_offset_commit  # its COMMIT would overwrite the reset
    h.coordinator.complete_transaction(7, commit=True)
    assert h.coordinator.reset_offsets(GROUP, RESET, live=True) is ErrorCode.none
    assert committed(h)[("orders", 0)] == 0


def test_a_member_parked_in_sync_during_a_live_reset_rejoins_as_a_new_member() -> None:
    h = Harness()
    group = h.stable_group(2)
    first, second = group.member_ids
    joins = [h.join(first), h.join(second)]  # a new generation; nobody has synced yet
    generation = joins[0].get().generation_id
    follower = second if joins[0].get().leader_id == first else first
    parked = h.sync(follower, generation)
    assert parked.parked
    assert h.coordinator.reset_offsets(GROUP, RESET, live=True) is ErrorCode.none
    assert parked.get().error_code is ErrorCode.unknown_member_id
    assert follower not in h.coordinator.classic.groups[GROUP].members
    assert h.state() == "PreparingRebalance"
