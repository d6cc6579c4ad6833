"""Rebalances of a group katka does not coordinate, inferred from polled snapshots: plain values
in, history entries out (the same shape as katka's own, so the console and storms apply)."""

from __future__ import annotations

from katka.admin.documents import lag_row, rebalances_document
from katka.admin.observer import GenerationObserver, GroupSnapshot, MemberSnapshot


def member(member_id: str, client_id: str, *partitions: int) -> MemberSnapshot:
    return MemberSnapshot(
        member_id, client_id, "/127.0.0.1", None, tuple(("t", p) for p in partitions)
    )


def group(state: str, *members: MemberSnapshot) -> GroupSnapshot:
    return GroupSnapshot("g", state, "range", None, members)


def test_the_first_settled_view_is_a_baseline_not_a_rebalance() -> None:
    observer = GenerationObserver(resolution_ms=500)
    observer.observe(group("Stable", member("a", "one", 0, 1)), 1_000)
    observer.observe(group("Stable", member("a", "one", 0, 1)), 1_500)
    assert list(observer.entries) == []


def test_a_member_that_joins_opens_a_rebalance_closed_when_the_group_settles() -> None:
    observer = GenerationObserver(resolution_ms=500)
    observer.observe(group("Stable", member("a", "one", 0, 1)), 1_000)
    observer.observe(group("PreparingRebalance", member("a", "one"), member("b", "two")), 1_500)
    observer.observe(group("CompletingRebalance", member("a", "one"), member("b", "two")), 2_000)
    observer.observe(group("Stable", member("a", "one", 0), member("b", "two", 1)), 3_000)
    [entry] = observer.entries
    assert entry["trigger"] == "join" and entry["client_id"] == "two"
    assert (entry["start_ms"], entry["end_ms"], entry["stopped_ms"]) == (1_500, 3_000, 1_500)
    assert entry["outcome"] == "Stable" and entry["observed"] is True
    assert [m["assignment"] for m in entry["members"]] == [["t-0"], ["t-1"]]
    assert observer.counts == {"join": 1}


def test_a_change_between_two_polls_is_still_a_rebalance_and_a_leave_names_who_left() -> None:
    observer = GenerationObserver(resolution_ms=500)
    observer.observe(group("Stable", member("a", "one", 0), member("b", "two", 1)), 1_000)
    observer.observe(group("Stable", member("a", "one", 0, 1)), 1_500)
    [entry] = observer.entries
    assert entry["trigger"] == "leave" and entry["client_id"] == "two"
    assert entry["stopped_ms"] == 0 and entry["resolution_ms"] == 500
    assert "does not say which" in entry["reason"]
    assert entry["removed"][0]["member_id"] == "b"


def test_a_member_that_came_and_went_during_the_rebalance_is_named_as_the_flapping_one() -> None:
    observer = GenerationObserver(resolution_ms=500)
    stable = group("Stable", member("a", "one", 0))
    observer.observe(stable, 1_000)
    observer.observe(group("PreparingRebalance", member("a", "one"), member("x", "flaky")), 1_500)
    observer.observe(group("Stable", member("a2", "one", 0)), 2_000)
    [entry] = observer.entries
    assert entry["client_id"] == "flaky" and "gone again: flaky" in entry["reason"]


def test_three_quick_observed_rebalances_by_one_member_make_a_storm() -> None:
    observer = GenerationObserver(resolution_ms=500)
    now = 1_000
    observer.observe(group("Stable", member("a", "one", 0)), now)
    for round_ in range(3):
        now += 500
        observer.observe(group("Stable", member("a", "one"), member(f"f{round_}", "flaky", 0)), now)
        now += 500
        observer.observe(group("Stable", member("a", "one", 0)), now)
    document = rebalances_document("g", None, list(observer.entries))
    [storm] = document["storms"]
    assert storm["who"] == "flaky" and storm["rebalances"] == 6  # each join and leave
    assert storm["generations"] == ()  # classic groups: the protocol gives no generation
    assert any("static membership" in advice for advice in storm["advice"])


def test_lag_is_counted_in_records_and_in_the_age_of_the_next_unconsumed_record() -> None:
    row = lag_row("t", 0, 4, 0, 10, next_record_timestamp_ms=1_000, now_ms=31_000)
    assert (row["lag"], row["lag_ms"]) == (6, 30_000)
    caught_up = lag_row("t", 0, 10, 0, 10, next_record_timestamp_ms=None, now_ms=31_000)
    assert (caught_up["lag"], caught_up["lag_ms"]) == (0, 0)
    unknown = lag_row("t", 0, 4, 0, 10, next_record_timestamp_ms=None, now_ms=31_000)
    assert (unknown["lag"], unknown["lag_ms"]) == (6, None)
    gone = lag_row("t", 0, 4, None, None, next_record_timestamp_ms=None, now_ms=31_000)
    assert gone["lag"] is None


def test_a_classic_groups_generation_is_read_from_the_record_kafka_writes() -> None:
    from katka.cli.console.generations import decode_generation
    from katka.coordinator.classic.consumer_protocol import encode_assignment
    from katka.coordinator.records import GroupSnapshot as StoredGroup
    from katka.coordinator.records import MemberSnapshot as StoredMember
    from katka.coordinator.records import group_record, offset_key

    stored = StoredGroup(
        "consumer",
        7,
        "range",
        "m1",
        123_456,
        (
            StoredMember(
                "m1",
                None,
                "one",
                "/10.0.0.1",
                60_000,
                10_000,
                b"",
                encode_assignment({"t": [1, 0]}),
            ),
        ),
    )
    key, value = group_record("g", stored)
    generation = decode_generation(key, value)
    assert generation is not None
    assert generation.snapshot.generation_id == 7 and generation.timestamp_ms == 123_456
    assert generation.snapshot.members[0].assignment == (("t", 0), ("t", 1))
    assert generation.session_timeout_ms == 10_000
    assert decode_generation(offset_key("g", "t", 0), b"\x00\x03") is None  # not a generation
    assert decode_generation(key, None) is None  # a tombstone


def test_generations_close_rebalances_with_their_number_and_none_is_missed_between_polls() -> None:
    observer = GenerationObserver(resolution_ms=500)
    observer.observe(group("Stable", member("a", "one", 0)), 1_000)
    base = GroupSnapshot("g", "Stable", "range", 3, (member("a", "one", 0),))
    observer.on_generation(base, 900, 10_000)  # the baseline
    observer.observe(group("PreparingRebalance", member("a", "one")), 1_500)
    flaky = GroupSnapshot("g", "Stable", "range", 4, (member("a", "one"), member("x", "flaky", 0)))
    back = GroupSnapshot("g", "Stable", "range", 5, (member("a", "one", 0),))
    observer.on_generation(flaky, 1_800, 10_000)
    observer.on_generation(back, 1_900, 10_000)  # both between two polls
    first, second = observer.entries
    assert (first["generation_id"], first["trigger"], first["client_id"]) == (4, "join", "flaky")
    assert (first["start_ms"], first["stopped_ms"]) == (1_500, 300)
    assert (second["generation_id"], second["trigger"], second["stopped_ms"]) == (5, "leave", None)
    assert observer.generation_id == 5 and observer.session_timeout_ms == 10_000
