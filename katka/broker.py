"""Composition root: builds config, clock, storage, catalog, coordinator and server.

The only module that knows every concrete class. `Broker.start()` opens (and recovers) the
logs, replays the coordinator's log and starts listening; `Broker.stop()` flushes, closes
files and marks the shutdown clean.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from katka import api
from katka.admin import AdminHttpServer
from katka.clock import Clock, SystemClock
from katka.config import BrokerConfig, config_list
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import OFFSETS_TOPIC, PartitionInternalLog
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import AsyncioTimers, Timers
from katka.metadata.catalog import CATALOG_FILE, TopicCatalog, write_atomically
from katka.metadata.topics import TopicManager
from katka.producer_ids import ProducerIdManager
from katka.server.connection import Connection
from katka.server.dispatch import Dispatcher, build_registry
from katka.server.limits import ConnectionLimiter
from katka.storage.base import StorageEngine
from katka.storage.durability import Durability
from katka.transactions.coordinator import (
    TRANSACTION_STATE_TOPIC,
    TransactionConfig,
    TransactionCoordinator,
)
from katka.transactions.service import TransactionService
from katka.transactions.state import TopicPartition

log = logging.getLogger("katka.broker")

CLUSTER_ID_FILE = "cluster-id"
DYNAMIC_CONFIG_FILE = "broker-dynamic-configs.json"


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Endpoint:
        if "://" in value:
            value = value.split("://", 1)[1]
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class AppendNotifier:
    """Wakes parked fetches when any partition grows (they re-check their own partitions)."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, timeout_s: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            pass


