"""How `katka consume` prints a record: kcat's --format fields and escapes, or a JSON line.

Pure functions over a Record, tested without a broker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

_ESCAPES = {"n": b"\n", "t": b"\t", "r": b"\r", "\\": b"\\", "0": b"\0"}
_FIELDS = set("kvspotTKSh%")


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


def compile_format(text: str) -> list[bytes | str]:
    """Split a format into literal bytes and field letters; raises click.BadParameter.

    Fields: %k key, %v (or %s) value, %p partition, %o offset, %T timestamp (ms), %t topic,
    %h headers (k=v,k2=v2), %K / %S key / value length (-1 for null), %% a percent sign.
    Escapes: \\n, \\t, \\r, \\0, \\\\."""
    parts: list[bytes | str] = []
    literal = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char in "%\\" and index + 1 < len(text):
            following = text[index + 1]
            if char == "\\" and following in _ESCAPES:
                literal += _ESCAPES[following]
                index += 2
                continue
            if char == "%" and following in _FIELDS:
                if following == "%":
                    literal += b"%"
                else:
                    if literal:
                        parts.append(bytes(literal))
                        literal.clear()
                    parts.append(following)
                index += 2
                continue
            if char == "%":
                raise click.BadParameter(
                    f"unknown field %{following} (known: %k %v %s %p %o %T %t %h %K %S %%)",
                    param_hint="--format",
                )
        if char == "%":
            raise click.BadParameter("a format cannot end with %", param_hint="--format")
        literal += char.encode()
        index += 1
    if literal:
        parts.append(bytes(literal))
    return parts


def render(parts: list[bytes | str], record: Record) -> bytes:
    out = bytearray()
    for part in parts:
        if isinstance(part, bytes):
            out += part
        elif part == "k":
            out += record.key or b""
        elif part in ("v", "s"):
            out += record.value or b""
        elif part == "p":
            out += str(record.partition).encode()
        elif part == "o":
            out += str(record.offset).encode()
        elif part == "T":
            out += str(record.timestamp_ms).encode()
        elif part == "t":
            out += record.topic.encode()
        elif part == "K":
            out += str(-1 if record.key is None else len(record.key)).encode()
        elif part == "S":
            out += str(-1 if record.value is None else len(record.value)).encode()
        elif part == "h":
            out += b",".join(
                name.encode() + b"=" + (value or b"") for name, value in record.headers
            )
    return bytes(out)


def record_json(record: Record) -> str:
    def text(data: bytes | None) -> str | None:
        return None if data is None else data.decode("utf-8", "backslashreplace")

    return json.dumps(
        {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "timestamp": record.timestamp_ms,
            "key": text(record.key),
            "value": text(record.value),
            "headers": [[name, text(value)] for name, value in record.headers],
        }
    )


def to_record(message: Any) -> Record:
    return Record(
        topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        timestamp_ms=message.timestamp()[1],
        key=message.key(),
        value=message.value(),
        headers=tuple(message.headers() or ()),
    )
