"""Produce (key 0), v0-11.

Each partition's batch is validated (header, CRC, counts, size; record timestamps on append,
refused records listed in record_errors from v8 as Kafka lists them), then appended; the
bytes are in the OS before the reply, so an acknowledged record survives `kill -9` of the
broker. acks=0 gets no reply at all (Kafka closes nothing, it just stays silent). With
`--fsync always` or a due flush policy the reply waits for a group-committed fsync
(storage/durability.py decides).
Transactional batches are accepted only inside an open transaction that added the partition
(the transaction coordinator says so: KIP-890 part 1 verification, done locally).
v0-2 (Kafka 4.0 dropped them) carry message formats v0/v1: protocol/message_sets.py turns the
message set into one v2 batch first, on that path only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import TOPIC, TRANSACTIONAL_ID, WRITE, authorized
from katka.api._build import ZERO, datetime_ms, make, response_module
from katka.api._partitions import answer_partitions
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.protocol import message_sets
from katka.protocol.batches import (
    RecordValidationError,
    validate_produce_records,
    validate_produce_request,
)
from katka.storage.base import PartitionLog

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 0
VERSIONS = range(0, 12)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    now_ms = node.clock.now_ms()
    appended: list[PartitionLog] = []

    def partition(
        partition_data: Any,
        error: ErrorCode,
        message: str | None = None,
        base_offset: int = -1,
        log_append_time_ms: int = -1,
        log_start_offset: int = -1,
        record_errors: tuple[Any, ...] = (),
    ) -> Any:
        return make(
            m.PartitionProduceResponse,
            index=partition_data.index,
            error_code=error,
            base_offset=base_offset,
            log_append_time=None if log_append_time_ms < 0 else datetime_ms(log_append_time_ms),
            log_start_offset=log_start_offset,
            record_errors=record_errors,
            error_message=message,
        )

    # What refuses every partition alike is decided once, not per partition.
    refusal = _request_refusal(ctx, request, node)

    def answer(topic_data: Any, partition_data: Any) -> Any:
        if refusal is not None:
            raise KafkaError(*refusal)
        if not authorized(ctx, node, WRITE, TOPIC, topic_data.name):
            raise KafkaError(ErrorCode.topic_authorization_failed, "Topic authorization failed.")
        partition_log = node.topics.get_log_for_produce(topic_data.name, partition_data.index)
        records = partition_data.records
        if records is None:
            raise KafkaError(ErrorCode.invalid_record, "null record set")
        if ctx.api_version < 3:
            records = message_sets.up_convert(records)
        headers = validate_produce_records(records, partition_log.config.max_message_bytes)
        validate_produce_request(headers, ctx.api_version)
        for header in headers:
            if header.is_transactional:
                node.transactions.coordinator.validate_transactional_write(
                    header.producer_id,
                    header.producer_epoch,
                    (topic_data.name, partition_data.index),
                )
        try:
            info = partition_log.append(records, headers, now_ms)
        except RecordValidationError as error:
            return partition(
                partition_data, error.code, error.message, record_errors=_record_errors(m, error)
            )
        appended.append(partition_log)
        if not info.duplicate:
            node.stats.produced(
                topic_data.name,
                partition_data.index,
                len(records),
                info.last_offset - info.base_offset + 1,
            )
        return partition(
            partition_data,
            ErrorCode.none,
            base_offset=info.base_offset,
            log_append_time_ms=info.log_append_time_ms,
            log_start_offset=info.log_start_offset,
        )

    topics = answer_partitions(
        request.topic_data,
        lambda topic_data: topic_data.partition_data,
        answer,
        lambda _topic, partition_data, error, message: partition(partition_data, error, message),
        lambda topic_data, partitions: make(
            m.TopicProduceResponse, name=topic_data.name, partition_responses=partitions
        ),
    )
    if appended:
        node.appends.notify((log.topic, log.partition) for log in appended)
    response = make(m.ProduceResponse, responses=topics, throttle_time=ZERO)
    if not expects_response(request):
        return response  # nobody waits for it: no fsync wait either
    return node.durability.reply_when_durable(appended, response)


def _request_refusal(ctx: RequestContext, request: Any, node: Node) -> tuple[ErrorCode, str] | None:
    """The error every partition of the request gets (bad acks, a transactional id the
    principal may not write with), or None."""
    if request.acks not in (-1, 0, 1):
        return ErrorCode.invalid_required_acks, "acks must be -1, 0 or 1"
    transactional_id = getattr(request, "transactional_id", None)
    if transactional_id and not authorized(ctx, node, WRITE, TRANSACTIONAL_ID, transactional_id):
        return ErrorCode.transactional_id_authorization_failed, ""
    return None


def expects_response(request: Any) -> bool:
    """acks=0: the producer reads no response, and the broker sends none (Kafka neither)."""
    return bool(request.acks != 0)


def _record_errors(m: Any, error: RecordValidationError) -> tuple[Any, ...]:
    if not hasattr(m, "BatchIndexAndErrorMessage"):  # Produce v3-7 have no record_errors
        return ()
    return tuple(
        m.BatchIndexAndErrorMessage(batch_index=e.batch_index, batch_index_error_message=e.message)
        for e in error.record_errors
    )
