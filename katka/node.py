"""Node: what a handler or an admin view may know about the broker that runs it.

The Broker (the composition root) builds one Node once storage, the topic catalog and the
group coordinator exist. Handlers and views receive the Node, never the Broker: they depend
on these few nouns only, never on sockets or life cycle, and tests drive them over the memory
storage engine with no listener at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from katka.security.acls import AclStore
from katka.security.authorizer import Authorizer
from katka.stats import BrokerStats

if TYPE_CHECKING:
    from katka.api._appends import AppendNotifier
    from katka.api._fetch_sessions import FetchSessionCache
    from katka.clock import Clock
    from katka.config import BrokerConfig
    from katka.coordinator.service import GroupCoordinator
    from katka.metadata.broker_configs import DynamicBrokerConfigs
    from katka.metadata.topics import TopicManager
    from katka.producer_ids import ProducerIdManager
    from katka.quotas import QuotaManager
    from katka.security.credentials import ScramCredentialStore
    from katka.storage.cleaner.service import LogCleaner
    from katka.storage.durability import Durability
    from katka.transactions.service import TransactionService


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Endpoint:
        """HOST:PORT, optionally after a listener name (PLAINTEXT://HOST:PORT). An empty
        host, as Kafka's `PLAINTEXT://:9092`, means every interface; port 0 a free one."""
        address = value.split("://", 1)[1] if "://" in value else value
        host, separator, port = address.rpartition(":")
        if not separator or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected HOST:PORT with a port from 0 to 65535, got {value!r}")
        if not host and "://" not in value:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ApiVersionRange:
    """One line of ApiVersions: the versions of one API this node answers."""

    api_key: int
    min_version: int
    max_version: int


@dataclass(eq=False, slots=True)
class Node:
    node_id: int
    cluster_id: str
    config: BrokerConfig
    dynamic_configs: DynamicBrokerConfigs
    clock: Clock
    topics: TopicManager
    # Builds the group and transaction coordinators (replaying their logs) if they are not
    # built yet: a starting broker answers Metadata first and builds them right after, and a
    # request that needs one sooner has it built on the spot.
    load_coordinators: Callable[[], None]
    producer_ids: ProducerIdManager
    # A transaction marker into one partition: (topic, partition), producer id, producer
    # epoch, commit?, coordinator epoch (WriteTxnMarkers; the transaction coordinator's own).
    write_marker: Callable[[tuple[str, int], int, int, bool, int], None]
    durability: Durability
    appends: AppendNotifier
    fetch_sessions: FetchSessionCache
    api_versions: tuple[ApiVersionRange, ...]
    quotas: QuotaManager  # client quotas: configured, and each client's rates
    # Set again by the broker once its listener is bound (a listen port of 0 is only known then).
    advertised: Endpoint
    started_monotonic: float
    cleaner: LogCleaner | None = None  # compaction (None: log.cleaner.enable=false)
    # Advertised endpoint by listener name: Metadata answers with the listener asked on.
    listener_endpoints: dict[str, Endpoint] = field(default_factory=dict)
    scram_credentials: ScramCredentialStore | None = None
    # Off unless authorizer.class.name names Kafka's StandardAuthorizer.
    authorizer: Authorizer = field(default_factory=lambda: Authorizer(AclStore(None)))
    # Traffic, requests and connections counted as they happen (the /metrics endpoint).
    stats: BrokerStats = field(default_factory=BrokerStats)
    group_coordinator: GroupCoordinator | None = None
    transaction_service: TransactionService | None = None

    @property
    def coordinator(self) -> GroupCoordinator:
        if self.group_coordinator is None:
            self.load_coordinators()
            assert self.group_coordinator is not None
        return self.group_coordinator

    @property
    def transactions(self) -> TransactionService:
        if self.transaction_service is None:
            self.load_coordinators()
            assert self.transaction_service is not None
        return self.transaction_service

    def endpoint_for(self, listener_name: str) -> Endpoint:
        return self.listener_endpoints.get(listener_name, self.advertised)
