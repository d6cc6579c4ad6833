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

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from katka.api._authorize import TOPIC, TRANSACTIONAL_ID, WRITE, authorized
from katka.api._build import ZERO, _response_module, datetime_ms, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.protocol import message_sets, produce_codec
from katka.protocol.batches import (
    TRANSACTIONAL_FLAG,
    RecordValidationError,
    validate_produce_records,
    validate_produce_request,
)
from katka.protocol.produce_codec import PartitionProduced, Produced, TopicProduced
from katka.storage.base import AppendInfo, PartitionLog

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 0
VERSIONS = range(0, 12)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    version = ctx.api_version
    if version in produce_codec.VERSIONS:
        m: Any = None
        make_partition: Callable[..., Any] = PartitionProduced
        make_topic: Callable[[str, tuple[Any, ...]], Any] = TopicProduced
    else:  # v0-2: old_versions.py's entities, through make()
        m = response_module(ctx)
        make_partition = partial(_old_partition, m)
        make_topic = partial(_old_topic, m)
    now_ms = node.clock.now_ms()
    appended: list[PartitionLog] = []
    # What refuses every partition alike is decided once, not per partition.
    refusal = _request_refusal(ctx, request, node)
    topics = []
    # Every requested partition is answered exactly once, a KafkaError or OSError becoming
    # its error (api/_partitions.answer_partitions' rule, inlined: a request per record).
    for topic_data in request.topic_data:
        name = topic_data.name
        partitions = []
        for partition_data in topic_data.partition_data:
            index = partition_data.index
            try:
                if refusal is not None:
                    raise KafkaError(*refusal)
                partition_log, info = _append(ctx, node, name, partition_data, version, now_ms)
            except RecordValidationError as error:
                answer = make_partition(
                    index,
                    error.code,
                    error_message=error.message,
                    record_errors=_record_errors(version, error),
                )
            except KafkaError as error:
                answer = make_partition(index, error.code, error_message=error.message)
            except OSError as error:
                message = f"storage error: {error.strerror or error}"
                answer = make_partition(index, ErrorCode.kafka_storage_error, error_message=message)
            else:
                appended.append(partition_log)
                answer = make_partition(
                    index,
                    ErrorCode.none,
                    info.base_offset,
                    info.log_append_time_ms,
                    info.log_start_offset,
                )
            partitions.append(answer)
        topics.append(make_topic(name, tuple(partitions)))
    if appended:
        node.appends.notify([(log.topic, log.partition) for log in appended])
    if m is None:
        response: Any = Produced(tuple(topics))
    else:
        response = make(m.ProduceResponse, responses=tuple(topics), throttle_time=ZERO)
    if request.acks == 0:
        return response  # nobody waits for it: no fsync wait either
    return node.durability.reply_when_durable(appended, response)


def _append(
    ctx: RequestContext,
    node: Node,
    topic: str,
    partition_data: Any,
    version: int,
    now_ms: int,
) -> tuple[PartitionLog, AppendInfo]:
    """Validate one partition's batches and append them (raises KafkaError: the partition's
    answer)."""
    if not authorized(ctx, node, WRITE, TOPIC, topic):
        raise KafkaError(ErrorCode.topic_authorization_failed, "Topic authorization failed.")
    partition_log = node.topics.get_log_for_produce(topic, partition_data.index)
    records = partition_data.records
    if records is None:
        raise KafkaError(ErrorCode.invalid_record, "null record set")
    if version < 3:
        records = message_sets.up_convert(records)
    headers = validate_produce_records(records, partition_log.config.max_message_bytes)
    validate_produce_request(headers, version)
    for header in headers:
        if header.attributes & TRANSACTIONAL_FLAG:
            node.transactions.coordinator.validate_transactional_write(
                header.producer_id, header.producer_epoch, (topic, partition_data.index)
            )
    info = partition_log.append(records, headers, now_ms)
    if not info.duplicate:
        node.stats.produced(
            topic, partition_data.index, len(records), info.last_offset - info.base_offset + 1
        )
    return partition_log, info


def _old_partition(
    m: Any,
    index: int,
    error: ErrorCode,
    base_offset: int = -1,
    log_append_time_ms: int = -1,
    log_start_offset: int = -1,
    record_errors: tuple[Any, ...] = (),
    error_message: str | None = None,
) -> Any:
    return make(
        m.PartitionProduceResponse,
        index=index,
        error_code=error,
        base_offset=base_offset,
        log_append_time=datetime_ms(log_append_time_ms),
        log_start_offset=log_start_offset,
        record_errors=record_errors,
        error_message=error_message,
    )


def _old_topic(m: Any, name: str, partitions: tuple[Any, ...]) -> Any:
    return make(m.TopicProduceResponse, name=name, partition_responses=partitions)


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


def _record_errors(version: int, error: RecordValidationError) -> tuple[Any, ...]:
    if version < 8:  # Produce v3-7 have no record_errors
        return ()
    m = _response_module(API_KEY, version)
    return tuple(
        m.BatchIndexAndErrorMessage(batch_index=e.batch_index, batch_index_error_message=e.message)
        for e in error.record_errors
    )
