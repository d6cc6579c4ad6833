"""pytest plugin (entry point `pytest11`): a real katka broker for a test suite.

Fixtures:
  katka_broker          session scope: one embedded broker (free port, temporary data dir);
                        `katka_broker.bootstrap_servers` is what clients connect to.
  katka_broker_configs  session scope: the broker configs it starts with; override it in a
                        conftest.py to change them (the default skips the 3 s initial
                        rebalance delay that only slows tests down).
  katka_topic           a factory: `katka_topic(partitions=1, config=None) -> name` creates a
                        topic with a unique name and deletes it after the test.

The broker starts lazily, the first time a test asks for it, so installing katka costs
nothing to test suites that do not use it (nor is katka imported until then).
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from katka.embed import EmbeddedBroker

_ADMIN_TIMEOUT_S = 30.0
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def katka_broker_configs() -> dict[str, str]:
    return {"group.initial.rebalance.delay.ms": "0"}


@pytest.fixture(scope="session")
def katka_broker(
    tmp_path_factory: pytest.TempPathFactory, katka_broker_configs: Mapping[str, str]
) -> Iterator[EmbeddedBroker]:
    # Imported here: katka pulls in kio (and hypothesis), which a plugin must not do at load time.
    from katka.embed import start_embedded

    data_dir = tmp_path_factory.mktemp("katka-broker")
    broker = start_embedded(data_dir, katka_broker_configs)
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _unique_topic_name(node_name: str) -> str:
    # Kafka topic names: [a-zA-Z0-9._-], at most 249 characters.
    base = re.sub(r"[^a-zA-Z0-9._-]+", "-", node_name).strip("-.")[:180] or "topic"
    return f"{base}-{next(_counter)}"


@pytest.fixture
def katka_topic(
    katka_broker: EmbeddedBroker, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    admin = AdminClient({"bootstrap.servers": katka_broker.bootstrap_servers})
    created: list[str] = []

    def create(
        partitions: int = 1, config: Mapping[str, str] | None = None, name: str | None = None
    ) -> str:
        topic = name or _unique_topic_name(request.node.name)
        new = NewTopic(
            topic,
            num_partitions=partitions,
            replication_factor=1,
            config=dict(config or {}),
        )
        futures = admin.create_topics([new], operation_timeout=_ADMIN_TIMEOUT_S)
        futures[topic].result(_ADMIN_TIMEOUT_S)
        created.append(topic)
        return topic

    yield create
    if created:
        futures = admin.delete_topics(created, operation_timeout=_ADMIN_TIMEOUT_S)
        for future in futures.values():
            try:
                future.result(_ADMIN_TIMEOUT_S)
            except Exception:  # best effort: the broker may be gone, the test may have deleted it
                pass
