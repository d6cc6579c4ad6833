"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kafka.reference import KafkaReference, kafka_broker_fixture


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaReference]:
    """Apache Kafka 4.4, one KRaft node on loopback, shared by the session (tests/kafka)."""
    yield from kafka_broker_fixture(tmp_path_factory)
