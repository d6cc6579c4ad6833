"""Apache Kafka 4.4 as a judge: a single KRaft node on loopback for differential tests.

Kafka is never part of katka: its jars are resolved by scripts/fetch-kafka.sh (Maven) into
~/.cache/katka-kafka, outside the repository. Tests that use it are marked `kafka` (pytest -m
kafka runs them as one group) and share one node per session through the `kafka_broker` fixture
(tests/conftest.py); topics and groups must be unique per test. Without Java or Maven the tests
are skipped with the reason, except under CI (CI=true), where .ci/run installs both and a
missing Kafka is a failure.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from katka.reliability.process import free_port
from tests.cache_lock import cache_lock

KAFKA_VERSION = "4.4.0"
REPO = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO / "scripts" / "fetch-kafka.sh"


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Kafka {KAFKA_VERSION} reference unavailable under CI: {reason}")
    pytest.skip(f"Kafka {KAFKA_VERSION} reference unavailable: {reason}")


def kafka_libs() -> Path:
    """The directory of Kafka's jars, resolved once (minutes the first time, then cached)."""
    if shutil.which("java") is None:
        unavailable("no java (apt-get install default-jre-headless)")
    with cache_lock("kafka-jars"):
        result = subprocess.run(
            ["bash", str(FETCH_SCRIPT), KAFKA_VERSION], capture_output=True, text=True, timeout=900
        )
    if result.returncode != 0:
        unavailable(f"scripts/fetch-kafka.sh failed:\n{result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def classpath(libs: Path) -> str:
    return f"{libs}/*"


class KafkaReference:
    """One KRaft node (broker and controller) on 127.0.0.1, its data in `work`."""

    def __init__(self, libs: Path, work: Path) -> None:
        self.libs = libs
        self.work = work
        self.port = free_port()
        self.controller_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, main: str, *args: str) -> list[str]:
        return ["java", "-Xmx512m", "-cp", classpath(self.libs), main, *args]

    @property
    def data_dir(self) -> Path:
        return self.work / "data"

    def start(
        self,
        timeout: float = 180,
        properties: dict[str, str] | None = None,
        client: dict[str, str] | None = None,
    ) -> KafkaReference:
        """One node from `properties` when given (else configure()'s plaintext node); `client`
        is the confluent-kafka config that reaches it (default: PLAINTEXT on `port`)."""
        if properties is None:
            self.configure(f"1@127.0.0.1:{self.controller_port}", replication=1)
        else:
            (self.work / "server.properties").write_text(
                "".join(f"{key}={value}\n" for key, value in properties.items())
            )
        self.format(new_cluster_id())
        self.launch()
        self._wait_ready(timeout, brokers=1, client=client)
        return self

    def configure(self, voters: str, replication: int, node_id: int = 1) -> None:
        """server.properties for one combined broker and controller (KRaft)."""
        min_isr = min(2, replication)
        (self.work / "server.properties").write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={node_id}",
                    f"controller.quorum.voters={voters}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.work / 'data'}",
                    f"offsets.topic.replication.factor={replication}",
                    "offsets.topic.num.partitions=1",
                    f"transaction.state.log.replication.factor={replication}",
                    f"transaction.state.log.min.isr={min_isr}",
                    "transaction.state.log.num.partitions=1",
                    # __share_group_state (share groups, KIP-932): one replica on one node
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "share.coordinator.state.topic.num.partitions=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )

    def format(self, cluster_id: str) -> None:
        config = str(self.work / "server.properties")
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", config),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def launch(self) -> None:
        log = open(self.work / "kafka.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            self._java("kafka.Kafka", str(self.work / "server.properties")),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(
        self, timeout: float, brokers: int, client: dict[str, str] | None = None
    ) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        admin = AdminClient(client or {"bootstrap.servers": self.bootstrap})
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"Kafka exited:\n{self.log_tail()}")
            try:
                if len(admin.list_topics(timeout=2).brokers) >= brokers:
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Kafka did not start in {timeout} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        path = self.work / "kafka.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def new_cluster_id() -> str:
    cluster_id = "-"
    while cluster_id.startswith("-"):  # the format tool would read it as an option
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


class KafkaCluster:
    """Three KRaft nodes (each broker and controller, one quorum) on 127.0.0.1, replication 3:
    a cluster as users run it, for the views that must work beyond one broker."""

    def __init__(self, libs: Path, work: Path, size: int = 3) -> None:
        self.nodes = []
        for node_id in range(1, size + 1):
            (work / f"node{node_id}").mkdir()
            self.nodes.append(KafkaReference(libs, work / f"node{node_id}"))

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self, timeout: float = 240) -> KafkaCluster:
        voters = ",".join(
            f"{i}@127.0.0.1:{node.controller_port}" for i, node in enumerate(self.nodes, 1)
        )
        cluster_id = new_cluster_id()
        for node_id, node in enumerate(self.nodes, 1):
            node.configure(voters, replication=len(self.nodes), node_id=node_id)
            node.format(cluster_id)
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node._wait_ready(timeout, brokers=len(self.nodes))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def read_partition(
    bootstrap: str, topic: str, partition: int = 0, start: int | None = None, timeout: float = 30
) -> list[tuple[int, bytes | None, bytes | None]]:
    """Every record of topic-partition from `start` (default: the log start) to its end:
    (offset, key, value)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records: list[tuple[int, bytes | None, bytes | None]] = []
    try:
        consumer.assign(
            [TopicPartition(topic, partition, OFFSET_BEGINNING if start is None else start)]
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is None:
                continue
            if message.error():
                if message.error().code() == -191:  # _PARTITION_EOF
                    return records
                raise RuntimeError(str(message.error()))
            offset = message.offset()
            assert offset is not None
            records.append((offset, message.key(), message.value()))
    finally:
        consumer.close()
    raise TimeoutError(f"{topic}-{partition} not read to its end in {timeout} s")


def kafka_broker_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaReference]:
    libs = kafka_libs()
    reference = KafkaReference(libs, tmp_path_factory.mktemp("kafka")).start()
    try:
        yield reference
    finally:
        reference.stop()
