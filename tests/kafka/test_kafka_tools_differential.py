"""Apache Kafka 4.4's own command-line tools (kafka-topics, kafka-consumer-groups, kafka-configs,
kafka-log-dirs, kafka-metadata-quorum, kafka-reassign-partitions, kafka-leader-election,
kafka-get-offsets, kafka-delete-records, the console producer and consumer) against katka and
against Kafka 4.4 itself, which they also drive with Kafka's Java admin client: each
command runs on both (one JVM for all of them, tests/kafka/tools.py) and the outputs must be
the same once what must differ is normalised: addresses, cluster and topic ids, member ids,
timestamps, the log directory, and the size of Kafka's metadata log.

Deliberate differences, left out of the comparison with the reason:
- katka creates its internal topics (__consumer_offsets, __transaction_state,
  __share_group_state) at start, Kafka on first use; listings compare user topics.
- kafka-metadata-quorum: katka has no metadata log (its offsets are 0) and no controller
  listener, so its one voter is named by its client listener.
- kafka-configs groups: katka has the share.* group configs and consumer.session.timeout.ms and
  consumer.heartbeat.interval.ms, not Kafka 4.4's others (streams.*, the assignment intervals,
  the dead-letter queue ones), so `--describe --all` lists fewer.
"""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from katka.reliability.process import BrokerProcess
from tests.kafka.reference import KafkaReference, kafka_libs
from tests.kafka.tools import KafkaTools, ToolResult

pytestmark = pytest.mark.kafka

# Explicit record timestamps an hour ago (within retention), so time-based answers agree.
BASE_MS = (int(time.time()) - 3600) * 1000


@dataclass
class Pair:
    kafka: KafkaReference
    katka: BrokerProcess
    tools: KafkaTools
    work: Path

    def log_dir(self, name: str) -> Path:
        return self.kafka.work / "data" if name == "kafka" else self.katka.data_dir

    def run(self, tool: str, *args: str, stdin: str | None = None) -> tuple[str, str]:
        """The tool's normalised output (exit code, stdout and the meaningful stderr) against
        Kafka, then against katka. In an argument BROKER is the broker's name (kafka, katka) and
        LOG_DIR, there or in stdin, its log directory."""
        answers = []
        for name, bootstrap in (("kafka", self.kafka.bootstrap), ("katka", self.katka.bootstrap)):
            log_dir = str(self.log_dir(name))
            own_args = [arg.replace("BROKER", name).replace("LOG_DIR", log_dir) for arg in args]
            input_file = None
            if stdin is not None:
                input_file = self.work / f"stdin-{name}.txt"
                input_file.write_text(stdin.replace("LOG_DIR", log_dir))
            result = self.tools.run(
                tool,
                "--bootstrap-server",
                bootstrap,
                *own_args,
                stdin=input_file,
            )
            answers.append(normalise(result, bootstrap).replace(log_dir, "LOG_DIR"))
        return answers[0], answers[1]

    def same(self, tool: str, *args: str, stdin: str | None = None) -> str:
        theirs, ours = self.run(tool, *args, stdin=stdin)
        assert ours == theirs, f"{tool} {' '.join(args)}\nKafka:\n{theirs}\nkatka:\n{ours}"
        return ours

    def produce(self, topic: str, partition: int, count: int) -> None:
        """`count` records with explicit timestamps, one batch each, on both brokers."""
        for bootstrap in (self.kafka.bootstrap, self.katka.bootstrap):
            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
            for i in range(count):
                producer.produce(
                    topic,
                    value=b"value-%d" % i,
                    key=b"key-%d" % (i % 3),
                    partition=partition,
                    timestamp=BASE_MS + (i * 7919) % (count * 1000),
                )
                producer.flush(10)
            assert producer.flush(10) == 0

    def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        """The group commits these offsets (as a consumer outside any generation) on both."""
        for bootstrap in (self.kafka.bootstrap, self.katka.bootstrap):
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
            try:
                consumer.commit(
                    offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                    asynchronous=False,
                )
            finally:
                consumer.close()