class Broker:
    def __init__(
        self,
        config: BrokerConfig,
        data_dir: Path | None,
        listen: Endpoint,
        advertised: Endpoint | None = None,
        clock: Clock | None = None,
        storage: StorageEngine | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.listen = listen
        self.advertised = advertised
        self.clock: Clock = clock or SystemClock()
        self.node_id = config.get_int("node.id")
        self._storage_override = storage
        self.started_monotonic = time.monotonic()
        self.durability = Durability(config.get("katka.fsync") == "always", self.clock)
        self.appends = AppendNotifier()
        self.cluster_id = ""
        self.topics: TopicManager
        self.coordinator: GroupCoordinator
        self.transactions: TransactionService
        self.producer_ids: ProducerIdManager
        self._server: asyncio.Server | None = None
        self.admin_http: AdminHttpServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connections: set[asyncio.Task[None]] = set()
        self.connection_limits = ConnectionLimiter()
        self.dispatcher = Dispatcher(build_registry(api.ALL), self)

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
            dynamic_path = self.data_dir / DYNAMIC_CONFIG_FILE
            if dynamic_path.exists():
                for name, value in json.loads(dynamic_path.read_text()).items():
                    self.config.set_dynamic(name, value)
        self.storage = storage
        self.topics = TopicManager(catalog, storage, self.config)
        self.topics.open_all()
        if OFFSETS_TOPIC not in catalog:
            self.topics.create_topic(
                OFFSETS_TOPIC, 1, {"segment.bytes": str(100 * 1024 * 1024)}, internal=True
            )
        if TRANSACTION_STATE_TOPIC not in catalog:
            self.topics.create_topic(
                TRANSACTION_STATE_TOPIC,
                1,
                {"segment.bytes": str(100 * 1024 * 1024)},
                internal=True,
            )

    def start_coordinator(self, timers: Timers | None = None) -> None:
        """Replay the group coordinator's log; its timers run on the running loop by default."""
        self.coordinator = GroupCoordinator(
            coordinator_config(self.config),
            self.clock,
            timers or AsyncioTimers(self.clock, asyncio.get_running_loop()),
            PartitionInternalLog(self.topics.get_log(OFFSETS_TOPIC, 0), self.clock),
            self.topics.partition_exists,
            self.topics.catalog,
        )
        self.coordinator.load()
        self.start_transaction_coordinator()

    def start_transaction_coordinator(self) -> None:
        """Replay `__transaction_state`; prepared transactions complete once the loop runs."""
        state_log = self.topics.get_log(TRANSACTION_STATE_TOPIC, 0)
        coordinator = TransactionCoordinator(
            TransactionConfig(
                max_timeout_ms=self.config.get_int("transaction.max.timeout.ms"),
                abort_timed_out_interval_ms=self.config.get_int(
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms"
                ),
            ),
            self.clock,
            PartitionInternalLog(state_log, self.clock),
            self.producer_ids.next_producer_id,
            self.write_marker,
        )
        coordinator.load()
        self.transactions = TransactionService(
            coordinator, state_log, self.topics.get_log, self.durability
        )

    def write_marker(
        self,
        partition: TopicPartition,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        coordinator_epoch: int = 0,
    ) -> None:
        """A transaction marker into one partition (from the transaction coordinator, or
        WriteTxnMarkers); the group coordinator learns of those in __consumer_offsets."""
        partition_log = self.topics.get_log(*partition)
        now_ms = self.clock.now_ms()
        partition_log.append_marker(producer_id, producer_epoch, coordinator_epoch, commit, now_ms)
        if partition == (OFFSETS_TOPIC, 0):
            self.coordinator.complete_transaction(producer_id, commit)
        self.after_append()

    async def start(self) -> None:
        try:
            self.open()
            self.start_coordinator()
            self._server = await asyncio.start_server(
                self._on_connection,
                self.listen.host,
                self.listen.port,
                reuse_address=True,
                backlog=1024,
            )
        except BaseException:
            self._release_data_dir()
            raise
        sockets = list(self._server.sockets or [])
        if self.listen.port == 0 and sockets:
            self.listen = Endpoint(self.listen.host, sockets[0].getsockname()[1])
        self._tasks.append(asyncio.create_task(self._housekeeping()))
        self._tasks.append(asyncio.create_task(self.transactions.run()))
        await self._start_admin_http()

    async def _start_admin_http(self) -> None:
        """The katka-only HTTP admin API (rebalance history, lag in time) on its own listener;
        the bound address is reported as the read-only broker config katka.admin.listener so
        tools find it from the bootstrap address alone."""
        wanted = self.config.get("katka.admin.listener") or f"{self.listen.host}:0"
        if wanted == "none":
            self.config.set_static("katka.admin.listener", "")  # reported as: no admin API
            return
        endpoint = Endpoint.parse(wanted)
        self.admin_http = AdminHttpServer(self)
        host, port = await self.admin_http.start(endpoint.host, endpoint.port)
        self.config.set_static("katka.admin.listener", f"{host}:{port}")

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
        if self.admin_http is not None:
            await self.admin_http.stop()
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._connections, return_exceptions=True)
        await self.durability.close()
        self.coordinator.shutdown()
        self.storage.close()
        log.info("shut down cleanly")

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if peer else "unknown"
        if not self.connection_limits.try_acquire(
            host,
            self.config.get_int("max.connections"),
            self.config.get_int("max.connections.per.ip"),
        ):
            writer.transport.abort()
            return
        connection = Connection(
            reader,
            writer,
            self.dispatcher,
            max_frame_bytes=self.config.get_int("socket.request.max.bytes"),
            max_queued_requests=self.config.get_int("queued.max.requests"),
            max_buffered_bytes=self.config.get_int("katka.connection.max.buffered.bytes"),
        )
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await connection.run()
        except asyncio.CancelledError:
            pass  # broker shutting down
        finally:
            self._connections.discard(task)
            self.connection_limits.release(host)

    # --- domain helpers used by handlers ----------------------------------------------
    def after_append(self) -> None:
        self.appends.notify()

    def set_dynamic_configs(self, values: dict[str, str], validate_only: bool = False) -> None:
        """Replace the dynamic broker configs (IncrementalAlterConfigs); persisted like Kafka's."""
        check = BrokerConfig()
        for name, value in values.items():
            check.set_dynamic(name, value)
        if validate_only:
            return
        for name in self.config.dynamic:
            if name not in values:
                self.config.delete_dynamic(name)
        for name, value in values.items():
            self.config.set_dynamic(name, value)
        if self.data_dir is not None:
            write_atomically(self.data_dir / DYNAMIC_CONFIG_FILE, json.dumps(values).encode())
        self.topics.refresh_log_configs()

    async def _housekeeping(self) -> None:
        """Periodic work: time-based segment roll, flush.ms, retention."""
        retention_every_ms = self.config.get_int("log.retention.check.interval.ms")
        flush_every_ms = self.config.get_int("log.flush.scheduler.interval.ms")
        last_retention = self.clock.monotonic_ms()
        while True:
            await asyncio.sleep(min(flush_every_ms, retention_every_ms, 1000) / 1000)
            now_ms = self.clock.now_ms()
            logs = self.topics.logs()
            for partition_log in logs:
                try:
                    partition_log.maybe_roll(now_ms)
                except Exception:
                    log.exception(
                        "segment roll failed for %s-%d",
                        partition_log.topic,
                        partition_log.partition,
                    )
            try:
                await self.durability.flush_due(logs)
            except Exception:
                log.exception("scheduled flush failed")
            if self.clock.monotonic_ms() - last_retention >= retention_every_ms:
                last_retention = self.clock.monotonic_ms()
                self.enforce_retention()

    def enforce_retention(self) -> int:
        freed = 0
        now_ms = self.clock.now_ms()
        for partition_log in self.topics.logs():
            try:
                freed += partition_log.enforce_retention(now_ms)
            except Exception:
                log.exception(
                    "retention failed for %s-%d", partition_log.topic, partition_log.partition
                )
        return freed


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
