"""A Kafka Streams 4.4 application with processing.guarantee=exactly_once_v2 (CountJudge.java:
counts per key in a state store with a compacted changelog, every new count written out) runs
on katka across a SIGKILL of the application and a SIGKILL restart of the broker: a
read_committed reader sees each key's counts 1, 2, ..., n exactly once, none skipped, none
repeated."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import BrokerProcess
from tests.kafka.reference import KAFKA_VERSION, kafka_libs, unavailable

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

APP = Path(__file__).with_name("CountJudge.java")
KEYS = 10
PER_KEY = 200
PARTITIONS = 2


def maven_libs(libs: Path, name: str, artifacts: list[str]) -> Path:
    """Kafka artifacts at KAFKA_VERSION and their runtime dependencies, resolved once next to
    Kafka's jars (in the directory `name`)."""
    directory = libs.parent / name
    marker = directory / ".complete"
    if marker.exists():
        return directory
    if shutil.which("mvn") is None:
        unavailable(f"no mvn to resolve {', '.join(artifacts)} (apt-get install maven)")
    project = directory / "pom"
    project.mkdir(parents=True, exist_ok=True)
    dependencies = "".join(
        f"""
    <dependency><groupId>org.apache.kafka</groupId><artifactId>{artifact}</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>"""
        for artifact in artifacts
    )
    (project / "pom.xml").write_text(
        f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>katka.judge</groupId><artifactId>{name}-judge</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>{dependencies}
  </dependencies>
</project>
"""
    )
    result = subprocess.run(
        ["mvn", "-q", "dependency:copy-dependencies", f"-DoutputDirectory={directory}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        unavailable(f"mvn could not resolve {', '.join(artifacts)}:\n{result.stdout[-2000:]}")
    marker.write_text("")
    return directory


def kafka_streams_libs(libs: Path) -> Path:
    """kafka-streams and its runtime dependencies."""
    return maven_libs(libs, "streams", ["kafka-streams"])


def counts_by_key(bootstrap: str, topic: str) -> dict[str, list[int]]:
    """Every count a read_committed reader sees now, up to the last stable offsets."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "streams-check",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    partitions = [TopicPartition(topic, p, 0) for p in range(PARTITIONS)]
    ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]
    consumer.assign(partitions)
    counts: dict[str, list[int]] = {}
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            positions = consumer.position(partitions)
            if all(tp.offset >= end or end == 0 for tp, end in zip(positions, ends, strict=True)):
                break
            for message in consumer.consume(1000, 0.3):
                if (
                    message.error() is None
                    and (message.offset() or 0) < ends[message.partition() or 0]
                ):
                    key = (message.key() or b"").decode()
                    counts.setdefault(key, []).append(int(message.value() or b"0"))
    finally:
        consumer.close()
    return counts


class CountJudgeApps:
    """CountJudge.java Kafka Streams instances counting "in" into "out" with one state
    directory; every one started is killed by kill_all."""

    def __init__(self, classpath: str, state: Path, extra_args: list[str] | None = None) -> None:
        self.classpath = classpath
        self.state = state
        self.extra_args = extra_args or []
        self.apps: list[subprocess.Popen[str]] = []

    def start(self, bootstrap: str) -> subprocess.Popen[str]:
        command = ["java", "-cp", self.classpath, str(APP), bootstrap, "in", "out", "counter"]
        app = subprocess.Popen(
            [*command, str(self.state), *self.extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.apps.append(app)
        return app

    def kill_all(self) -> None:
        for app in self.apps:
            app.kill()
            app.wait(30)


def create_in_and_out(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics(
        [NewTopic("in", PARTITIONS, 1), NewTopic("out", PARTITIONS, 1)]
    ).values():
        future.result(10)


def test_kafka_streams_exactly_once_v2_counts_each_record_once_across_kills(
    tmp_path: Path,
) -> None:
    libs = kafka_libs()
    classpath = f"{kafka_streams_libs(libs)}/*:{libs}/log4j-api-2.24.3.jar"
    broker = BrokerProcess(tmp_path / "data", overrides=["group.initial.rebalance.delay.ms=0"])
    broker.start(30)
    apps = CountJudgeApps(classpath, tmp_path / "state")

    def start_app() -> subprocess.Popen[str]:
        return apps.start(broker.bootstrap)

    try:
        create_in_and_out(broker.bootstrap)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(KEYS * PER_KEY):
            producer.produce("in", key=b"k%d" % (i % KEYS), value=b"v")
        assert producer.flush(30) == 0

        app = start_app()
        deadline = time.monotonic() + 120
        while (seen := sum(map(len, counts_by_key(broker.bootstrap, "out").values()))) < 300:
            assert time.monotonic() < deadline, "the Streams application produced nothing"
            time.sleep(1)
        app.kill()  # SIGKILL mid-run, a transaction open
        assert seen < KEYS * PER_KEY, "the application finished before it was killed"
        app.wait(30)
        port = broker.port
        broker.kill()
        broker = BrokerProcess(
            tmp_path / "data", overrides=["group.initial.rebalance.delay.ms=0"], port=port
        )
        broker.start(30)

        start_app()
        deadline = time.monotonic() + 240
        while True:
            counts = counts_by_key(broker.bootstrap, "out")
            if len(counts) == KEYS and all(c and max(c) >= PER_KEY for c in counts.values()):
                break
            assert time.monotonic() < deadline, {k: len(v) for k, v in counts.items()}
            time.sleep(1)
        assert {key: values for key, values in counts.items()} == {
            f"k{k}": list(range(1, PER_KEY + 1)) for k in range(KEYS)
        }
    finally:
        apps.kill_all()
        broker.kill()