def normalise(result: ToolResult, bootstrap: str) -> str:
    text = result.stdout + "\n--stderr--\n" + _meaningful_stderr(result.stderr)
    text = text.replace(bootstrap, "BOOTSTRAP")
    text = re.sub(r"127\.0\.0\.1:\d+", "ADDRESS", text)
    text = re.sub(r"TopicId: \S+", "TopicId: ID", text)
    text = re.sub(r"ClusterId:\s+\S+", "ClusterId: ID", text)
    text = re.sub(r"\b1[0-9]{12}\b", "TIMESTAMP", text)  # epoch milliseconds
    text = re.sub(r"\d+ ms ago", "N ms ago", text)
    text = re.sub(r'"logDir":"[^"]*"', '"logDir":"DIR"', text)
    text = re.sub(r'"log_dirs":\["/[^"]*"\]', '"log_dirs":["DIR"]', text)
    return f"exit {result.exit_code}\n{text}"


def _meaningful_stderr(stderr: str) -> str:
    """What a user reads: no stack frames, no log4j lines (their times and threads differ)."""
    kept = []
    for line in stderr.splitlines():
        if line.startswith(("\tat ", "\t... ")) or re.match(r"\d\d:\d\d:\d\d\.\d+ \[", line):
            continue
        kept.append(line)
    return "\n".join(kept)


def user_lines(text: str) -> list[str]:
    """Lines that do not name an internal topic (katka creates them at start, Kafka on use)."""
    return sorted(line for line in text.splitlines() if "__" not in line)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    libs = kafka_libs()
    tools = KafkaTools()
    kafka = KafkaReference(libs, tmp_path_factory.mktemp("kafka"))
    katka = BrokerProcess(tmp_path_factory.mktemp("katka"), ["group.initial.rebalance.delay.ms=0"])
    try:
        kafka.start()
        katka.start(60)
        yield Pair(kafka, katka, tools, tmp_path_factory.mktemp("tools"))
    finally:
        tools.close()
        katka.kill()
        kafka.stop()


def local_datetime(ms: int) -> str:
    """kafka-consumer-groups --to-datetime's format, in the JVM's (this machine's) time zone."""
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%dT%H:%M:%S.000")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_kafka_topics_creates_lists_describes_alters_and_deletes_alike(pair: Pair) -> None:
    topic, doomed = unique("orders"), unique("doomed")
    created = pair.same(
        "kafka-topics", "--create", "--topic", topic, "--partitions", "3",
        "--replication-factor", "1", "--config", "retention.ms=86400000",
    )  # fmt: skip
    assert f"Created topic {topic}." in created
    pair.same("kafka-topics", "--describe", "--topic", topic)
    pair.same("kafka-topics", "--alter", "--topic", topic, "--partitions", "4")
    described = pair.same("kafka-topics", "--describe", "--topic", topic)
    assert "PartitionCount: 4" in described and "min.insync.replicas=1" in described
    pair.same("kafka-topics", "--create", "--topic", doomed, "--partitions", "1")
    theirs, ours = pair.run("kafka-topics", "--list")
    assert user_lines(ours) == user_lines(theirs) and doomed in ours
    theirs, ours = pair.run("kafka-topics", "--describe", "--exclude-internal")
    assert user_lines(ours) == user_lines(theirs)
    pair.same("kafka-topics", "--delete", "--topic", doomed)
    theirs, ours = pair.run("kafka-topics", "--list", "--exclude-internal")
    assert user_lines(ours) == user_lines(theirs) and doomed not in ours
    # What the broker refuses reads the same.
    pair.same("kafka-topics", "--create", "--topic", topic, "--partitions", "1")
    pair.same("kafka-topics", "--create", "--topic", topic, "--partitions", "1", "--if-not-exists")
    pair.same("kafka-topics", "--alter", "--topic", topic, "--partitions", "2")
    pair.same("kafka-topics", "--describe", "--topic", unique("missing"))
    pair.same("kafka-topics", "--delete", "--topic", unique("missing"))
    pair.same("kafka-topics", "--create", "--topic", unique("bad"), "--replication-factor", "3")
    pair.same("kafka-topics", "--create", "--topic", unique("bad"), "--config", "retention.ms=abc")
    pair.same("kafka-topics", "--describe", "--topic", topic, "--under-replicated-partitions")
    pair.same("kafka-topics", "--describe", "--topic", topic, "--unavailable-partitions")


