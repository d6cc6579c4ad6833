"""Request versions that kio does not generate: those Kafka 4.0 dropped (KIP-896).

Clients live longer than brokers (Burrow 1.2.1's cluster module sends ListOffsets v0), so katka
serves some of them. Each is described here as a Kafka message schema (message_schema.py) and
gets generated frozen dataclasses shaped like kio's entities (same class and field names, kio's
integer types), so handlers build their responses with `make()` as for any other version and
the codec reads and writes them through the schema table. Headers are the non-flexible ones
(request header v1, response header v0), as for every version this old.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from types import SimpleNamespace
from typing import Any

from kio.static.primitive import i8, i16, i32, i64

from katka.protocol.message_schema import Field, Message, decode, encode

_INT_TYPES: dict[str, type] = {"int8": i8, "int16": i16, "int32": i32, "int64": i64}


@dataclasses.dataclass(frozen=True)
class OldVersion:
    """One api version: its request and response schemas and the entity class names of their
    structs (the schema's own name for the top level, then one per struct-array field)."""

    request: Message
    response: Message
    request_structs: dict[str, str]
    response_structs: dict[str, str]


# ListOffsets v0 (Kafka 0.8-2.x): no isolation level, no leader epochs; a partition asks for up
# to max_num_offsets offsets before a timestamp and gets them as old_style_offsets.
LIST_OFFSETS_V0 = OldVersion(
    request=Message(
        "ListOffsetsRequest",
        "0",
        "none",
        (
            Field("replica_id", "int32"),
            Field(
                "topics",
                "[]",
                fields=(
                    Field("name", "string"),
                    Field(
                        "partitions",
                        "[]",
                        fields=(
                            Field("partition_index", "int32"),
                            Field("timestamp", "int64"),
                            Field("max_num_offsets", "int32"),
                        ),
                    ),
                ),
            ),
        ),
    ),
    response=Message(
        "ListOffsetsResponse",
        "0",
        "none",
        (
            Field(
                "topics",
                "[]",
                fields=(
                    Field("name", "string"),
                    Field(
                        "partitions",
                        "[]",
                        fields=(
                            Field("partition_index", "int32"),
                            Field("error_code", "int16"),
                            Field("old_style_offsets", "[]int64"),
                        ),
                    ),
                ),
            ),
        ),
    ),
    request_structs={"topics": "ListOffsetsTopic", "partitions": "ListOffsetsPartition"},
    response_structs={
        "topics": "ListOffsetsTopicResponse",
        "partitions": "ListOffsetsPartitionResponse",
    },
)

OLD_VERSIONS: dict[tuple[int, int], OldVersion] = {(2, 0): LIST_OFFSETS_V0}


def _python_type(field: Field, classes: dict[str, Any]) -> Any:
    if field.type.startswith("[]"):
        element = field.type[2:]
        inner = _INT_TYPES.get(element, str) if element else classes[field.name]
        return tuple[inner, ...]  # type: ignore[valid-type]
    if field.type == "string":
        return str | None if field.nullable_versions != "none" else str
    return _INT_TYPES[field.type]


def _build(name: str, fields: tuple[Field, ...], names: dict[str, str], out: dict[str, Any]) -> Any:
    classes: dict[str, Any] = {}
    for f in fields:
        if f.type == "[]":
            classes[f.name] = _build(names[f.name], f.fields, names, out)
    cls = dataclasses.make_dataclass(
        name,
        [(f.name, _python_type(f, classes)) for f in fields],
        frozen=True,
        slots=True,
    )
    cls.__katka_fields__ = fields  # type: ignore[attr-defined]
    out[name] = cls
    return cls


@cache
def entities(api_key: int, api_version: int, response: bool) -> SimpleNamespace:
    """The entity classes of one old version, by kio's names (a stand-in for kio's module)."""
    old = OLD_VERSIONS[(api_key, api_version)]
    message = old.response if response else old.request
    names = old.response_structs if response else old.request_structs
    classes: dict[str, Any] = {}
    _build(message.name, message.fields, names, classes)
    return SimpleNamespace(**classes, root=classes[message.name])


def request_class(api_key: int, api_version: int) -> Any:
    return entities(api_key, api_version, False).root


def _to_entity(cls: Any, values: dict[str, Any]) -> Any:
    kwargs = {}
    for f in cls.__katka_fields__:
        value = values[f.name]
        if f.type == "[]":
            element_cls = cls.__dataclass_fields__[f.name].type.__args__[0]
            value = tuple(_to_entity(element_cls, item) for item in value)
        elif f.type.startswith("[]"):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def decode_request_body(api_key: int, api_version: int, data: bytes, position: int) -> Any:
    old = OLD_VERSIONS[(api_key, api_version)]
    values = decode(old.request, api_version, data, position)
    return _to_entity(request_class(api_key, api_version), values)


def _to_values(entity: Any) -> dict[str, Any]:
    values = {}
    for f in entity.__katka_fields__:
        value = getattr(entity, f.name)
        if f.type == "[]":
            value = [_to_values(item) for item in value]
        values[f.name] = value
    return values


def is_old_entity(entity: Any) -> bool:
    return hasattr(type(entity), "__katka_fields__")


def encode_body(api_key: int, api_version: int, entity: Any, response: bool = True) -> bytes:
    old = OLD_VERSIONS[(api_key, api_version)]
    return encode(old.response if response else old.request, api_version, _to_values(entity))
