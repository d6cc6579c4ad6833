"""The transaction coordinator at the edges: waits for durability between the two phases,
finishes transactions left half-ended at start-up, and aborts timed-out ones periodically.

Phase two runs in a task of its own, shielded from the request that started it: a client
that disconnects (or times out) while its EndTxn waits must not leave the transaction between
the phases. A completion that fails (an fsync error) is retried by the periodic loop, as
Kafka's coordinator retries markers until they are written.

Everything that decides is in coordinator.py (plain defs); this module only awaits the flush
policy between its calls, so PrepareCommit/PrepareAbort is durable before any marker is
written and the markers are durable before the client hears the transaction ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from katka.errors import ErrorCode, KafkaError
from katka.storage.base import PartitionLog
from katka.storage.durability import Durability
from katka.transactions.coordinator import (
    Fencing,
    ProducerIdAndEpoch,
    TransactionCoordinator,
)
from katka.transactions.state import TopicPartition

log = logging.getLogger("katka.transactions")

GetLog = Callable[[str, int], PartitionLog]


class TransactionService:
    def __init__(
        self,
        coordinator: TransactionCoordinator,
        state_log: PartitionLog,
        get_log: GetLog,
        durability: Durability,
    ) -> None:
        self.coordinator = coordinator
        self._state_log = state_log
        self._get_log = get_log
        self._durability = durability
        self._completing: dict[str, asyncio.Future[None]] = {}

    async def _make_durable(self, logs: list[PartitionLog]) -> None:
        """As the flush policy says (storage/durability.py): fsync under `--fsync always` or a
        due flush.messages / flush.ms, else the OS has the bytes already."""
        await self._durability.after_append(logs)

    async def state_log_durable(self) -> None:
        await self._make_durable([self._state_log])

    async def init_producer_id(
        self,
        transactional_id: str,
        transaction_timeout_ms: int,
        expected: ProducerIdAndEpoch | None,
    ) -> ProducerIdAndEpoch:
        outcome = self.coordinator.init_producer_id(
            transactional_id, transaction_timeout_ms, expected
        )
        if isinstance(outcome, Fencing):
            # Kafka answers CONCURRENT_TRANSACTIONS and lets the client retry; on one node
            # the abort completes here, so the retry is done for the client.
            await self._complete_shielded(outcome.transactional_id)
            outcome = self.coordinator.init_producer_id(
                transactional_id, transaction_timeout_ms, expected
            )
            if isinstance(outcome, Fencing):  # another producer opened a transaction meanwhile
                raise KafkaError(ErrorCode.concurrent_transactions, "fencing in progress")
        await self.state_log_durable()
        return outcome

    async def end_transaction(
        self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool
    ) -> None:
        if self.coordinator.prepare_end(transactional_id, producer_id, producer_epoch, commit):
            await self._complete_shielded(transactional_id)

    async def _complete_shielded(self, transactional_id: str) -> None:
        task = self._completing.get(transactional_id)
        if task is None:
            task = asyncio.ensure_future(self.complete(transactional_id))
            self._completing[transactional_id] = task
            task.add_done_callback(lambda _: self._completing.pop(transactional_id, None))
        await asyncio.shield(task)

    async def complete(self, transactional_id: str) -> None:
        """Phase two, after the Prepare record is durable."""
        await self.state_log_durable()
        partitions = self.coordinator.transactions[transactional_id].sorted_partitions()
        self.coordinator.complete_end(transactional_id)
        await self._make_durable([self._state_log, *self._existing_logs(partitions)])

    def _existing_logs(self, partitions: list[TopicPartition]) -> list[PartitionLog]:
        logs = []
        for topic, partition in partitions:
            try:
                logs.append(self._get_log(topic, partition))
            except KafkaError:
                continue
        return logs

    async def complete_pending(self) -> None:
        """Finish the transactions a previous run left between prepare and complete."""
        for transactional_id in self.coordinator.pending_completions():
            if transactional_id in self._completing:
                continue  # a request is completing it right now
            log.info("completing transaction %r left between the phases", transactional_id)
            await self._complete_shielded(transactional_id)

    async def abort_timed_out(self) -> int:
        expired = self.coordinator.prepare_timed_out_aborts()
        for transactional_id in expired:
            await self._complete_shielded(transactional_id)
        return len(expired)

    async def run(self) -> None:
        """Start-up completion, then the periodic check (timeouts, retried completions)."""
        await self.complete_pending()
        interval_s = self.coordinator.config.abort_timed_out_interval_ms / 1000
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.complete_pending()
                await self.abort_timed_out()
                if self.coordinator.expire_transactional_ids():
                    await self.state_log_durable()
            except Exception:
                log.exception("completing or aborting transactions failed")
