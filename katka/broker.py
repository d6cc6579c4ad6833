"""Composition root: builds config, clock, storage, catalog, coordinator, the Node that
handlers and admin views receive, and the listeners.

The only module that knows every concrete class. `Broker.start()` opens (and recovers) the
logs and starts listening, then replays the coordinators' logs and starts the admin API and
the background tasks; `Broker.stop()` flushes, closes files and marks the shutdown clean.

Start-up answers first: what the first requests need (storage, catalog, listener, the handler
asked for) is imported and built before the listener binds; the coordinators, transactions,
cleaner and admin API (most of katka's import time) come after, their modules imported on a
worker thread while the loop serves. A request that needs a coordinator before then has it
built on the spot (Node.load_coordinators), so nothing answers from half-built state.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from katka import api
from katka.api._appends import AppendNotifier
from katka.api._fetch_sessions import FetchSessionCache
from katka.clock import Clock, SystemClock
from katka.config import BrokerConfig, config_list
from katka.metadata.broker_configs import DynamicBrokerConfigs
from katka.metadata.catalog import CATALOG_FILE, TopicCatalog, write_atomically
from katka.metadata.housekeeping import LogHousekeeping
from katka.metadata.internal_topics import (
    OFFSETS_TOPIC,
    SHARE_STATE_TOPIC,
    TRANSACTION_STATE_TOPIC,
)
from katka.metadata.topics import TopicManager
from katka.node import Endpoint, Node
from katka.producer_ids import ProducerIdManager
from katka.quotas import ClientQuotaStore, QuotaManager
from katka.quotas.store import QUOTAS_FILE
from katka.security.acls import ACLS_FILE, AclStore
from katka.security.authorizer import Authorizer
from katka.security.credentials import CREDENTIALS_FILE, ScramCredentialStore
from katka.security.listeners import ListenerSpec, build_listener_security
from katka.server.dispatch import Dispatcher, api_version_ranges, lazy_registry
from katka.server.listener import Listener, bind_early
from katka.storage.base import StorageEngine
from katka.storage.durability import Durability

if TYPE_CHECKING:
    from katka.admin import AdminHttpServer
    from katka.coordinator.config import CoordinatorConfig
    from katka.coordinator.service import GroupCoordinator
    from katka.coordinator.timers import Timers
    from katka.storage.cleaner.service import CleanerConfig, LogCleaner
    from katka.transactions.markers import TransactionMarkers
    from katka.transactions.service import TransactionService

log = logging.getLogger("katka.broker")

CLUSTER_ID_FILE = "cluster-id"
# What start() imports on a worker thread once the listener answers (see the module docstring).
SERVING_LATER = (
    "katka.coordinator.service",
    "katka.coordinator.internal_log",
    "katka.coordinator.timers",
    "katka.transactions.coordinator",
    "katka.transactions.markers",
    "katka.transactions.service",
    "katka.storage.cleaner.service",
    "katka.admin",
    *(f"katka.api.{module}" for module, _ in api.HANDLERS.values()),
)


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
        self.registry = lazy_registry(api.HANDLERS)
        self.cluster_id = ""
        self.storage: StorageEngine
        self.topics: TopicManager
        self.dynamic_configs: DynamicBrokerConfigs
        self.coordinator: GroupCoordinator
        self.transactions: TransactionService
        self.markers: TransactionMarkers
        self._timers: Timers | None = None  # the coordinators' (None: on the running loop)
        self.housekeeping: LogHousekeeping
        self.producer_ids: ProducerIdManager
        self.node: Node
        self.listener: Listener | None = None  # the first of `listeners`
        self.listeners: list[Listener] = []
        self.admin_http: AdminHttpServer | None = None
        self._admin_socket: socket.socket | None = None  # bound, not yet served
        self._dispatcher: Dispatcher | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.cleaner: LogCleaner | None = None  # built with the coordinators

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
        with catalog.one_save():
            for internal_topic in (OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC, SHARE_STATE_TOPIC):
                if internal_topic not in catalog:
                    self.topics.create_topic(
                        internal_topic, 1, {"segment.bytes": str(100 * 1024 * 1024)}, internal=True
                    )

    def start_coordinator(self, timers: Timers | None = None) -> None:
        """Build the Node, then replay the coordinators' logs (their timers run on the
        running loop by default). start() does the same in two steps, serving in between."""
        self.build_node(timers)
        self.load_coordinators()

    def build_node(self, timers: Timers | None = None) -> None:
        """The Node that handlers and admin views receive; its coordinators come later."""
        self._timers = timers
        self.node = Node(
            node_id=self.node_id,
            cluster_id=self.cluster_id,
            config=self.config,
            dynamic_configs=self.dynamic_configs,
            clock=self.clock,
            topics=self.topics,
            load_coordinators=self.load_coordinators,
            producer_ids=self.producer_ids,
            write_marker=self._write_marker,
            durability=self.durability,
            appends=self.appends,
            fetch_sessions=self.fetch_sessions,
            api_versions=api_version_ranges(self.registry),
            advertised=self.advertised_endpoint,
            started_monotonic=self.started_monotonic,
            scram_credentials=self.scram_credentials,
            authorizer=Authorizer.from_configs(
                self.acls,
                self.config.get("authorizer.class.name") or "",
                self.config.get("super.users") or "",
                self.config.get_bool("allow.everyone.if.no.acl.found"),
            ),
            quotas=QuotaManager(self.quota_store, self.config),
        )

    def load_coordinators(self) -> None:
        """Replay the group and transaction coordinators' logs, once, and build the cleaner."""
        if self.node.group_coordinator is not None:
            return
        from katka.coordinator.internal_log import PartitionInternalLog
        from katka.coordinator.service import GroupCoordinator
        from katka.coordinator.timers import AsyncioTimers

        if self.config.get_bool("log.cleaner.enable"):
            from katka.storage.cleaner.service import LogCleaner

            self.cleaner = LogCleaner(lambda: cleaner_config(self.config), self.clock.now_ms)
            self.node.cleaner = self.cleaner
        self.coordinator = GroupCoordinator(
            coordinator_config(self.config),
            self.clock,
            self._timers or AsyncioTimers(self.clock, asyncio.get_running_loop()),
            PartitionInternalLog(self.topics.get_log(OFFSETS_TOPIC, 0), self.clock),
            self.topics.partition_exists,
            self.topics.catalog,
            share_log=PartitionInternalLog(self.topics.get_log(SHARE_STATE_TOPIC, 0), self.clock),
        )
        self.coordinator.load()
        self.start_transaction_coordinator()
        self.node.group_coordinator = self.coordinator
        self.node.transaction_service = self.transactions

    def _write_marker(
        self,
        partition: tuple[str, int],
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        coordinator_epoch: int,
    ) -> None:
        """WriteTxnMarkers' write, through the transaction coordinator's markers."""
        self.load_coordinators()
        self.markers.write(partition, producer_id, producer_epoch, commit, coordinator_epoch)

    def start_transaction_coordinator(self) -> None:
        """Replay `__transaction_state`; prepared transactions complete once the loop runs."""
        from katka.coordinator.internal_log import PartitionInternalLog
        from katka.transactions.coordinator import TransactionConfig, TransactionCoordinator
        from katka.transactions.markers import TransactionMarkers
        from katka.transactions.service import TransactionService

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
        await self.start_serving()
        await self.start_the_rest()

    async def start_serving(self) -> None:
        """Open the logs, bind every listener (the admin API's too) and answer clients."""
        try:
            self.open()
            self.build_node()
            await self._start_listeners()
            self._admin_socket = self._bind_admin_listener()
        except BaseException:
            self._release_data_dir()
            raise
        self.node.advertised = self.advertised_endpoint
        self._record_endpoints()

    async def start_the_rest(self, first_answer_within_s: float = 0.0) -> None:
        """Replay the coordinators' logs, start the background tasks and serve the admin
        API: after a first answer, or `first_answer_within_s`, whichever comes first (`katka
        serve` lets a client that connected at once, a readiness probe, go first)."""
        if first_answer_within_s > 0 and self._dispatcher is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dispatcher.answered.wait(), first_answer_within_s)
        await asyncio.to_thread(_import_all, SERVING_LATER)
        self.load_coordinators()
        self._tasks.append(asyncio.create_task(self.housekeeping.run()))
        self._tasks.append(asyncio.create_task(self.transactions.run()))
        if self.cleaner is not None:
            self._tasks.append(asyncio.create_task(self.cleaner.run(self.topics.logs)))
        if self._admin_socket is not None:
            from katka.admin import AdminHttpServer
            from katka.admin.source import BrokerSource

            self.admin_http = AdminHttpServer(BrokerSource(self.node))
            host, port = self._admin_socket.getsockname()[:2]
            await self.admin_http.start(host, port, self._admin_socket)
            self._admin_socket = None

    async def _start_listeners(self) -> None:
        """One Listener per client listener, in the order configured; the first bound is
        `listen`. Each gets its TLS context and SASL mechanisms (ValueError: a config is
        wrong, said in one line without its value)."""
        dispatcher = Dispatcher(self.registry, self.node)
        self._dispatcher = dispatcher
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

    def _bind_admin_listener(self) -> socket.socket | None:
        """The katka-only HTTP admin API (rebalance history, lag in time) on its own listener;
        the bound address is reported as the read-only broker config katka.admin.listener so
        tools find it from the bootstrap address alone. Bound now, served by start_the_rest."""
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
            return None
        endpoint = Endpoint.parse(wanted)
        try:
            sock = bind_early(endpoint.host, endpoint.port)
        except OSError as error:
            if configured:
                raise
            log.info(
                "admin API: %s is not free (%s); listening on a free port of %s instead",
                wanted,
                error.strerror or error,
                endpoint.host,
            )
            sock = bind_early(endpoint.host, 0)
        self.config.set_static("katka.admin.listener", f"{endpoint.host}:{sock.getsockname()[1]}")
        return sock

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
        if self._admin_socket is not None:
            self._admin_socket.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for listener in self.listeners:
            await listener.stop()
        await self.topics.stop_changes()
        await self.durability.close()
        if self.node.group_coordinator is not None:
            self.coordinator.shutdown()
        self.storage.close()
        log.info("shut down cleanly")


def _import_all(modules: tuple[str, ...]) -> None:
    """Import `modules` (on a worker thread, while the loop's thread serves)."""
    for name in modules:
        importlib.import_module(name)


def coordinator_config(config: BrokerConfig) -> CoordinatorConfig:
    from katka.coordinator.config import CoordinatorConfig

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
    from katka.storage.cleaner.service import CleanerConfig

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