def test_console_producer_and_consumer_move_the_same_records(pair: Pair) -> None:
    topic = unique("console")
    pair.same("kafka-topics", "--create", "--topic", topic, "--partitions", "1")
    lines = "".join(f"key{i % 3}:value{i}\n" for i in range(12))
    pair.same(
        "kafka-console-producer", "--topic", topic, "--reader-property", "parse.key=true",
        "--reader-property", "key.separator=:", stdin=lines,
    )  # fmt: skip
    consumed = pair.same(
        "kafka-console-consumer", "--topic", topic, "--from-beginning", "--max-messages", "12",
        "--formatter-property", "print.key=true", "--formatter-property", "print.offset=true",
        "--formatter-property", "print.partition=true", "--group", unique("console-group"),
    )  # fmt: skip
    assert "Offset:11\tkey2\tvalue11" in consumed and "Processed a total of 12 messages" in consumed
    pair.same(
        "kafka-console-consumer", "--topic", topic, "--partition", "0", "--offset", "10",
        "--max-messages", "2",
    )  # fmt: skip


def test_kafka_consumer_groups_describes_resets_and_deletes_alike(pair: Pair) -> None:
    topic, group, fresh = unique("lagging"), unique("billing"), unique("fresh")
    pair.same("kafka-topics", "--create", "--topic", topic, "--partitions", "2")
    for partition in (0, 1):
        pair.produce(topic, partition, 10)
    pair.commit(group, topic, {0: 10, 1: 7})

    def groups(*args: str) -> str:
        return pair.same("kafka-consumer-groups", *args)

    described = groups("--describe", "--group", group)
    assert "has no active members" in described
    groups("--describe", "--group", group, "--members")
    groups("--describe", "--group", group, "--members", "--verbose")
    groups("--describe", "--group", group, "--state")
    groups("--describe", "--group", group, "--state", "--verbose")
    groups("--describe", "--group", group, "--offsets", "--verbose")
    groups("--describe", "--group", unique("missing"))
    theirs, ours = pair.run("kafka-consumer-groups", "--list", "--state")
    assert [line for line in ours.splitlines() if group in line] == [
        line for line in theirs.splitlines() if group in line
    ]

    reset = ["--group", group, "--reset-offsets", "--topic", topic]
    groups(*reset, "--to-earliest")  # no --execute: a dry run with Kafka's warning
    for mode in (
        ["--to-earliest"],
        ["--to-latest"],
        ["--to-offset", "4"],
        ["--to-offset", "40"],  # past the end: the end
        ["--shift-by", "3"],
        ["--shift-by", "-20"],  # before the start: the start
        ["--to-current"],
        ["--to-datetime", local_datetime(BASE_MS + 5000)],
        ["--to-datetime", "2000-01-01T00:00:00.000"],
        ["--to-datetime", "2999-01-01T00:00:00.000"],  # after the last record: the end
        ["--by-duration", "PT1H"],
        ["--by-duration", "P100000D"],
    ):
        groups(*reset, *mode, "--dry-run")
    groups("--group", group, "--reset-offsets", "--topic", f"{topic}:1", "--to-offset", "2",
           "--execute")  # fmt: skip
    groups("--describe", "--group", group)
    exported = groups(
        "--group", group, "--reset-offsets", "--all-topics", "--to-current", "--export", "--dry-run"
    )
    assert f"{topic},1,2" in exported
    plan = pair.work / "offsets.csv"
    plan.write_text(f"{group},{topic},0,5\n{group},{topic},1,8\n")
    groups("--group", group, "--reset-offsets", "--from-file", str(plan), "--execute")
    groups("--describe", "--group", group, "--offsets")
    # A group with no committed offset: --shift-by and --to-current have nothing to start from.
    groups("--group", fresh, "--reset-offsets", "--topic", topic, "--shift-by", "1", "--dry-run")
    groups("--group", fresh, "--reset-offsets", "--topic", topic, "--to-current", "--dry-run")
    groups("--group", fresh, "--reset-offsets", "--topic", topic, "--to-latest", "--execute")
    groups("--group", fresh, "--reset-offsets", "--topic", unique("missing"), "--to-earliest",
           "--execute")  # fmt: skip
    theirs, ours = pair.run(
        "kafka-consumer-groups", "--all-groups", "--reset-offsets", "--topic", topic,
        "--to-earliest", "--dry-run",
    )  # fmt: skip
    assert [line for line in ours.splitlines() if topic in line] == [
        line for line in theirs.splitlines() if topic in line
    ]
    theirs, ours = pair.run("kafka-consumer-groups", "--describe", "--all-groups")
    assert [line for line in ours.splitlines() if topic in line] == [
        line for line in theirs.splitlines() if topic in line
    ]

    groups("--group", group, "--delete-offsets", "--topic", f"{topic}:0")
    groups("--group", group, "--delete-offsets", "--topic", unique("missing"))
    groups("--describe", "--group", group)
    groups("--delete", "--group", fresh)
    groups("--delete", "--group", fresh)


