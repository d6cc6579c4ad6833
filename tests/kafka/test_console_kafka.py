"""`katka console --bootstrap-server` against a three-broker Apache Kafka 4.4 cluster (KRaft,
replication 3) with real confluent-kafka consumers, in headless Chromium: the pages load, lag
shows in records and in time, a member joining appears as an observed rebalance, the page
says which katka-only views are missing, /metrics serves the same group metrics, and a
group's offsets are reset from the page (dry run, then execute) once it is inactive."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import free_port
from tests.e2e.browser import (
    choose_reset,
    chromium_session,
    click,
    screenshots_dir,
    text_of,
    wait_for,
)
from tests.e2e.groups import Member, new_member, poll_until, unique
from tests.e2e.test_prometheus import tool
from tests.kafka.reference import KafkaCluster, kafka_libs

pytestmark = pytest.mark.kafka

PARTITIONS = 3


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(kafka_libs(), tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def console(kafka_cluster: KafkaCluster, tmp_path: Path) -> Iterator[str]:
    """`katka console` for the cluster; its HOST:PORT."""
    address = f"127.0.0.1:{free_port()}"
    log = open(tmp_path / "console.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "katka", "console", "--bootstrap-server", kafka_cluster.bootstrap]
        + ["--listen", address, "--poll-interval", "0.5"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not answers(f"http://{address}/api/health"):
            assert process.poll() is None, (tmp_path / "console.log").read_text()
            assert time.monotonic() < deadline, "the console did not answer in 60 s"
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium_session()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def create_replicated_topic(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, 3)])[name].result(30)
    deadline = time.monotonic() + 60  # Kafka answers before every partition has a leader
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=10).topics[name]
        if len(topic.partitions) == PARTITIONS and all(
            p.leader >= 0 for p in topic.partitions.values()
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} has no leader on every partition after 60 s")


class Polling:
    """Keeps group members polling on a thread (a member must poll to take part in a
    rebalance) while the test drives the browser."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopping.is_set():
            for member in list(self.members):
                member.poll(0.05)

    def __enter__(self) -> Polling:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(30)
        for member in self.members:
            member.close()


def test_the_console_shows_a_kafka_clusters_lag_and_an_observed_rebalance(
    kafka_cluster: KafkaCluster, console: str, browser: Any, tmp_path: Path
) -> None:
    bootstrap, shots = kafka_cluster.bootstrap, screenshots_dir(tmp_path)
    topic, group = unique("orders"), unique("billing")
    create_replicated_topic(bootstrap, topic)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    old = int(time.time() * 1000) - 120_000
    for i in range(10 * PARTITIONS):
        producer.produce(topic, value=b"v" * 40, partition=i % PARTITIONS, timestamp=old + i)
    assert producer.flush(30) == 0

    first = new_member(bootstrap, group, [topic], "first", enable_auto_commit=False)
    poll_until([first], lambda: len(first.received) >= 10 * PARTITIONS, timeout=60)
    first.consumer.commit(
        offsets=[TopicPartition(topic, p, 4) for p in range(PARTITIONS)], asynchronous=False
    )
    with Polling([first]) as polling:
        browser.get(f"http://{console}/")
        wait_for(
            browser, lambda b: topic in text_of(b, "#topics") and group in text_of(b, "#groups")
        )
        assert "Kafka cluster" in text_of(browser, "#health")
        assert "3 brokers" in text_of(browser, "#health")
        # Sizes from DescribeLogDirs to every broker: B, KiB: the topic names no capital B.
        wait_for(browser, lambda b: "B" in text_of(b, f'#topics tr[data-topic="{topic}"]'))
        missing = text_of(browser, "#missing")
        assert "katka-only views are missing" in missing and "share groups" in missing
        browser.save_screenshot(str(shots / "console-kafka-overview.png"))

        browser.get(f"http://{console}/#/group/{group}")
        wait_for(browser, lambda b: text_of(b, "#total-lag") == str(6 * PARTITIONS))
        # Lag in time: the next unconsumed records were written two minutes ago.
        wait_for(browser, lambda b: lag_ages_between(b, 110, 600))
        wait_for(browser, lambda b: "first" in text_of(b, "#members"))

        second = new_member(bootstrap, group, [topic], "second", enable_auto_commit=False)
        polling.members.append(second)
        wait_for(browser, lambda b: "second" in text_of(b, "#rebalances"), timeout=60)
        assert "join" in text_of(browser, "#rebalances")
        # Generations come from Kafka's own GroupMetadataValue records in __consumer_offsets.
        with urllib.request.urlopen(
            f"http://{console}/api/groups/{group}/rebalances", timeout=10
        ) as response:
            history = json.loads(response.read())
        joins = [r for r in history["rebalances"] if r["client_id"] == "second"]
        assert joins and joins[-1]["trigger"] == "join" and joins[-1]["generation_id"] >= 2
        assert history["session_timeout_ms"] == 6000  # new_member's session.timeout.ms
        wait_for(browser, lambda b: "second" in text_of(b, "#members"))
        browser.save_screenshot(str(shots / "console-kafka-group.png"))

        with urllib.request.urlopen(f"http://{console}/metrics", timeout=10) as response:
            exposition = response.read().decode()
        assert (
            f'kafka_consumergroup_lag{{consumergroup="{group}",partition="0",topic="{topic}"}} 6.0'
            in exposition
        )
        assert (
            f'katka_consumergroup_rebalances_total{{consumergroup="{group}",trigger="join"}}'
            in exposition
        )
        checked = subprocess.run(
            [tool("promtool"), "check", "metrics"],
            input=exposition.encode(),
            capture_output=True,
            timeout=60,
        )
        assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), checked


