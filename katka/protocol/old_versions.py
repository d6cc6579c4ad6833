"""Request versions that kio does not generate: those Kafka 4.0 dropped (KIP-896).

Clients live longer than brokers (Burrow 1.2.1's cluster module sends ListOffsets v0), so katka
serves them. Each is described in old_schemas.py as a Kafka message schema (message_schema.py)
and gets generated frozen dataclasses shaped like kio's entities (same class and field names, kio's
integer types), so handlers build their responses with `make()` as for any other version and
the codec reads and writes them through the schema table. Headers are the non-flexible ones
(request header v1, response header v0), as for every version this old.
"""

from __future__ import annotations

import dataclasses
import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from kio.static.primitive import i8, i16, i32, i64

from katka.protocol.message_schema import Field, decode, encode
from katka.protocol.old_acl_schemas import ACL_OLD_APIS
from katka.protocol.old_schemas import OLD_APIS, OldApi

_INT_TYPES: dict[str, type] = {"int8": i8, "int16": i16, "int32": i32, "int64": i64}


OLD_VERSIONS: dict[tuple[int, int], OldApi] = {
    (old.api_key, version): old for old in (*OLD_APIS, *ACL_OLD_APIS) for version in old.versions
}

# Fields kio reads as durations (Kafka's ...Ms fields of requests and responses).
_DURATIONS = frozenset({"timeout", "throttle_time", "retention_time", "max_wait"})
# Fields kio reads as a point in time, None for -1 (Produce's log_append_time).
_TIMES = frozenset({"log_append_time"})


def _python_type(field: Field, version: int, classes: dict[str, Any]) -> Any:
    if field.name in _DURATIONS:
        python_type: Any = datetime.timedelta
    elif field.name in _TIMES:
        return datetime.datetime | None
    elif field.type.startswith("[]"):
        element = field.type[2:]
        inner = _INT_TYPES.get(element, str) if element else classes[field.name]
        python_type = tuple[inner, ...]  # type: ignore[valid-type]
    elif field.type == "bool":
        python_type = bool
    elif field.type == "bytes":
        python_type = bytes
    elif field.type == "string":
        python_type = str
    else:
        python_type = _INT_TYPES[field.type]
    return python_type | None if field.nullable_in(version) else python_type


def _build(
    name: str, fields: tuple[Field, ...], version: int, names: dict[str, str], out: dict[str, Any]
) -> Any:
    present = tuple(f for f in fields if f.present_in(version))
    classes: dict[str, Any] = {}
    for f in present:
        if f.type == "[]":
            classes[f.name] = _build(names[f.name], f.fields, version, names, out)
    cls = dataclasses.make_dataclass(
        name,
        [(f.name, _python_type(f, version, classes)) for f in present],
        frozen=True,
        slots=True,
    )
    cls.__katka_fields__ = present  # type: ignore[attr-defined]
    out[name] = cls
    return cls


@cache
def entities(api_key: int, api_version: int, response: bool) -> SimpleNamespace:
    """The entity classes of one old version, by kio's names (a stand-in for kio's module)."""
    old = OLD_VERSIONS[(api_key, api_version)]
    message = old.response if response else old.request
    names = old.response_structs if response else old.request_structs
    classes: dict[str, Any] = {}
    _build(message.name, message.fields, api_version, names, classes)
    return SimpleNamespace(**classes, root=classes[message.name])


def request_class(api_key: int, api_version: int) -> Any:
    return entities(api_key, api_version, False).root


def _element_class(annotation: Any) -> Any:
    """The struct class of `tuple[X, ...]` or, for a nullable array, `tuple[X, ...] | None`."""
    if annotation.__args__[-1] is type(None):
        annotation = annotation.__args__[0]
    return annotation.__args__[0]


def _to_entity(cls: Any, values: dict[str, Any]) -> Any:
    kwargs = {}
    for f in cls.__katka_fields__:
        value = values[f.name]
        if f.type == "[]" and value is not None:
            element_cls = _element_class(cls.__dataclass_fields__[f.name].type)
            value = tuple(_to_entity(element_cls, item) for item in value)
        elif f.type.startswith("[]") and value is not None:
            value = tuple(value)
        elif f.name in _DURATIONS:
            value = datetime.timedelta(milliseconds=value)
        elif f.name in _TIMES:
            value = (
                None if value < 0 else datetime.datetime.fromtimestamp(value / 1000, datetime.UTC)
            )
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
        if f.type == "[]" and value is not None:
            value = [_to_values(item) for item in value]
        elif isinstance(value, datetime.timedelta):
            value = int(value.total_seconds() * 1000)
        elif f.name in _TIMES:
            value = -1 if value is None else int(value.timestamp() * 1000)
        values[f.name] = value
    return values


def encode_body(api_key: int, api_version: int, entity: Any, response: bool = True) -> bytes:
    old = OLD_VERSIONS[(api_key, api_version)]
    return encode(old.response if response else old.request, api_version, _to_values(entity))
