"""One huge admin request (a typo such as --partitions 100000) must neither stall the broker nor
run unchecked: large creations and deletions proceed in slices while others are served, and
absurd ones are refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.test_produce_consume import create_topic, unique

BIG = 5_000  # partitions: seconds of work on disk, far longer than one slice


def partition_dirs(data_dir: Path, topic: str) -> int:
    return sum(1 for entry in data_dir.iterdir() if entry.name.startswith(f"{topic}-"))


@pytest.mark.slow  # 5,000 partition directories made and removed: 10-45 s of disk work here
def test_other_clients_are_served_while_a_large_topic_is_created_and_deleted(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    broker = start_katka(data_dir=tmp_path / "data")
    small = unique("small")
    create_topic(broker.bootstrap, small, 1)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    big = unique("big")
    started = time.monotonic()
    creating = admin.create_topics(
        [NewTopic(big, num_partitions=BIG, replication_factor=1)], request_timeout=120
    )[big]
    wait_until(lambda: partition_dirs(tmp_path / "data", big) > 0, 60, what="creation under way")

    # another client's Metadata and Produce are answered while the creation runs
    other = AdminClient({"bootstrap.servers": broker.bootstrap})
    answered = other.list_topics(timeout=10)
    assert small in answered.topics and big not in answered.topics
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    producer.produce(small, b"served meanwhile")
    assert producer.flush(10) == 0
    assert not creating.done(), "the creation ended before the others were served"

    assert creating.result(timeout=120) is None
    created_in = time.monotonic() - started
    assert len(other.list_topics(big, timeout=10).topics[big].partitions) == BIG
    assert partition_dirs(tmp_path / "data", big) == BIG

    deleting = admin.delete_topics([big], request_timeout=120)[big]
    wait_until(lambda: partition_dirs(tmp_path / "data", big) < BIG, 60, what="deletion under way")
    assert small in other.list_topics(timeout=10).topics
    assert deleting.result(timeout=120) is None
    assert partition_dirs(tmp_path / "data", big) == 0
    print(f"{BIG} partitions created in {created_in:.1f} s")


def test_absurd_partition_counts_are_refused_with_kafkas_errors(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    broker = start_katka(["-o", "katka.max.broker.partitions=200"], data_dir=tmp_path / "data")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    typo = unique("typo")
    future = admin.create_topics([NewTopic(typo, num_partitions=100_000)], request_timeout=30)
    with pytest.raises(KafkaException) as refused:
        future[typo].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.POLICY_VIOLATION
    assert "per request" in refused.value.args[0].str()

    future = admin.create_topics([NewTopic(typo, num_partitions=500)], request_timeout=30)
    with pytest.raises(KafkaException) as refused:
        future[typo].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.INVALID_PARTITIONS
    assert "katka.max.broker.partitions=200" in refused.value.args[0].str()

    grown = unique("grown")
    create_topic(broker.bootstrap, grown, 1)
    future = admin.create_partitions([NewPartitions(grown, 20_000)], request_timeout=30)
    with pytest.raises(KafkaException) as refused:
        future[grown].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.POLICY_VIOLATION
    assert typo not in admin.list_topics(timeout=10).topics
    assert not any((tmp_path / "data").glob(f"{typo}-*")), "a refused topic left logs behind"