def lag_ages_between(browser: Any, low_s: float, high_s: float) -> bool:
    """Every partition's lag in time (the last column) within [low_s, high_s]."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        rows = browser.find_elements(By.CSS_SELECTOR, "#lag tr")[1:]
        cells = [row.find_elements(By.TAG_NAME, "td")[-1].text for row in rows]
    except StaleElementReferenceException:  # re-rendered meanwhile
        return False
    ages = [float(cell.split()[0]) for cell in cells if cell.endswith(" s")]
    return len(ages) == PARTITIONS and all(low_s < age < high_s for age in ages)


def test_a_kafka_groups_offsets_are_reset_from_the_console_offline_as_kafka_allows(
    kafka_cluster: KafkaCluster, console: str, browser: Any
) -> None:
    bootstrap = kafka_cluster.bootstrap
    topic, group = unique("orders"), unique("replay")
    create_replicated_topic(bootstrap, topic)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(5 * PARTITIONS):
        producer.produce(topic, value=b"v", partition=i % PARTITIONS)
    assert producer.flush(30) == 0
    member = new_member(bootstrap, group, [topic], "reader", enable_auto_commit=False)
    poll_until([member], lambda: len(member.received) >= 5 * PARTITIONS, timeout=60)
    member.consumer.commit(asynchronous=False)
    with Polling([member]):
        browser.get(f"http://{console}/#/group/{group}")
        wait_for(browser, lambda b: text_of(b, "#total-lag") == "0")
        assert not browser.find_element("css selector", "#reset-live-label").is_displayed()
        choose_reset(browser, "to_earliest")
        click(browser, "#reset-dry-run")
        wait_for(browser, lambda b: "inactive" in text_of(b, "#reset-error"))
    # The member left: the group is Empty, and Kafka lets its offsets be reset.
    wait_for(browser, lambda b: text_of(b, "#group-state") == "Empty", timeout=60)
    click(browser, "#reset-dry-run")
    wait_for(browser, lambda b: "Dry run" in text_of(b, "#reset-dry"))
    assert text_of(browser, "#total-lag") == "0"  # the dry run changed nothing
    click(browser, "#reset-execute")
    wait_for(browser, lambda b: "Executed" in text_of(b, "#reset-done"))
    wait_for(browser, lambda b: text_of(b, "#total-lag") == str(5 * PARTITIONS))


def test_a_kip848_group_on_kafka_shows_its_members_lag_and_a_rebalance_seen_by_polling(
    kafka_cluster: KafkaCluster, console: str, browser: Any
) -> None:
    bootstrap = kafka_cluster.bootstrap
    topic, group = unique("events"), unique("kip848")
    create_replicated_topic(bootstrap, topic)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(4 * PARTITIONS):
        producer.produce(topic, value=b"v", partition=i % PARTITIONS)
    assert producer.flush(30) == 0
    first = new_member(
        bootstrap, group, [topic], "first", protocol="consumer", enable_auto_commit=False
    )
    poll_until([first], lambda: len(first.received) >= 4 * PARTITIONS, timeout=60)
    first.consumer.commit(
        offsets=[TopicPartition(topic, p, 1) for p in range(PARTITIONS)], asynchronous=False
    )
    with Polling([first]) as polling:
        browser.get(f"http://{console}/#/group/{group}")
        wait_for(browser, lambda b: text_of(b, "#total-lag") == str(3 * PARTITIONS), timeout=60)
        wait_for(browser, lambda b: "first" in text_of(b, "#members"))
        second = new_member(
            bootstrap, group, [topic], "second", protocol="consumer", enable_auto_commit=False
        )
        polling.members.append(second)
        wait_for(browser, lambda b: "second" in text_of(b, "#rebalances"), timeout=60)
        assert "join" in text_of(browser, "#rebalances")