def test_kafka_configs_alters_and_describes_topics_brokers_groups_and_quotas_alike(
    pair: Pair,
) -> None:
    topic, share_group = unique("configured"), unique("sharers")
    pair.same("kafka-topics", "--create", "--topic", topic, "--partitions", "1")

    def configs(*args: str) -> str:
        return pair.same("kafka-configs", *args)

    entity = ["--entity-type", "topics", "--entity-name", topic]
    configs("--describe", *entity)
    configs("--alter", *entity, "--add-config", "retention.ms=3600000,cleanup.policy=compact")
    configs("--describe", *entity)
    configs("--alter", *entity, "--delete-config", "cleanup.policy")
    assert "retention.ms=3600000" in configs("--describe", *entity)
    configs("--alter", *entity, "--add-config", "retention.ms=abc")
    configs("--alter", *entity, "--add-config", "no.such.config=1")
    configs("--describe", "--entity-type", "topics", "--entity-name", unique("missing"))

    broker = ["--entity-type", "brokers", "--entity-name", "1"]
    cluster = ["--entity-type", "brokers", "--entity-default"]
    configs("--describe", *broker)
    configs("--describe", *cluster)  # Kafka 4.x formats a cluster with min.insync.replicas=1
    configs("--alter", *broker, "--add-config", "log.cleaner.threads=2")
    configs("--alter", *cluster, "--add-config", "log.retention.ms=7200000")
    configs("--describe", *broker)
    assert "log.retention.ms=7200000" in configs("--describe", *cluster)
    configs("--alter", *cluster, "--delete-config", "log.retention.ms")
    configs("--alter", *broker, "--delete-config", "log.cleaner.threads")
    configs("--describe", *cluster)
    configs("--describe", "--entity-type", "brokers", "--entity-name", "2")

    group = ["--entity-type", "groups", "--entity-name", share_group]
    configs("--describe", *group)
    configs("--alter", *group, "--add-config", "share.record.lock.duration.ms=20000")
    assert "share.record.lock.duration.ms=20000" in configs("--describe", *group)
    configs("--alter", *group, "--delete-config", "share.record.lock.duration.ms")
    configs("--describe", *group)
    consumer_group = ["--entity-type", "groups", "--entity-name", unique("consumers")]
    configs("--alter", *consumer_group, "--add-config", "consumer.session.timeout.ms=50000")
    configs("--alter", *consumer_group, "--add-config", "consumer.session.timeout.ms=70000")
    configs("--alter", *consumer_group, "--add-config", "consumer.heartbeat.interval.ms=6000")
    assert "consumer.heartbeat.interval.ms=6000" in configs("--describe", *consumer_group)

    client, user = unique("app"), unique("alice")
    configs("--alter", "--entity-type", "clients", "--entity-name", client,
            "--add-config", "producer_byte_rate=1024,consumer_byte_rate=2048")  # fmt: skip
    configs("--alter", "--entity-type", "users", "--entity-name", user,
            "--add-config", "request_percentage=50")  # fmt: skip
    configs("--alter", "--entity-type", "users", "--entity-name", user,
            "--entity-type", "clients", "--entity-name", client,
            "--add-config", "producer_byte_rate=4096")  # fmt: skip
    configs("--alter", "--entity-type", "users", "--entity-default",
            "--add-config", "consumer_byte_rate=999")  # fmt: skip
    configs("--describe", "--entity-type", "clients", "--entity-name", client)
    configs("--describe", "--entity-type", "users", "--entity-name", user)
    configs("--describe", "--entity-type", "users", "--entity-name", user,
            "--entity-type", "clients")  # fmt: skip
    configs("--describe", "--entity-type", "users")
    configs("--describe", "--entity-type", "clients")
    configs("--alter", "--entity-type", "users", "--entity-name", user,
            "--add-config", "SCRAM-SHA-256=[iterations=8192,password=alice-secret]")  # fmt: skip
    assert "SCRAM-SHA-256=iterations=8192" in configs(
        "--describe", "--entity-type", "users", "--entity-name", user
    )
    configs("--alter", "--entity-type", "users", "--entity-name", user,
            "--delete-config", "SCRAM-SHA-256")  # fmt: skip
    configs("--alter", "--entity-type", "clients", "--entity-name", client,
            "--delete-config", "producer_byte_rate")  # fmt: skip
    configs("--describe", "--entity-type", "clients", "--entity-name", client)
    configs("--alter", "--entity-type", "users", "--entity-default",
            "--delete-config", "consumer_byte_rate")  # fmt: skip
    configs("--describe", "--entity-type", "client-metrics")
    configs("--describe", "--entity-type", "ips")


