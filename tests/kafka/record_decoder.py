"""A decoder of Kafka's `__consumer_offsets` records, driven by Kafka's own schemas.

Independent of katka's encoder (katka/coordinator/record_schemas.py): the schemas come from
record_schemas_4.4.0.json, which DumpRecordSchemas.java prints from Kafka 4.4's generated
classes (test_kafka_schemas.py checks the file against the jars), in the type vocabulary of
Kafka's `protocol.types` (INT32, COMPACT_STRING, arrays, structs, tagged fields).

`decode_record` returns the record type's name, the key and value as dicts, and the byte span
of every field (a path such as "members.0.member_id"), so differential tests can compare two
records byte for byte outside the fields that legitimately differ.
"""

from __future__ import annotations

import json
import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMAS_FILE = Path(__file__).with_name("record_schemas_4.4.0.json")
RECORD_TYPES: dict[int, dict[str, Any]] = {
    int(k): v for k, v in json.loads(SCHEMAS_FILE.read_text()).items()
}

_FIXED = {"INT8": ">b", "INT16": ">h", "INT32": ">i", "INT64": ">q"}


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        assert n >= 0 and self.pos + n <= len(self.data), f"truncated at {self.pos} (+{n})"
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def fixed(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def varint(self) -> int:
        value = shift = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7


@dataclass
class Decoded:
    record: str
    key_version: int
    key: dict[str, Any]
    value_version: int | None
    value: dict[str, Any] | None
    key_spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    value_spans: dict[str, tuple[int, int]] = field(default_factory=dict)


def _read(r: Reader, t: Any, path: str, spans: dict[str, tuple[int, int]]) -> Any:
    start = r.pos
    value = _read_inner(r, t, path, spans)
    spans[path] = (start, r.pos)
    return value


def _read_inner(r: Reader, t: Any, path: str, spans: dict[str, tuple[int, int]]) -> Any:
    if isinstance(t, str):
        if t in _FIXED:
            return r.fixed(_FIXED[t])
        if t == "UUID":
            return uuid.UUID(bytes=r.take(16))
        compact = t.startswith("COMPACT_")
        base = t.removeprefix("COMPACT_")
        nullable = base.startswith("NULLABLE_")
        base = base.removeprefix("NULLABLE_")
        if compact:
            length = r.varint() - 1
        else:
            length = r.fixed(">h" if base == "STRING" else ">i")
        if length < 0:
            assert nullable, f"{path}: null in a non-nullable {t}"
            return None
        raw = r.take(length)
        return raw.decode("utf-8") if base == "STRING" else raw
    if "array" in t:
        count = r.varint() - 1 if t["compact"] else r.fixed(">i")
        if count < 0:
            assert t["nullable"], f"{path}: null array"
            return None
        return [_read(r, t["array"], f"{path}.{i}", spans) for i in range(count)]
    if "struct" in t:
        if t.get("nullable"):
            # Kafka's presence marker of a nullable struct: uvarint 0/1 (flexible versions).
            if r.varint() == 0:
                return None
        out: dict[str, Any] = {}
        for f in t["struct"]:
            name, ftype = f["name"], f["type"]
            prefix = f"{path}.{name}" if path else name
            if isinstance(ftype, dict) and "tagged" in ftype:
                for _ in range(r.varint()):
                    tag, size = r.varint(), r.varint()
                    body_start = r.pos
                    known = ftype["tagged"].get(str(tag))
                    if known is None:
                        r.take(size)
                        continue
                    tag_path = f"{path}.{known['name']}" if path else known["name"]
                    out[known["name"]] = _read(r, known["type"], tag_path, spans)
                    assert r.pos == body_start + size, f"{tag_path}: tagged field size"
                continue
            out[name] = _read(r, ftype, prefix, spans)
        return out
    raise AssertionError(f"unknown type {t!r}")


def decode_record(key: bytes, value: bytes | None) -> Decoded:
    """Decode one record; asserts that every byte of key and value is consumed."""
    r = Reader(key)
    record_type = r.fixed(">h")
    entry = RECORD_TYPES[record_type]
    key_spans: dict[str, tuple[int, int]] = {}
    key_schema = entry["key"]["versions"]["0"]
    decoded_key = _read(r, key_schema, "", key_spans)
    assert r.pos == len(key), f"{entry['record']} key: {len(key) - r.pos} trailing bytes"
    if value is None:
        return Decoded(entry["record"], record_type, decoded_key, None, None, key_spans)
    r = Reader(value)
    version = r.fixed(">h")
    schema = entry["value"]["versions"][str(version)]
    value_spans: dict[str, tuple[int, int]] = {}
    decoded_value = _read(r, schema, "", value_spans)
    assert r.pos == len(value), f"{entry['record']} value: {len(value) - r.pos} trailing bytes"
    return Decoded(
        entry["record"], record_type, decoded_key, version, decoded_value, key_spans, value_spans
    )
