"""`__transaction_state` records in Kafka's format (TransactionLogKey v0, TransactionLogValue v0),
so Kafka's tools can read the log katka writes.

Key (int16 version 0 | transactional_id str16). Value, version 0, big-endian:
  int16 0 | producer_id int64 | producer_epoch int16 | transaction_timeout_ms int32
  | transaction_status int8 | partitions: int32 count (-1 null) of
      (topic str16 | partition ids: int32 count, int32...)
  | last_update_timestamp_ms int64 | start_timestamp_ms int64
A None value (tombstone) removes the transactional id (Kafka writes one for expired ids).
"""

from __future__ import annotations

import struct

from katka.errors import ErrorCode, KafkaError
from katka.transactions.state import TransactionMetadata, TransactionState

KEY_VERSION = 0
VALUE_VERSION = 0

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_HEAD = struct.Struct(">hqhib")  # version, producer id, epoch, timeout, status
_TAIL = struct.Struct(">qq")

Record = tuple[bytes, bytes | None]


def _str16(value: str) -> bytes:
    data = value.encode()
    return _I16.pack(len(data)) + data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def take(self, layout: struct.Struct) -> tuple[int, ...]:
        if self.position + layout.size > len(self.data):
            raise KafkaError(ErrorCode.corrupt_message, "truncated transaction log record")
        values = layout.unpack_from(self.data, self.position)
        self.position += layout.size
        return values

    def str16(self) -> str:
        (length,) = self.take(_I16)
        end = self.position + length
        if length < 0 or end > len(self.data):
            raise KafkaError(ErrorCode.corrupt_message, "truncated transaction log string")
        value = self.data[self.position : end].decode()
        self.position = end
        return value


def encode_key(transactional_id: str) -> bytes:
    return _I16.pack(KEY_VERSION) + _str16(transactional_id)


def decode_key(key: bytes) -> str:
    reader = _Reader(key)
    (version,) = reader.take(_I16)
    if version != KEY_VERSION:
        raise KafkaError(ErrorCode.corrupt_message, f"unknown transaction log key {version}")
    return reader.str16()


def encode_value(metadata: TransactionMetadata) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in metadata.sorted_partitions():
        by_topic.setdefault(topic, []).append(partition)
    parts = [
        _HEAD.pack(
            VALUE_VERSION,
            metadata.producer_id,
            metadata.producer_epoch,
            metadata.transaction_timeout_ms,
            metadata.state.value,
        ),
        _I32.pack(len(by_topic)),
    ]
    for topic, partitions in by_topic.items():
        parts.append(_str16(topic))
        parts.append(_I32.pack(len(partitions)))
        parts.extend(_I32.pack(partition) for partition in partitions)
    parts.append(_TAIL.pack(metadata.last_update_ms, metadata.transaction_start_ms))
    return b"".join(parts)


def decode_value(transactional_id: str, value: bytes) -> TransactionMetadata:
    reader = _Reader(value)
    version, producer_id, producer_epoch, timeout_ms, status = reader.take(_HEAD)
    if version != VALUE_VERSION:  # v1 (flexible, tagged fields) is not written by katka
        raise KafkaError(ErrorCode.corrupt_message, f"unknown transaction log value {version}")
    try:
        state = TransactionState(status)
    except ValueError:
        raise KafkaError(
            ErrorCode.corrupt_message, f"unknown transaction status {status}"
        ) from None
    partitions: set[tuple[str, int]] = set()
    (topic_count,) = reader.take(_I32)
    for _ in range(max(topic_count, 0)):
        topic = reader.str16()
        (count,) = reader.take(_I32)
        for _ in range(max(count, 0)):
            (partition,) = reader.take(_I32)
            partitions.add((topic, partition))
    last_update_ms, start_ms = reader.take(_TAIL)
    return TransactionMetadata(
        transactional_id=transactional_id,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        transaction_timeout_ms=timeout_ms,
        state=state,
        partitions=partitions,
        transaction_start_ms=start_ms,
        last_update_ms=last_update_ms,
    )


def metadata_record(metadata: TransactionMetadata) -> Record:
    return encode_key(metadata.transactional_id), encode_value(metadata)
