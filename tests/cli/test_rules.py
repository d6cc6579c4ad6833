"""The CLI's plain rules: time parsing, --format rendering, reset plans, storm detection."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest

from katka.cli.group.reset_plan import (
    NoCommittedOffset,
    ResetSpec,
    parse_offsets_csv,
    parse_topic_partitions,
    plan_reset,
)
from katka.cli.group.storms import detect_storms, storm_advice
from katka.cli.record_format import Record, compile_format, render
from katka.cli.timeparse import (
    TimeFormatError,
    format_duration_ms,
    parse_duration_ms,
    parse_time_ms,
)

NOW = 1_700_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", 3_600_000),
        ("-1h", 3_600_000),
        ("1h30m", 5_400_000),
        ("90s", 90_000),
        ("250ms", 250),
        ("2d", 172_800_000),
        ("PT1H", 3_600_000),
        ("P1DT2H3M4S", 86_400_000 + 7_200_000 + 180_000 + 4_000),
        ("-PT0.5S", 500),
    ],
)
def test_durations_are_read_in_short_and_iso_8601_forms(text: str, expected: int) -> None:
    assert parse_duration_ms(text) == expected


@pytest.mark.parametrize("text", ["", "h", "1x", "P", "PT", "1h 30m", "P1H", "yesterday"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_duration_ms(text)


def test_times_are_relative_iso_8601_or_epoch_milliseconds() -> None:
    assert parse_time_ms("-1h", NOW) == NOW - 3_600_000
    assert parse_time_ms("now", NOW) == NOW
    assert parse_time_ms(str(NOW - 5), NOW) == NOW - 5
    utc = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_time_ms("2024-05-01T12:00:00Z", NOW) == int(utc.timestamp() * 1000)
    assert parse_time_ms("2024-05-01T14:00:00+02:00", NOW) == int(utc.timestamp() * 1000)
    local = datetime(2024, 5, 1, 12, 0).astimezone()
    assert parse_time_ms("2024-05-01T12:00", NOW) == int(local.timestamp() * 1000)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "12:00 tomorrow", "-1y"])
def test_malformed_times_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(TimeFormatError, match="invalid"):
        parse_time_ms(text, NOW)


def test_durations_print_compactly() -> None:
    assert [format_duration_ms(v) for v in (None, 850, 12_300, 245_000, 7_380_000)] == [
        "-",
        "850ms",
        "12.3s",
        "4m05s",
        "2h03m",
    ]


RECORD = Record("orders", 2, 41, 1234, b"k1", b"v1", (("a", b"1"), ("b", None)))


def test_the_format_renders_kcat_fields_and_escapes() -> None:
    parts = compile_format(r"%t/%p@%o %T %k=%v [%h] %K %S 100%%\t|\n")
    assert render(parts, RECORD) == b"orders/2@41 1234 k1=v1 [a=1,b=] 2 2 100%\t|\n"
    assert render(compile_format("%s"), RECORD) == b"v1"
    null_key = Record("t", 0, 0, 0, None, b"", ())
    assert render(compile_format("%K %S|%k|"), null_key) == b"-1 0||"


@pytest.mark.parametrize("text", ["%q", "value %"])
def test_unknown_format_fields_are_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        compile_format(text)


def plan(
    spec: ResetSpec, committed: dict[tuple[str, int], int | None], if_no_offset: str | None = None
) -> list[tuple[int, int | None]]:
    keys = [("t", 0), ("t", 1)]
    start = {key: 10 for key in keys}
    end = {key: 100 for key in keys}
    by_time = {("t", 0): 50, ("t", 1): None}
    return [
        (p.new_offset, p.records_to_replay)
        for p in plan_reset(keys, spec, committed, start, end, by_time, if_no_offset)
    ]


def test_reset_plans_follow_kafka_consumer_groups_and_stay_within_the_log() -> None:
    committed: dict[tuple[str, int], int | None] = {("t", 0): 60, ("t", 1): None}
    assert plan(ResetSpec("earliest"), committed) == [(10, 50), (10, None)]
    assert plan(ResetSpec("latest"), committed) == [(100, -40), (100, None)]
    assert plan(ResetSpec("offset", 5), committed) == [(10, 50), (10, None)]
    assert plan(ResetSpec("offset", 500), committed) == [(100, -40), (100, None)]
    assert plan(ResetSpec("timestamp", 0), committed) == [(50, 10), (100, None)]
    assert plan(ResetSpec("shift", -20), {("t", 0): 60, ("t", 1): 15}) == [(40, 20), (10, 5)]


def test_moving_from_a_missing_committed_offset_needs_a_named_fallback() -> None:
    committed: dict[tuple[str, int], int | None] = {("t", 0): 60, ("t", 1): None}
    for spec in (ResetSpec("shift", -20), ResetSpec("current")):
        with pytest.raises(NoCommittedOffset, match="^t-1 has no committed offset") as refused:
            plan(spec, committed)
        assert refused.value.partitions == [("t", 1)]
    assert plan(ResetSpec("shift", -20), committed, "earliest") == [(40, 20), (10, None)]
    assert plan(ResetSpec("shift", -20), committed, "latest") == [(40, 20), (80, None)]
    assert plan(ResetSpec("current"), committed, "latest") == [(60, 0), (100, None)]


def test_offsets_outside_the_log_are_clamped_with_a_warning() -> None:
    [past_end] = plan_reset(
        [("t", 0)], ResetSpec("offset", 500), {}, {("t", 0): 10}, {("t", 0): 100}
    )
    assert past_end.clamp_warning == "new offset 500 is past the log end of t-0: 100 is used"
    [before] = plan_reset(
        [("t", 0)], ResetSpec("shift", -50), {("t", 0): 20}, {("t", 0): 10}, {("t", 0): 100}
    )
    assert before.clamp_warning == "new offset -30 is before the log start of t-0: 10 is used"
    [inside] = plan_reset([("t", 0)], ResetSpec("offset", 50), {}, {("t", 0): 10}, {("t", 0): 100})
    assert inside.clamp_warning is None


def test_topic_partition_arguments() -> None:
    assert parse_topic_partitions(["a", "b:0,2"]) == [("a", None), ("b", [0, 2])]
    for bad in ["b:", ":1", "b:x", "b:-1"]:
        with pytest.raises(ValueError):
            parse_topic_partitions([bad])


def entry(
    start_ms: int, who: str, trigger: str = "session_timeout", generation: int = 1
) -> dict[str, object]:
    return {
        "start_ms": start_ms,
        "client_id": who,
        "member_id": f"{who}-{start_ms}",
        "group_instance_id": None,
        "trigger": trigger,
        "generation_id": generation,
    }


def test_three_quick_rebalances_by_one_member_are_a_storm() -> None:
    history = [entry(i * 10_000, "flaky", generation=i + 1) for i in range(4)]
    history.append(entry(15_000, "steady", "join"))
    storms = detect_storms(history)
    assert [(s.who, s.rebalances, s.generations) for s in storms] == [("flaky", 4, (1, 2, 3, 4))]
    advice = " ".join(storm_advice(storms[0]))
    assert "group.instance.id" in advice and "session.timeout.ms" in advice
    assert "cooperative-sticky" in advice


def test_spaced_out_rebalances_are_not_a_storm() -> None:
    spaced = [entry(i * 120_000, "member") for i in range(5)]
    assert detect_storms(spaced) == []
    assert detect_storms(spaced, session_timeout_ms=90_000) != []  # 2 x session timeout
    assert detect_storms([entry(0, "a"), entry(1000, "a")]) == []


def test_offsets_csv_is_read_as_kafka_consumer_groups_writes_it() -> None:
    one_group = "orders,0,42\norders,1,7\n\n"
    assert parse_offsets_csv(one_group, "g") == {("orders", 0): 42, ("orders", 1): 7}
    several = "g,orders,0,42\nother,orders,0,1\n"
    assert parse_offsets_csv(several, "g") == {("orders", 0): 42}
    for bad in ("orders,0\n", "orders,x,1\n", ",0,1\n"):
        with pytest.raises(ValueError, match="line 1"):
            parse_offsets_csv(bad, "g")
