"""Rebalance history survives a restart: each completed rebalance is a record in the
coordinator's internal log, bounded per group, replayed at start-up (history_records.py)."""

from __future__ import annotations

import dataclasses

from katka.cli.group.storms import detect_storms
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.history_records import is_history_key
from katka.coordinator.results import LeaveMember
from katka.errors import ErrorCode
from tests.coordinator.harness import GROUP, Harness
from tests.coordinator.kip848_harness import GROUP as KIP848_GROUP
from tests.coordinator.kip848_harness import Kip848


def join_and_leave(h: Harness, times: int) -> None:
    """One member joins an empty group and leaves: two rebalances (join, leave) each time."""
    for _ in range(times):
        member = h.stable_group(1).member_ids[0]
        h.advance(100)
        h.coordinator.leave_group(GROUP, [LeaveMember(member)])
        h.advance(100)


def test_classic_rebalances_and_their_counts_survive_a_restart() -> None:
    h = Harness()
    join_and_leave(h, 1)
    before = h.coordinator.rebalance_history(GROUP)
    assert [e.trigger for e in before] == ["join", "leave"]

    restarted = h.restart()
    assert restarted.coordinator.rebalance_history(GROUP) == before
    assert restarted.coordinator.classic.groups[GROUP].history.counts == {"join": 1, "leave": 1}
    # New rebalances continue after the restored ones, and survive the next restart too.
    join_and_leave(restarted, 1)
    after = restarted.coordinator.rebalance_history(GROUP)
    assert len(after) == 4 and after[:2] == before
    assert restarted.restart().coordinator.rebalance_history(GROUP) == after


def test_kip848_rebalances_survive_a_restart() -> None:
    k = Kip848()
    a, _ = k.join("a")
    k.converge(a)
    b, _ = k.join("b")
    k.converge(a, b)
    before = k.coordinator.rebalance_history(KIP848_GROUP)
    assert len(before) == 2
    assert k.restart().coordinator.rebalance_history(KIP848_GROUP) == before


def test_the_history_in_the_log_is_bounded_and_keeps_the_newest() -> None:
    config = CoordinatorConfig(group_initial_rebalance_delay_ms=0, rebalance_history_size=3)
    h = Harness(config=config)
    join_and_leave(h, 4)
    newest = h.coordinator.rebalance_history(GROUP)
    assert [e.trigger for e in newest] == ["leave", "join", "leave"]
    assert h.coordinator.maybe_compact(min_records=0)
    assert sum(1 for key, _ in h.log.records if is_history_key(key)) == 3
    restarted = h.restart()
    assert restarted.coordinator.rebalance_history(GROUP) == newest
    assert restarted.coordinator.classic.groups[GROUP].history.counts == {"join": 4, "leave": 4}


def test_a_deleted_group_takes_its_history_with_it() -> None:
    h = Harness()
    group = h.stable_group(1)
    h.coordinator.leave_group(GROUP, [LeaveMember(group.member_ids[0])])
    assert h.coordinator.delete_groups([GROUP])[0].error_code is ErrorCode.none
    h.stable_group(1)  # a new group with the same id
    assert [e.trigger for e in h.restart().coordinator.rebalance_history(GROUP)] == ["join"]


def test_a_storm_is_still_a_storm_after_a_restart() -> None:
    h = Harness()
    join_and_leave(h, 4)
    history = [dataclasses.asdict(e) for e in h.coordinator.rebalance_history(GROUP)]
    storms = detect_storms(history, 10_000)
    assert storms
    restarted = [dataclasses.asdict(e) for e in h.restart().coordinator.rebalance_history(GROUP)]
    assert restarted == history
    assert detect_storms(restarted, 10_000) == storms
