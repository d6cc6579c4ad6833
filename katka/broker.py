"""Composition root: builds config, clock, storage, catalog, coordinator, the Node that
handlers and admin views receive, and the listeners.

The only module that knows every concrete class. `Broker.start()` opens (and recovers) the
logs, replays the coordinator's log and starts listening; `Broker.stop()` flushes, closes
files and marks the shutdown clean.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

from katka import api
from katka.admin import AdminHttpServer
from katka.admin.source import BrokerSource
from katka.api._appends import AppendNotifier
from katka.api._fetch_sessions import FetchSessionCache
from katka.clock import Clock, SystemClock
from katka.config import BrokerConfig, config_list
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import OFFSETS_TOPIC, PartitionInternalLog
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.share.partitions import SHARE_STATE_TOPIC
from katka.coordinator.timers import AsyncioTimers, Timers
from katka.metadata.broker_configs import DynamicBrokerConfigs
from katka.metadata.catalog import CATALOG_FILE, TopicCatalog, write_atomically
from katka.metadata.housekeeping import LogHousekeeping
from katka.metadata.topics import TopicManager
from katka.node import Endpoint, Node
from katka.producer_ids import ProducerIdManager
from katka.quotas import ClientQuotaStore, QuotaManager
from katka.quotas.store import QUOTAS_FILE
from katka.security.acls import ACLS_FILE, AclStore
from katka.security.authorizer import Authorizer
from katka.security.credentials import CREDENTIALS_FILE, ScramCredentialStore
from katka.security.listeners import ListenerSpec, build_listener_security
from katka.server.dispatch import Dispatcher, api_version_ranges, build_registry
from katka.server.listener import Listener
from katka.storage.base import StorageEngine
from katka.storage.cleaner.service import CleanerConfig, LogCleaner
from katka.storage.durability import Durability
from katka.transactions.coordinator import (
    TRANSACTION_STATE_TOPIC,
    TransactionConfig,
    TransactionCoordinator,
)
from katka.transactions.markers import TransactionMarkers
from katka.transactions.service import TransactionService

log = logging.getLogger("katka.broker")

CLUSTER_ID_FILE = "cluster-id"


class Broker:
    def __init__(
        self,
        config: BrokerConfig,
        data_dir: Path | None,
        listen: Endpoint,
        advertised: Endpoint | None = None,
        clock: Clock | None = None,
        storage: StorageEngine | None = None,
        listeners: list[ListenerSpec] | None = None,
        listener_configs: dict[str, str] | None = None,
        admin_listener_default: str | None = None,
    ) -> None:
        self.config = config
        # `katka serve`'s fixed admin API address, used unless katka.admin.listener says;
        # a free port when it is taken (another broker on this host). None: a free port.
        self.admin_listener_default = admin_listener_default
        self.data_dir = data_dir
        self.listen = listen
        self.advertised = advertised
        # Every client listener; the first is `listen` (the flags' and embedded brokers' one).
        self.listener_specs = listeners or [
            ListenerSpec("PLAINTEXT", "PLAINTEXT", listen, advertised)
        ]
        self.listener_configs = listener_configs or {}
        self.scram_credentials = ScramCredentialStore(None)
        self.acls = AclStore(None)
        self.quota_store = ClientQuotaStore(None)
        self.clock: Clock = clock or SystemClock()
        self.node_id = config.get_int("node.id")
        self._storage_override = storage
        self.started_monotonic = time.monotonic()
        self.durability = Durability(config.get("katka.fsync") == "always", self.clock)
        self.appends = AppendNotifier()
        self.fetch_sessions = FetchSessionCache(
            config.get_int("max.incremental.fetch.session.cache.slots"), self.appends
        )
        self.registry = build_registry(api.ALL)
        self.cluster_id = ""
        self.storage: StorageEngine
        self.topics: TopicManager
        self.dynamic_configs: DynamicBrokerConfigs
        self.coordinator: GroupCoordinator
        self.transactions: TransactionService
        self.markers: TransactionMarkers
        self.housekeeping: LogHousekeeping
        self.producer_ids: ProducerIdManager
        self.node: Node
        self.listener: Listener | None = None  # the first of `listeners`
        self.listeners: list[Listener] = []
        self.admin_http: AdminHttpServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.cleaner = (
            LogCleaner(lambda: cleaner_config(self.config), self.clock.now_ms)
            if config.get_bool("log.cleaner.enable")
            else None
        )

    # --- life cycle -------------------------------------------------------------------
    def open(self) -> None:
        """Open storage and metadata; recovery happens here."""
        if self._storage_override is not None:
            storage = self._storage_override
            catalog = TopicCatalog(None)
            self.cluster_id = _new_cluster_id()
            self.producer_ids = ProducerIdManager(None)
        else:
            from katka.storage.disk.engine import DiskStorageEngine

            assert self.data_dir is not None
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = DiskStorageEngine(self.data_dir)
            catalog = TopicCatalog(self.data_dir / CATALOG_FILE)
            self.cluster_id = _load_cluster_id(self.data_dir)
            self.producer_ids = ProducerIdManager(self.data_dir / "producer-ids.json")
            self.scram_credentials = ScramCredentialStore(self.data_dir / CREDENTIALS_FILE)
            self.acls = AclStore(self.data_dir / ACLS_FILE)
            self.quota_store = ClientQuotaStore(self.data_dir / QUOTAS_FILE)
        self.storage = storage
        self.topics = TopicManager(catalog, storage, self.config)
        self.housekeeping = LogHousekeeping(self.topics, self.durability, self.clock, self.config)
        self.dynamic_configs = DynamicBrokerConfigs(
            self.config, self.data_dir, self.topics.refresh_log_configs
        )
        if self._storage_override is None:
            self.dynamic_configs.load()
        self.topics.open_all()
        if OFFSETS_TOPIC not in catalog:
            self.topics.create_topic(
                OFFSETS_TOPIC, 1, {"segment.bytes": str(100 * 1024 * 1024)}, internal=True
            )
        for internal_topic in (TRANSACTION_STATE_TOPIC, SHARE_STATE_TOPIC):
            if internal_topic not in catalog:
                self.topics.create_topic(
                    internal_topic, 1, {"segment.bytes": str(100 * 1024 * 1024)}, internal=True
                )

    def start_coordinator(self, timers: Timers | None = None) -> None:
        """Replay the group coordinator's log (its timers run on the running loop by default),
        then build the Node that handlers and admin views receive."""
        self.coordinator = GroupCoordinator(
            coordinator_config(self.config),
            self.clock,
            timers or AsyncioTimers(self.clock, asyncio.get_running_loop()),
            PartitionInternalLog(self.topics.get_log(OFFSETS_TOPIC, 0), self.clock),
            self.topics.partition_exists,
            self.topics.catalog,
            share_log=PartitionInternalLog(self.topics.get_log(SHARE_STATE_TOPIC, 0), self.clock),
        )
        self.coordinator.load()
        self.start_transaction_coordinator()
        self.node = Node(
            node_id=self.node_id,
            cluster_id=self.cluster_id,
            config=self.config,
            dynamic_configs=self.dynamic_configs,
            clock=self.clock,
            topics=self.topics,
            coordinator=self.coordinator,
            transactions=self.transactions,
            producer_ids=self.producer_ids,
            write_marker=self.markers.write,
            durability=self.durability,
            appends=self.appends,
            fetch_sessions=self.fetch_sessions,
            api_versions=api_version_ranges(self.registry),
            advertised=self.advertised_endpoint,
            started_monotonic=self.started_monotonic,
            cleaner=self.cleaner,
            scram_credentials=self.scram_credentials,
            authorizer=Authorizer.from_configs(
                self.acls,
                self.config.get("authorizer.class.name") or "",
                self.config.get("super.users") or "",
                self.config.get_bool("allow.everyone.if.no.acl.found"),
            ),
            quotas=QuotaManager(self.quota_store, self.config),
        )

    def start_transaction_coordinator(self) -> None:
        """Replay `__transaction_state`; prepared transactions complete once the loop runs."""
        self.markers = TransactionMarkers(
            self.topics.get_log,
            self.clock,
            (OFFSETS_TOPIC, 0),
            self.coordinator.complete_transaction,
            self.appends.notify,
        )
        state_log = self.topics.get_log(TRANSACTION_STATE_TOPIC, 0)
        coordinator = TransactionCoordinator(
            TransactionConfig(
                max_timeout_ms=self.config.get_int("transaction.max.timeout.ms"),
                abort_timed_out_interval_ms=self.config.get_int(
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms"
                ),
                id_expiration_ms=self.config.get_int("transactional.id.expiration.ms"),
            ),
            self.clock,
            PartitionInternalLog(state_log, self.clock),
            self.producer_ids.next_producer_id,
            self.markers.write,
        )
        coordinator.load()
        self.transactions = TransactionService(
            coordinator, state_log, self.topics.get_log, self.durability
        )

    async def start(self) -> None:
        try:
            self.open()
            self.start_coordinator()
            await self._start_listeners()
        except BaseException:
            self._release_data_dir()
            raise
        self.node.advertised = self.advertised_endpoint
        self._record_endpoints()
        self._tasks.append(asyncio.create_task(self.housekeeping.run()))
        self._tasks.append(asyncio.create_task(self.transactions.run()))
        if self.cleaner is not None:
            self._tasks.append(asyncio.create_task(self.cleaner.run(self.topics.logs)))
        await self._start_admin_http()

    async def _start_listeners(self) -> None:
        """One Listener per client listener, in the order configured; the first bound is
        `listen`. Each gets its TLS context and SASL mechanisms (ValueError: a config is
        wrong, said in one line without its value)."""
        dispatcher = Dispatcher(self.registry, self.node)
        bound: list[ListenerSpec] = []
        for spec in self.listener_specs:
            security = build_listener_security(
                spec, self.config, self.listener_configs, self.scram_credentials
            )
            listener = Listener(
                dispatcher,
                self.config,
                security,
                self.listener.connection_limits if self.listener is not None else None,
            )
            self.listeners.append(listener)
            self.listener = self.listener or listener
            port = await listener.start(spec.endpoint.host, spec.endpoint.port)
            endpoint = Endpoint(spec.endpoint.host, port)
            advertised = spec.advertised
            if advertised is None or advertised.port == 0:
                advertised = Endpoint((advertised or endpoint).host or endpoint.host, port)
            bound.append(ListenerSpec(spec.name, spec.security_protocol, endpoint, spec.advertised))
            self.node.listener_endpoints[spec.name] = advertised
        self.listener_specs = bound
        self.listen = bound[0].endpoint

    async def _start_admin_http(self) -> None:
        """The katka-only HTTP admin API (rebalance history, lag in time) on its own listener;
        the bound address is reported as the read-only broker config katka.admin.listener so
        tools find it from the bootstrap address alone."""
        # The HTTP API has no authentication of its own: on a secured broker (a TLS or SASL
        # listener, or an authorizer) it binds to loopback unless katka.admin.listener says.
        secured = self.node.authorizer.enabled or any(
            spec.security_protocol != "PLAINTEXT" for spec in self.listener_specs
        )
        default_host = "127.0.0.1" if secured else self.listen.host or "0.0.0.0"
        configured = self.config.get("katka.admin.listener")
        wanted = configured or self.admin_listener_default or f"{default_host}:0"
        if wanted == "none":
            self.config.set_static("katka.admin.listener", "")  # reported as: no admin API
            return
        endpoint = Endpoint.parse(wanted)
        self.admin_http = AdminHttpServer(BrokerSource(self.node))
        try:
            host, port = await self.admin_http.start(endpoint.host, endpoint.port)
        except OSError as error:
            if configured:
                raise
            log.info(
                "admin API: %s is not free (%s); listening on a free port of %s instead",
                wanted,
                error.strerror or error,
                endpoint.host,
            )
            self.admin_http = AdminHttpServer(BrokerSource(self.node))
            host, port = await self.admin_http.start(endpoint.host, 0)
        self.config.set_static("katka.admin.listener", f"{host}:{port}")

    def _record_endpoints(self) -> None:
        """DescribeConfigs reports what is in effect: where this broker was told to listen,
        advertise and keep its data, when that differs from the configs it was given (the
        port bound for port 0, an embedded broker's directory), as static configs."""
        listeners = ",".join(f"{s.name}://{s.endpoint}" for s in self.listener_specs)
        if self.config.get("listeners") != listeners:
            self.config.set_static("listeners", listeners)
        if any(s.advertised is not None for s in self.listener_specs):
            advertised = ",".join(
                f"{s.name}://{self.node.listener_endpoints[s.name]}" for s in self.listener_specs
            )
            if self.config.get("advertised.listeners") != advertised:
                self.config.set_static("advertised.listeners", advertised)
        if self.data_dir is not None:
            configured_dir = self.config.get("log.dirs") or self.config.get("log.dir")
            if configured_dir != str(self.data_dir):
                self.config.set_static("log.dirs", str(self.data_dir))

    def _release_data_dir(self) -> None:
        """A start that failed leaves the data directory unlocked for a retry in this process,
        as the kernel would after an exit (no clean-shutdown marker is written)."""
        from katka.storage.disk.engine import DiskStorageEngine

        storage = getattr(self, "storage", None)
        if isinstance(storage, DiskStorageEngine):
            storage.lock.release()

    @property
    def advertised_endpoint(self) -> Endpoint:
        return self.advertised or self.listen

    async def stop(self) -> None:
        if self.cleaner is not None:
            self.cleaner.close()  # its thread stops at the next batch; its files are dropped
        if self.admin_http is not None:
            await self.admin_http.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for listener in self.listeners:
            await listener.stop()
        await self.durability.close()
        self.coordinator.shutdown()
        self.storage.close()
        log.info("shut down cleanly")


def coordinator_config(config: BrokerConfig) -> CoordinatorConfig:
    return CoordinatorConfig(
        group_min_session_timeout_ms=config.get_int("group.min.session.timeout.ms"),
        group_max_session_timeout_ms=config.get_int("group.max.session.timeout.ms"),
        group_initial_rebalance_delay_ms=config.get_int("group.initial.rebalance.delay.ms"),
        group_max_size=config.get_int("group.max.size"),
        offset_metadata_max_bytes=config.get_int("offset.metadata.max.bytes"),
        offsets_retention_minutes=config.get_int("offsets.retention.minutes"),
        offsets_retention_check_interval_ms=config.get_int("offsets.retention.check.interval.ms"),
        consumer_protocol_enabled="consumer"
        in config_list(config.get("group.coordinator.rebalance.protocols")),
        consumer_session_timeout_ms=config.get_int("group.consumer.session.timeout.ms"),
        consumer_heartbeat_interval_ms=config.get_int("group.consumer.heartbeat.interval.ms"),
        consumer_max_size=config.get_int("group.consumer.max.size"),
        consumer_assignors=tuple(config_list(config.get("group.consumer.assignors"))),
        share_session_timeout_ms=config.get_int("group.share.session.timeout.ms"),
        share_heartbeat_interval_ms=config.get_int("group.share.heartbeat.interval.ms"),
        share_record_lock_duration_ms=config.get_int("group.share.record.lock.duration.ms"),
        share_delivery_count_limit=config.get_int("group.share.delivery.count.limit"),
        share_partition_max_record_locks=config.get_int("group.share.partition.max.record.locks"),
    )


def cleaner_config(config: BrokerConfig) -> CleanerConfig:
    return CleanerConfig(
        enabled=config.get_bool("log.cleaner.enable"),
        backoff_ms=config.get_int("log.cleaner.backoff.ms"),
        dedupe_buffer_bytes=config.get_int("log.cleaner.dedupe.buffer.size"),
        max_io_bytes_per_second=float(config.get("log.cleaner.io.max.bytes.per.second") or "inf"),
    )


def _new_cluster_id() -> str:
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _load_cluster_id(data_dir: Path) -> str:
    path = data_dir / CLUSTER_ID_FILE
    if path.exists():
        return path.read_text().strip()
    cluster_id = _new_cluster_id()
    write_atomically(path, cluster_id.encode())
    return cluster_id
