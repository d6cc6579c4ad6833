"""Client quotas: kept across a restart, found in Kafka's order of precedence, and a client over
its rate throttled in proportion to the excess."""

from __future__ import annotations

from pathlib import Path

from katka.config import BrokerConfig
from katka.quotas import ClientQuotaStore, QuotaManager
from katka.quotas.store import entity_of


def test_quotas_survive_a_restart(tmp_path: Path) -> None:
    store = ClientQuotaStore(tmp_path / "client-quotas.json")
    store.alter(
        entity_of([("user", "alice"), ("client-id", None)]), [("consumer_byte_rate", 2048.0, False)]
    )
    store.alter(entity_of([("ip", "10.0.0.1")]), [("connection_creation_rate", 5.0, False)])
    store.save()
    reopened = ClientQuotaStore(tmp_path / "client-quotas.json")
    assert reopened.entries() == store.entries()
    assert reopened.quota("alice", "whatever", "consumer_byte_rate") == 2048.0


def test_the_most_specific_entity_wins_as_in_kafka() -> None:
    store = ClientQuotaStore(None)
    for entity, value in [
        ([("client-id", None)], 1.0),
        ([("client-id", "app")], 2.0),
        ([("user", None)], 3.0),
        ([("user", "bob")], 4.0),
        ([("user", "bob"), ("client-id", "app")], 5.0),
    ]:
        store.alter(entity_of(entity), [("producer_byte_rate", value, False)])
    assert store.quota("bob", "app", "producer_byte_rate") == 5.0
    assert store.quota("bob", "other", "producer_byte_rate") == 4.0
    assert store.quota("carol", "app", "producer_byte_rate") == 3.0
    assert store.quota("carol", "app", "consumer_byte_rate") is None


def test_a_client_over_its_byte_rate_is_throttled_in_proportion_to_the_excess() -> None:
    now = [1000.0]
    store = ClientQuotaStore(None)
    store.alter(entity_of([("client-id", "app")]), [("producer_byte_rate", 1000.0, False)])
    quotas = QuotaManager(store, BrokerConfig({}), monotonic=lambda: now[0])
    # 10 s of 1,000 bytes/s: within the quota
    for _ in range(10):
        assert quotas.record("producer_byte_rate", "ANONYMOUS", "app", 1000) == 0
        now[0] += 1.0
    # twice the quota over the window: throttled about as long as the window
    throttles = []
    for _ in range(11):
        throttles.append(quotas.record("producer_byte_rate", "ANONYMOUS", "app", 3000))
        now[0] += 1.0
    assert throttles[0] > 0 and 5_000 <= throttles[-1] <= 11_000
    assert quotas.record("producer_byte_rate", "ANONYMOUS", "other", 10**9) == 0  # no quota