def test_log_dirs_offsets_records_quorum_reassignments_and_elections_read_alike(
    pair: Pair,
) -> None:
    topic = unique("sized")
    pair.same("kafka-topics", "--create", "--topic", topic, "--partitions", "2")
    pair.produce(topic, 0, 6)
    pair.produce(topic, 1, 4)

    log_dirs = pair.same("kafka-log-dirs", "--describe", "--topic-list", topic)
    (report,) = [line for line in log_dirs.splitlines() if line.startswith("{")]
    (broker,) = json.loads(report)["brokers"]
    sizes = {p["partition"]: p["size"] for p in broker["logDirs"][0]["partitions"]}
    assert set(sizes) == {f"{topic}-0", f"{topic}-1"} and min(sizes.values()) > 0

    for when in ("-1", "-2", "-3", "-4", "-5", "0", str(BASE_MS + 2500), str(BASE_MS + 10**7)):
        pair.same("kafka-get-offsets", "--topic", topic, "--time", when)
    pair.same("kafka-get-offsets", "--topic-partitions", f"{topic}:1")
    theirs, ours = pair.run("kafka-get-offsets", "--exclude-internal-topics")
    assert [line for line in ours.splitlines() if topic in line] == [
        line for line in theirs.splitlines() if topic in line
    ]

    plan = pair.work / "delete.json"
    plan.write_text(
        json.dumps({"partitions": [{"topic": topic, "partition": 0, "offset": 3}], "version": 1})
    )
    assert "low_watermark: 3" in pair.same("kafka-delete-records", "--offset-json-file", str(plan))
    pair.same("kafka-get-offsets", "--topic", topic, "--time", "-2")

    pair.same("kafka-reassign-partitions", "--list")
    reassignment = pair.work / "reassign.json"
    reassignment.write_text(
        json.dumps(
            {
                "version": 1,
                "partitions": [
                    {"topic": topic, "partition": 0, "replicas": [1], "log_dirs": ["any"]}
                ],
            }
        )
    )
    move = pair.work / "move.json"
    move.write_text(json.dumps({"version": 1, "topics": [{"topic": topic}]}))
    plan_args = ["--reassignment-json-file", str(reassignment)]
    assert "Successfully started partition reassignment" in pair.same(
        "kafka-reassign-partitions", *plan_args, "--execute"
    )
    assert "is completed" in pair.same("kafka-reassign-partitions", *plan_args, "--verify")
    pair.same("kafka-reassign-partitions", "--topics-to-move-json-file", str(move),
              "--broker-list", "1", "--generate")  # fmt: skip
    pair.same("kafka-reassign-partitions", *plan_args, "--cancel")
    # A plan that names the log directory moves the replica there (AlterReplicaLogDirs).
    for name in ("kafka", "katka"):
        (pair.work / f"to-dir-{name}.json").write_text(
            json.dumps(
                {
                    "version": 1,
                    "partitions": [
                        {
                            "topic": topic,
                            "partition": 1,
                            "replicas": [1],
                            "log_dirs": [str(pair.log_dir(name))],
                        }
                    ],
                }
            )
        )
    to_dir = ["--reassignment-json-file", str(pair.work / "to-dir-BROKER.json")]
    pair.same("kafka-reassign-partitions", *to_dir, "--execute")
    pair.same("kafka-reassign-partitions", *to_dir, "--verify")
    for election in ("preferred", "unclean"):
        assert "Valid replica already elected" in pair.same(
            "kafka-leader-election", "--election-type", election, "--topic", topic,
            "--partition", "0",
        )  # fmt: skip

    theirs, ours = pair.run("kafka-metadata-quorum", "describe", "--status")
    quorum_free = re.compile(r"(HighWatermark|CurrentVoters):.*")  # see the module docstring
    assert quorum_free.sub("", ours) == quorum_free.sub("", theirs)
    assert '[{"id": 1, "endpoints": ["PLAINTEXT://BOOTSTRAP"]}]' in ours
    theirs, ours = pair.run("kafka-metadata-quorum", "describe", "--replication")

    def without_log_end(text: str) -> str:  # and the column widths it sets
        return re.sub(r"\n1 \S+ \d+", "", re.sub(r"[ \t]+", " ", text))

    assert without_log_end(ours) == without_log_end(theirs)


def test_kafka_consumer_groups_describes_a_live_group_alike(pair: Pair) -> None:
    topic, group = unique("live"), unique("live-group")
    pair.same("kafka-topics", "--create", "--topic", topic, "--partitions", "2")
    consumers = []
    try:
        for bootstrap in (pair.kafka.bootstrap, pair.katka.bootstrap):
            consumer = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": group,
                    "client.id": "live-client",
                    "auto.offset.reset": "earliest",
                }
            )
            consumer.subscribe([topic])
            consumers.append(consumer)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(c.assignment() for c in consumers):
            for consumer in consumers:
                consumer.poll(0.2)
        assert all(len(c.assignment()) == 2 for c in consumers)

        def described(*args: str) -> None:
            theirs, ours = pair.run("kafka-consumer-groups", "--describe", "--group", group, *args)
            member = re.compile(r"live-client-[0-9a-f-]+")
            assert member.sub("MEMBER", ours) == member.sub("MEMBER", theirs), (theirs, ours)

        described()
        described("--members")
        described("--state")
        described("--members", "--verbose")
    finally:
        for consumer in consumers:
            consumer.close()
