"""The console in a real browser (Debian's headless Chromium, driven by Selenium) against a
`katka serve` with real confluent-kafka consumers: the pages load, lag and the plot update,
the idle member past the parallelism ceiling is flagged, the rebalance appears."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as ConfluentPartition

from katka.reliability.process import BrokerProcess, free_port
from tests.e2e.browser import (
    choose_reset,
    chromium_session,
    click,
    screenshots_dir,
    text_of,
    wait_for,
)
from tests.e2e.groups import create_topic, unique
from tests.e2e.groups import produce as produce_records
from tests.e2e.test_share_groups import (
    SHARE_BROKER,
    ShareProcess,
    kill_all,
    set_group_configs,
)
from tests.e2e.test_share_groups import wait_for as share_wait_for

pytestmark = pytest.mark.e2e

TOPIC = "shown"
GROUP = "watched"


@pytest.fixture
def browser() -> Iterator[object]:
    yield from chromium_session()


def produce(bootstrap: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    old = int(time.time() * 1000) - 30_000
    for i in range(count):
        producer.produce(TOPIC, value=b"v" * 50, partition=0, timestamp=old + i)
    assert producer.flush(10) == 0


class TwoConsumers:
    """Two members of one group on a one-partition topic (one of them idle), kept polling on a
    thread; the one that gets the partition commits offset 4."""

    def __init__(self, bootstrap: str) -> None:
        self.consumers = [
            Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": GROUP,
                    "client.id": f"viewer-{n}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "heartbeat.interval.ms": 300,  # rejoin quickly when the flaky one comes
                }
            )
            for n in (1, 2)
        ]
        self.committed = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        for consumer in self.consumers:
            consumer.subscribe([TOPIC])
        while not self.stopping.is_set():
            for consumer in self.consumers:
                message = consumer.poll(0.05)
                if message is not None and message.error() is None and not self.committed.is_set():
                    consumer.commit(offsets=[ConfluentPartition(TOPIC, 0, 4)], asynchronous=False)
                    self.committed.set()
        for consumer in self.consumers:
            consumer.close()

    def __enter__(self) -> TwoConsumers:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(30)


def test_the_console_shows_topics_groups_lag_the_plot_idle_members_and_rebalances(
    katka_with_admin: tuple[BrokerProcess, str], browser: object, tmp_path: Path
) -> None:
    process, admin = katka_with_admin
    shots = screenshots_dir(tmp_path)
    create_topic(process.bootstrap, TOPIC, 1)
    produce(process.bootstrap, 10)
    with TwoConsumers(process.bootstrap) as consumers:
        assert consumers.committed.wait(30)
        browser.get(f"http://{admin}/")  # type: ignore[attr-defined]
        wait_for(
            browser, lambda b: TOPIC in text_of(b, "#topics") and GROUP in text_of(b, "#groups")
        )
        assert "10" in text_of(browser, f'#topics tr[data-topic="{TOPIC}"]')
        browser.save_screenshot(str(shots / "console-overview.png"))  # type: ignore[attr-defined]

        browser.get(f"http://{admin}/#/group/{GROUP}")  # type: ignore[attr-defined]
        wait_for(browser, lambda b: text_of(b, "#lag td.lag") == "6")
        # Both members in the group, one of them idle: one partition, two consumers.
        wait_for(browser, lambda b: "idle" in text_of(b, "#members tr.idle"))
        # (waits, not reads: the page re-renders on every refresh)
        wait_for(browser, lambda b: text_of(b, "#group-state") == "Stable")
        wait_for(browser, lambda b: "join" in text_of(b, "#rebalances"))
        wait_for(browser, lambda b: "s" in text_of(b, "#lag"))  # lag in time next to records

        def points(b: object) -> int:
            from selenium.webdriver.common.by import By

            try:
                svg = b.find_element(By.CSS_SELECTOR, "#lag-plot")  # type: ignore[attr-defined]
                return int(svg.get_attribute("data-points"))
            except Exception:
                return 0

        first = points(browser)
        wait_for(browser, lambda b: points(b) >= first + 2)  # the plot keeps growing
        produce(process.bootstrap, 5)
        wait_for(browser, lambda b: text_of(b, "#total-lag") == "11")  # live: new records lag
        browser.save_screenshot(str(shots / "console-group.png"))  # type: ignore[attr-defined]

        browser.get(f"http://{admin}/#/topic/{TOPIC}")  # type: ignore[attr-defined]
        wait_for(browser, lambda b: "15" in text_of(b, "#partitions"))
        browser.save_screenshot(str(shots / "console-topic.png"))  # type: ignore[attr-defined]
        assert (shots / "console-topic.png").stat().st_size > 0


def flaky_member_comes_and_goes(bootstrap: str) -> None:
    """A consumer that joins the group and leaves it at once: a rebalance each way."""
    assigned = threading.Event()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "client.id": "flaky"})
    consumer.subscribe([TOPIC], on_assign=lambda *_: assigned.set())
    deadline = time.monotonic() + 30
    while not assigned.is_set() and time.monotonic() < deadline:
        consumer.poll(0.05)
    consumer.close()
    assert assigned.is_set()


def test_a_rebalance_storm_is_highlighted_with_its_member_and_cures(
    katka_with_admin: tuple[BrokerProcess, str], browser: Any, tmp_path: Path
) -> None:
    process, admin = katka_with_admin
    create_topic(process.bootstrap, TOPIC, 1)
    produce(process.bootstrap, 10)
    with TwoConsumers(process.bootstrap):
        # A loaded machine can stretch three comings and goings past the storm window: the
        # flaky member keeps flapping (as a real one does) until the page shows the storm.
        for attempt in range(3):
            for _ in range(3):
                flaky_member_comes_and_goes(process.bootstrap)
            browser.get(f"http://{admin}/#/group/{GROUP}")  # type: ignore[attr-defined]
            try:
                wait_for(browser, lambda b: "flaky" in text_of(b, "#rebalances tr.storm"))
                break
            except Exception:
                if attempt == 2:
                    raise
        assert "static membership" in text_of(browser, ".storm-banner")
        browser.save_screenshot(str(screenshots_dir(tmp_path) / "console-storm.png"))
        with urllib.request.urlopen(f"http://{admin}/metrics", timeout=10) as response:
            exposition = response.read().decode()
        assert (
            f'katka_consumergroup_rebalance_storm{{consumergroup="{GROUP}",member="flaky"}} 1.0'
            in exposition
        )


def committed(admin: str) -> list[int]:
    with urllib.request.urlopen(f"http://{admin}/api/groups/{GROUP}/lag", timeout=10) as answer:
        return [row["committed_offset"] for row in json.loads(answer.read())["partitions"]]


@pytest.mark.slow  # a browser and consumers for ~10 s
def test_offsets_are_reset_from_the_console_dry_run_first_then_execute_live_and_offline(
    katka_with_admin: tuple[BrokerProcess, str], browser: Any, tmp_path: Path
) -> None:
    process, admin = katka_with_admin
    create_topic(process.bootstrap, TOPIC, 1)
    produce(process.bootstrap, 10)
    with TwoConsumers(process.bootstrap) as consumers:
        assert consumers.committed.wait(30)
        browser.get(f"http://{admin}/#/group/{GROUP}")
        wait_for(browser, lambda b: text_of(b, "#lag td.lag") == "6")
        # Kafka's rule first: an active group is not reset offline.
        choose_reset(browser, "to_earliest")
        click(browser, "#reset-dry-run")
        wait_for(browser, lambda b: "inactive" in text_of(b, "#reset-error"))
        assert not browser.find_element("css selector", "#reset-execute").is_enabled()
        # Live: the dry run shows the plan and changes nothing; Execute applies it.
        choose_reset(browser, "to_earliest", live=True)
        click(browser, "#reset-dry-run")
        wait_for(browser, lambda b: text_of(b, "#reset-plan td.new-offset") == "0")
        assert "Dry run" in text_of(browser, "#reset-dry") and committed(admin) == [4]
        browser.execute_script("document.getElementById('reset-panel').scrollIntoView()")
        browser.save_screenshot(str(screenshots_dir(tmp_path) / "console-reset.png"))
        click(browser, "#reset-execute")
        wait_for(browser, lambda b: "Executed live" in text_of(b, "#reset-done"))
        wait_for(browser, lambda b: text_of(b, "#lag td.lag") == "10")
        assert committed(admin) == [0]
    # The consumers are gone (the group is Empty): an offline reset, as Kafka allows it.
    browser.get(f"http://{admin}/#/group/{GROUP}")
    wait_for(browser, lambda b: text_of(b, "#group-state") == "Empty")
    choose_reset(browser, "to_offset", "7")
    click(browser, "#reset-dry-run")
    wait_for(browser, lambda b: text_of(b, "#reset-plan td.new-offset") == "7")
    click(browser, "#reset-execute")
    wait_for(browser, lambda b: "Executed" in text_of(b, "#reset-done"))
    wait_for(browser, lambda b: text_of(b, "#lag td.lag") == "3")
    assert committed(admin) == [7]


@pytest.mark.slow  # a browser and consumers for ~10 s
def test_a_share_group_shows_its_members_records_in_flight_and_delivery_counts(
    tmp_path: Path, browser: Any
) -> None:
    admin = f"127.0.0.1:{free_port()}"
    overrides = ["group.initial.rebalance.delay.ms=0", f"katka.admin.listener={admin}"]
    process = BrokerProcess(tmp_path / "data", extra_args=SHARE_BROKER, overrides=overrides)
    process.start(30)
    topic, group = unique("share"), unique("sg")
    consumers: list[ShareProcess] = []
    try:
        create_topic(process.bootstrap, topic, 1)
        set_group_configs(
            process.bootstrap,
            group,
            share_auto_offset_reset="earliest",
            share_record_lock_duration_ms="3000",
        )
        produce_records(process.bootstrap, topic, 20)
        first = ShareProcess(process.bootstrap, group, topic, "--ack", "none", client_id="holder")
        consumers.append(first)
        share_wait_for([first], lambda: len(first.records) >= 20)
        browser.get(f"http://{admin}/")
        wait_for(browser, lambda b: group in text_of(b, "#share-groups"))
        browser.get(f"http://{admin}/#/share-group/{group}")
        # Acquired by the member that never acknowledges, each delivered once so far.
        wait_for(browser, lambda b: "holder" in text_of(b, "#share-members"))
        wait_for(browser, lambda b: text_of(b, "#share-partitions td.acquired") == "20")
        assert text_of(browser, "#share-partitions td.deliveries") == "1: 20"
        first.kill()
        second = ShareProcess(process.bootstrap, group, topic, "--ack", "none", client_id="taker")
        consumers.append(second)
        share_wait_for([second], lambda: len(second.records) >= 20)
        # After the lock expired, the second member got them again: delivery count 2.
        wait_for(browser, lambda b: text_of(b, "#share-partitions td.deliveries") == "2: 20")
        wait_for(browser, lambda b: "taker" in text_of(b, "#share-members"))
        browser.save_screenshot(str(screenshots_dir(tmp_path) / "console-share-group.png"))
    finally:
        kill_all(consumers)
        process.kill()
