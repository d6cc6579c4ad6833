"""`katka group ...` against a real broker with live confluent-kafka consumers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from katka.reliability.process import BrokerProcess
from tests.cli.conftest import CliBroker, Run, run_katka

HOUR_MS = 3_600_000


def produce(bootstrap: str, topic: str, count: int, timestamps: list[int] | None = None) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        extra = {"timestamp": timestamps[i]} if timestamps else {}
        producer.produce(topic, value=b"v%d" % i, partition=0, **extra)
    assert producer.flush(10) == 0


def consume(consumer: Any, count: int) -> None:
    got = 0
    deadline = time.monotonic() + 20
    while got < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            got += 1
    assert got == count


@pytest.fixture
def group_consumer(cli_broker: CliBroker) -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def make(group: str, topic: str, **configs: Any) -> Any:
        consumer = Consumer(
            {
                "bootstrap.servers": cli_broker.bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                **configs,
            }
        )
        consumer.subscribe([topic])
        made.append(consumer)
        return consumer

    yield make
    for consumer in made:
        consumer.close()


def test_describe_shows_state_generation_members_and_lag_in_records_and_time(
    katka: Run, cli_broker: CliBroker, unique: Callable[[str], str], group_consumer: Any
) -> None:
    topic, group = unique("t"), unique("g")
    katka("topic", "create", topic, "--partitions", "2", check=True)
    old = int(time.time() * 1000) - 2 * HOUR_MS
    produce(cli_broker.bootstrap, topic, 5, [old + i for i in range(5)])
    consumer = group_consumer(group, topic, **{"client.id": "billing-app"})
    consume(consumer, 2)
    consumer.commit(asynchronous=False)

    described = json.loads(katka("group", "describe", group, "--output", "json", check=True).stdout)
    assert (described["state"], described["protocol"]) == ("Stable", "range")
    assert described["generation"] >= 1
    [member] = described["members"]
    assert (member["client_id"], member["group_instance_id"]) == ("billing-app", None)
    assert sorted(a["partition"] for a in member["assignment"]) == [0, 1]
    [partition] = [p for p in described["partitions"] if p["partition"] == 0]
    assert (partition["committed_offset"], partition["log_end_offset"], partition["lag"]) == (
        2,
        5,
        3,
    )
    assert 2 * HOUR_MS - 60_000 < partition["lag_ms"] < 2 * HOUR_MS + 60_000

    table = katka("group", "describe", group, check=True).stdout
    assert f"GROUP {group}  STATE Stable  PROTOCOL range  GENERATION" in table
    assert "LAG-TIME" in table and "billing-app" in table
    assert "2h00m" in table or "1h59m" in table
    listed = json.loads(katka("group", "list", "--output", "json", check=True).stdout)
    assert {"group": group, "state": "Stable", "simple": False} in listed


def test_reset_offsets_is_refused_on_an_active_group_then_planned_and_executed(
    katka: Run, cli_broker: CliBroker, unique: Callable[[str], str], group_consumer: Any
) -> None:
    topic, group = unique("t"), unique("g")
    katka("topic", "create", topic, check=True)
    now = int(time.time() * 1000)
    # Three records from two days ago, three from 30 minutes ago, four from now.
    stamps = [now - 48 * HOUR_MS] * 3 + [now - HOUR_MS // 2] * 3 + [now] * 4
    produce(cli_broker.bootstrap, topic, 10, stamps)
    consumer = group_consumer(group, topic)
    consume(consumer, 10)
    consumer.commit(asynchronous=False)

    refused = katka("group", "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"katka: error: Assignments can only be reset if the group '{group}' is inactive, "
        "but the current state is Stable.\n"
    )
    consumer.close()

    def plan(*args: str) -> list[tuple[int | None, int, int | None]]:
        result = katka("group", "reset-offsets", group, "--output", "json", *args)
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)["partitions"]
        return [(r["current_offset"], r["new_offset"], r["records_to_replay"]) for r in rows]

    assert plan("--topic", topic, "--to-earliest") == [(10, 0, 10)]
    assert plan("--all-topics", "--by-duration", "1h") == [(10, 3, 7)]
    assert plan("--all-topics", "--by-duration", "PT1H") == [(10, 3, 7)]
    assert plan("--topic", f"{topic}:0", "--to-datetime", "-10m") == [(10, 6, 4)]
    assert plan("--all-topics", "--shift-by", "-4") == [(10, 6, 4)]
    assert plan("--all-topics", "--to-offset", "99") == [(10, 10, 0)]

    dry = katka("group", "reset-offsets", group, "--all-topics", "--to-offset", "4")
    assert "Dry run: nothing changed" in dry.stdout
    assert "NEW-OFFSET" in dry.stdout
    assert plan("--all-topics", "--to-current") == [(10, 10, 0)]

    done = katka("group", "reset-offsets", group, "--all-topics", "--to-offset", "4", "--execute")
    assert done.returncode == 0, done.stderr
    assert f"Reset the offsets of 1 partition of group '{group}'." in done.stdout
    described = json.loads(katka("group", "describe", group, "--output", "json", check=True).stdout)
    assert described["state"] == "Empty"
    assert [(p["committed_offset"], p["lag"]) for p in described["partitions"]] == [(4, 6)]


def test_bad_group_input_is_refused_with_one_line(katka: Run, unique: Callable[[str], str]) -> None:
    for args in (
        ("group", "describe", "no-such-group"),
        ("group", "delete", "no-such-group"),
        ("group", "rebalances", "no-such-group"),
    ):
        result = katka(*args)
        assert (result.returncode, result.stderr) == (
            1,
            "katka: error: Consumer group 'no-such-group' does not exist.\n",
        ), args
    topic = unique("t")
    katka("topic", "create", topic, check=True)
    for option, value in (("--to-datetime", "last tuesday"), ("--by-duration", "1 hour")):
        result = katka("group", "reset-offsets", "g", "--topic", topic, option, value)
        assert result.returncode == 2
        assert result.stderr.startswith(f"katka: error: Invalid value for {option}: invalid")
        assert result.stderr.count("\n") == 1
    missing = katka("group", "reset-offsets", "g", "--topic", "no-such-topic", "--to-earliest")
    assert missing.stderr == "katka: error: Topic 'no-such-topic' does not exist as expected\n"
    two = katka("group", "reset-offsets", "g", "--all-topics", "--to-earliest", "--to-latest")
    assert two.returncode == 2 and "choose exactly one of" in two.stderr


def test_groups_are_deleted_only_when_empty(
    katka: Run, cli_broker: CliBroker, unique: Callable[[str], str], group_consumer: Any
) -> None:
    topic, group = unique("t"), unique("g")
    katka("topic", "create", topic, check=True)
    produce(cli_broker.bootstrap, topic, 1)
    consumer = group_consumer(group, topic)
    consume(consumer, 1)
    consumer.commit(asynchronous=False)
    busy = katka("group", "delete", group)
    assert busy.returncode == 1
    assert busy.stderr.startswith(f"katka: error: Group '{group}' could not be deleted: ")
    assert "NON_EMPTY_GROUP" in busy.stderr
    consumer.close()
    deleted = katka("group", "delete", group)
    assert deleted.stdout == f"Deletion of requested consumer groups ('{group}') was successful.\n"
    assert katka("group", "describe", group).returncode == 1


def test_rebalances_lists_the_history_with_trigger_member_and_assignment(
    katka: Run, cli_broker: CliBroker, unique: Callable[[str], str], group_consumer: Any
) -> None:
    topic, group = unique("t"), unique("g")
    katka("topic", "create", topic, "--partitions", "2", check=True)
    produce(cli_broker.bootstrap, topic, 2)
    first = group_consumer(group, topic, **{"client.id": "first"})
    consume(first, 2)
    first.close()
    history = json.loads(katka("group", "rebalances", group, "--output", "json", check=True).stdout)
    triggers = [(r["trigger"], r["client_id"]) for r in history["rebalances"]]
    assert triggers[0] == ("join", "first")
    assert history["rebalances"][0]["members"][0]["assigned_partitions"] == 2
    assert history["storms"] == []
    table = katka("group", "rebalances", group, check=True).stdout
    assert "TRIGGER" in table and "first=2" in table and "STOPPED" in table


def test_katka_only_views_say_so_when_the_broker_has_no_admin_api(tmp_path: Path) -> None:
    plain = BrokerProcess(tmp_path / "plain", overrides=["katka.admin.listener=none"])
    plain.start(30)
    try:
        result = run_katka("group", "rebalances", "g", "--bootstrap-server", plain.bootstrap)
        assert result.returncode == 1
        assert result.stderr == (
            "katka: error: rebalance history is a katka-only view: the broker at "
            f"{plain.bootstrap} does not report a katka.admin.listener (not katka, or its admin "
            "API is off); pass --admin-url to point at one\n"
        )
        closed = run_katka(
            "group",
            "rebalances",
            "g",
            "--bootstrap-server",
            plain.bootstrap,
            "--admin-url",
            "127.0.0.1:1",
        )
        assert closed.returncode == 1
        assert closed.stderr.startswith(
            "katka: error: cannot reach katka's admin API at http://127.0.0.1:1"
        )
    finally:
        plain.kill()


def test_describe_without_the_admin_api_reads_lag_in_time_itself(tmp_path: Path) -> None:
    """Against a broker without katka's admin API (as against Kafka): no generation, and the
    age of the next record is read with a short-lived consumer."""
    plain = BrokerProcess(
        tmp_path / "plain",
        overrides=["group.initial.rebalance.delay.ms=0", "katka.admin.listener=none"],
    )
    plain.start(30)
    try:
        old = int(time.time() * 1000) - HOUR_MS
        run_katka("topic", "create", "t", "--bootstrap-server", plain.bootstrap)
        produce(plain.bootstrap, "t", 3, [old, old + 1, old + 2])
        consumer = Consumer(
            {"bootstrap.servers": plain.bootstrap, "group.id": "g", "auto.offset.reset": "earliest"}
        )
        consumer.subscribe(["t"])
        consume(consumer, 1)
        consumer.commit(asynchronous=False)
        consumer.close()
        result = run_katka(
            "group", "describe", "g", "--output", "json", "--bootstrap-server", plain.bootstrap
        )
        assert result.returncode == 0, result.stderr
        described = json.loads(result.stdout)
        assert described["generation"] is None
        [partition] = described["partitions"]
        assert (partition["committed_offset"], partition["lag"]) == (1, 2)
        assert HOUR_MS - 60_000 < partition["lag_ms"] < HOUR_MS + 60_000
    finally:
        plain.kill()


def test_shifting_partitions_without_a_committed_offset_is_refused_unless_a_fallback_is_named(
    katka: Run, cli_broker: CliBroker, unique: Callable[[str], str]
) -> None:
    """Kafka refuses --shift-by where nothing is committed; starting from the log end would
    skip every record there without a word (issue 15, mistake 4)."""
    topic, group = unique("t"), unique("g")
    katka("topic", "create", topic, "--partitions", "2", check=True)
    for partition in (0, 1):
        katka("produce", topic, "--partition", str(partition), input="a\nb\nc\nd\ne\n", check=True)
    katka(
        "group",
        "reset-offsets",
        group,
        "--topic",
        f"{topic}:0",
        "--to-offset",
        "4",
        "--execute",
        check=True,
    )

    for mode in (("--shift-by", "-2"), ("--to-current",)):
        refused = katka("group", "reset-offsets", group, "--topic", topic, *mode, "--execute")
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.startswith(f"katka: error: {topic}-1 has no committed offset"), (
            refused.stderr
        )
        assert "--if-no-offset earliest" in refused.stderr and refused.stderr.count("\n") == 1
    described = json.loads(katka("group", "describe", group, "--output", "json", check=True).stdout)
    assert [(p["partition"], p["committed_offset"]) for p in described["partitions"]] == [(0, 4)]

    def plan(*args: str) -> list[tuple[int, int | None, int]]:
        result = katka("group", "reset-offsets", group, "--topic", topic, "--output", "json", *args)
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)["partitions"]
        return [(r["partition"], r["current_offset"], r["new_offset"]) for r in rows]

    assert plan("--shift-by", "-2", "--if-no-offset", "earliest") == [(0, 4, 2), (1, None, 0)]
    assert plan("--shift-by", "-2", "--if-no-offset", "latest") == [(0, 4, 2), (1, None, 3)]
    assert plan("--to-current", "--if-no-offset", "earliest") == [(0, 4, 4), (1, None, 0)]
    assert plan("--to-earliest") == [(0, 4, 0), (1, None, 0)]  # needs no current offset


def test_offsets_exported_as_csv_are_restored_from_the_file(
    katka: Run, unique: Callable[[str], str], tmp_path: Path
) -> None:
    topic, group = unique("t"), unique("g")
    katka("topic", "create", topic, "--partitions", "2", check=True)
    for partition in (0, 1):
        katka("produce", topic, "-p", str(partition), input="a\nb\nc\nd\n", check=True)
    katka(
        "group",
        "reset-offsets",
        group,
        "--topic",
        topic,
        "--to-offset",
        "3",
        "--execute",
        check=True,
    )
    katka(
        "group",
        "reset-offsets",
        group,
        "--topic",
        f"{topic}:1",
        "--to-offset",
        "1",
        "--execute",
        check=True,
    )

    exported = katka(
        "group", "reset-offsets", group, "--all-topics", "--to-current", "--export", check=True
    )
    assert exported.stdout == f"{topic},0,3\n{topic},1,1\n"  # kafka-consumer-groups.sh's CSV
    saved = tmp_path / "offsets.csv"
    saved.write_text(exported.stdout)
    katka("group", "reset-offsets", group, "--all-topics", "--to-earliest", "--execute", check=True)

    restored = katka("group", "reset-offsets", group, "--from-file", str(saved), "--execute")
    assert restored.returncode == 0, restored.stderr
    described = json.loads(
        katka("group", "describe", "--group", group, "--output", "json", check=True).stdout
    )
    assert [p["committed_offset"] for p in described["partitions"]] == [3, 1]
    every = json.loads(
        katka("group", "describe", "--all-groups", "--output", "json", check=True).stdout
    )
    assert group in [entry["group"] for entry in every]

    saved.write_text(f"{topic},0\n")
    bad = katka("group", "reset-offsets", group, "--from-file", str(saved))
    assert bad.returncode == 2
    assert "line 1: expected TOPIC,PARTITION,OFFSET" in bad.stderr
    neither = katka("group", "describe")
    assert neither.returncode == 2 and "--all-groups" in neither.stderr


def test_delete_offsets_removes_a_topics_offsets_unless_the_group_reads_it(
    katka: Run, cli_broker: CliBroker, unique: Callable[[str], str], group_consumer: Any
) -> None:
    kept, dropped, group = unique("kept"), unique("dropped"), unique("g")
    for topic in (kept, dropped):
        katka("topic", "create", topic, "--partitions", "2", check=True)
        katka(
            "group",
            "reset-offsets",
            group,
            "--topic",
            topic,
            "--to-latest",
            "--execute",
            check=True,
        )

    done = katka("group", "delete-offsets", group, "--topic", dropped, "--topic", f"{kept}:1")
    assert done.returncode == 0, done.stderr
    assert "STATUS" in done.stdout and done.stdout.count("Successful") == 3
    described = json.loads(katka("group", "describe", group, "--output", "json", check=True).stdout)
    assert [(p["topic"], p["partition"]) for p in described["partitions"]] == [(kept, 0)]

    produce(cli_broker.bootstrap, kept, 1)
    consumer = group_consumer(group, kept)
    consume(consumer, 1)
    refused = katka("group", "delete-offsets", group, "--topic", kept, "--output", "json")
    assert refused.returncode == 1
    rows = json.loads(refused.stdout)["partitions"]
    assert {row["error"] for row in rows} == {"GROUP_SUBSCRIBED_TO_TOPIC"}
    assert refused.stderr.startswith("katka: error: 2 partitions kept their offsets: ")
    missing = katka("group", "delete-offsets", "no-such-group", "--topic", kept)
    assert missing.stderr == "katka: error: Consumer group 'no-such-group' does not exist.\n"


def test_describe_falls_back_to_the_kafka_protocol_when_the_admin_api_is_unreachable(
    katka: Run, cli_broker: CliBroker, unique: Callable[[str], str]
) -> None:
    topic, group = unique("t"), unique("g")
    katka("topic", "create", topic, check=True)
    old = int(time.time() * 1000) - HOUR_MS
    produce(cli_broker.bootstrap, topic, 3, [old, old + 1, old + 2])
    katka(
        "group",
        "reset-offsets",
        group,
        "--topic",
        topic,
        "--to-offset",
        "1",
        "--execute",
        check=True,
    )
    result = katka("group", "describe", group, "--output", "json", "--admin-url", "127.0.0.1:1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(
        "katka: warning: cannot reach katka's admin API at http://127.0.0.1:1"
    )
    assert result.stderr.endswith("; showing what the Kafka protocol gives\n")
    assert result.stderr.count("\n") == 1
    described = json.loads(result.stdout)
    [partition] = described["partitions"]
    assert (described["generation"], partition["lag"]) == (None, 2)
    assert HOUR_MS - 60_000 < partition["lag_ms"] < HOUR_MS + 60_000  # read from the log itself
    sized = katka("topic", "describe", topic, "--admin-url", "127.0.0.1:1")
    assert sized.returncode == 0 and "SIZE" not in sized.stdout
