"""Transaction markers: the control batches that end a transaction in a partition (KIP-98).

A marker is a v2 batch with the transactional and control attribute bits set, the producer id
and epoch of the transaction it ends, no sequence, and exactly one record:
    key   = version i16 (0), type i16 (0: ABORT, 1: COMMIT)        (Kafka's ControlRecordType)
    value = version i16 (0), coordinator_epoch i32                 (Kafka's EndTxnMarker)
Consumers recognise it by the control bit and never hand it to the application.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from katka.errors import ErrorCode, KafkaError
from katka.protocol.records import build_batch, decode_batch

CONTROL_ABORT = 0
CONTROL_COMMIT = 1
CONTROL_RECORD_VERSION = 0
END_TXN_MARKER_VERSION = 0

_KEY = struct.Struct(">hh")
_VALUE = struct.Struct(">hi")


class TransactionMarker(NamedTuple):
    commit: bool
    coordinator_epoch: int


def build_marker_batch(
    producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool, timestamp_ms: int
) -> bytes:
    key = _KEY.pack(CONTROL_RECORD_VERSION, CONTROL_COMMIT if commit else CONTROL_ABORT)
    value = _VALUE.pack(END_TXN_MARKER_VERSION, coordinator_epoch)
    return build_batch(
        [(key, value, (), timestamp_ms)],
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        transactional=True,
        control=True,
    )


def read_marker(batch: bytes | bytearray | memoryview) -> TransactionMarker:
    """The marker a stored control batch holds; CORRUPT_MESSAGE when it holds none."""
    records = decode_batch(batch)
    if not records or records[0].key is None or len(records[0].key) < _KEY.size:
        raise KafkaError(ErrorCode.corrupt_message, "control batch without a control record")
    _version, control_type = _KEY.unpack_from(records[0].key)
    if control_type not in (CONTROL_ABORT, CONTROL_COMMIT):
        raise KafkaError(ErrorCode.corrupt_message, f"unknown control record type {control_type}")
    coordinator_epoch = -1
    value = records[0].value
    if value is not None and len(value) >= _VALUE.size:
        _value_version, coordinator_epoch = _VALUE.unpack_from(value)
    return TransactionMarker(control_type == CONTROL_COMMIT, coordinator_epoch)
