"""Kafka's message schemas as data, and one codec that reads and writes any of them.

Kafka describes every on-disk record of its internal topics (__consumer_offsets,
__transaction_state) in the same JSON schema language as its requests: fields with a type, the
versions that have them, the versions where they may be null, and, in flexible versions, tagged
fields written only when they differ from their default. kio generates types for requests only, so
the record schemas are written here as `Message`/`Field` tables with Kafka's field names and
versions, and `encode`/`decode` interpret them: a schema change is a table change, never new byte
twiddling.

Values are plain dicts keyed by Kafka's snake_case field names (as its Schema and JsonConverter
name them); a missing field takes the field's default, struct arrays are lists of dicts.
Supported types: bool, int8/16/32/64, uuid, string, bytes, arrays of those or of structs, and a
struct as a (tagged) field.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from katka.protocol.varint import encode_unsigned_varint

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_INTS = {"int8": _I8, "int16": _I16, "int32": _I32, "int64": _I64}
_ZERO_UUID = uuid.UUID(int=0)


class SchemaError(ValueError):
    """Bytes that do not match the schema and version they claim."""


@dataclass(frozen=True, slots=True)
class Versions:
    """A version range as Kafka writes it: "0+", "3", "1-2", "none"."""

    low: int
    high: int  # inclusive; a large number for "N+"

    @classmethod
    def parse(cls, text: str) -> Versions:
        if text == "none":
            return cls(1, 0)
        if text.endswith("+"):
            return cls(int(text[:-1]), 0x7FFF)
        low, _, high = text.partition("-")
        return cls(int(low), int(high or low))

    def __contains__(self, version: object) -> bool:
        return isinstance(version, int) and self.low <= version <= self.high


@dataclass(frozen=True)
class Field:
    """One field. `type` is a primitive name, "[]" + primitive, "[]" (struct array) or "struct"."""

    name: str
    type: str
    versions: str = "0+"
    nullable_versions: str = "none"
    tag: int | None = None
    tagged_versions: str = "none"
    default: Any = None
    fields: tuple[Field, ...] = ()
    _versions: Versions = field(init=False, repr=False, compare=False)
    _nullable: Versions = field(init=False, repr=False, compare=False)
    _tagged: Versions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parsed once: the codec asks these for every field of every record.
        object.__setattr__(self, "_versions", Versions.parse(self.versions))
        object.__setattr__(self, "_nullable", Versions.parse(self.nullable_versions))
        object.__setattr__(self, "_tagged", Versions.parse(self.tagged_versions))

    def present_in(self, version: int) -> bool:
        return version in self._versions

    def nullable_in(self, version: int) -> bool:
        return version in self._nullable

    def tagged_in(self, version: int) -> bool:
        return self.tag is not None and version in self._tagged

    def default_value(self) -> Any:
        if self.default is not None:
            return self.default
        if self.type in _INTS:
            return 0
        if self.type == "bool":
            return False
        if self.type == "string":
            return ""
        if self.type == "bytes":
            return b""
        if self.type == "uuid":
            return _ZERO_UUID
        if self.type.startswith("[]"):
            return []
        if self.type == "struct":
            return {f.name: f.default_value() for f in self.fields}
        return None


@dataclass(frozen=True)
class Message:
    name: str
    valid_versions: str
    flexible_versions: str
    fields: tuple[Field, ...] = ()
    _valid: Versions = field(init=False, repr=False, compare=False)
    _flexible: Versions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_valid", Versions.parse(self.valid_versions))
        object.__setattr__(self, "_flexible", Versions.parse(self.flexible_versions))

    def flexible(self, version: int) -> bool:
        return version in self._flexible

    def check_version(self, version: int) -> None:
        if version not in self._valid:
            raise SchemaError(f"{self.name} has no version {version}")


# --- writing ------------------------------------------------------------------------------


def _write_length(out: bytearray, length: int, flexible: bool, wide: bool) -> None:
    """A length prefix: compact uvarint(n+1) when flexible, else int16 (strings) or int32."""
    if flexible:
        out += encode_unsigned_varint(length + 1)
    elif wide:
        out += _I32.pack(length)
    else:
        out += _I16.pack(length)


def _write_value(
    out: bytearray, f: Field, type_: str, value: Any, version: int, flex: bool
) -> None:
    if type_ in _INTS:
        out += _INTS[type_].pack(value)
    elif type_ == "bool":
        out += b"\x01" if value else b"\x00"
    elif type_ == "uuid":
        out += value.bytes
    elif type_ in ("string", "bytes"):
        if value is None:
            if not f.nullable_in(version):
                raise SchemaError(f"{f.name} is not nullable in version {version}")
            _write_length(out, -1, flex, type_ == "bytes")
            return
        raw = value.encode("utf-8") if type_ == "string" else bytes(value)
        _write_length(out, len(raw), flex, type_ == "bytes")
        out += raw
    elif type_.startswith("[]"):
        if value is None:
            if not f.nullable_in(version):
                raise SchemaError(f"{f.name} is not nullable in version {version}")
            _write_length(out, -1, flex, True)
            return
        _write_length(out, len(value), flex, True)
        element = type_[2:]
        for item in value:
            if element:
                _write_value(out, f, element, item, version, flex)
            else:
                _write_struct(out, f.fields, item, version, flex)
    elif type_ == "struct":
        if f.nullable_in(version):
            # A presence marker: uvarint 0/1 in flexible versions, int8 -1/1 before.
            present = value is not None
            out += encode_unsigned_varint(int(present)) if flex else _I8.pack(1 if present else -1)
            if not present:
                return
        elif value is None:
            raise SchemaError(f"{f.name} is not nullable in version {version}")
        _write_struct(out, f.fields, value, version, flex)
    else:
        raise SchemaError(f"unknown type {type_}")


# The fields of a struct present in one version: (field, default, tagged), computed once per
# (fields, version, flexible) because every record of the hot offset-commit path asks for them.
_Plan = tuple[tuple[Field, Any, bool], ...]
_PLANS: dict[tuple[int, int, bool], tuple[tuple[Field, ...], _Plan]] = {}


def _plan(fields: tuple[Field, ...], version: int, flex: bool) -> _Plan:
    key = (id(fields), version, flex)
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is fields:
        return cached[1]
    plan = tuple(
        (f, f.default_value(), flex and f.tagged_in(version))
        for f in fields
        if f.present_in(version)
    )
    _PLANS[key] = (fields, plan)  # holding `fields` keeps its id from being reused
    return plan


def _write_struct(
    out: bytearray, fields: tuple[Field, ...], values: dict[str, Any], version: int, flex: bool
) -> None:
    tagged: list[tuple[int, bytes]] = []
    for f, default, is_tagged in _plan(fields, version, flex):
        value = values.get(f.name, default)
        if is_tagged:
            if value != default:
                tagged_body = bytearray()
                _write_value(tagged_body, f, f.type, value, version, flex)
                tagged.append((f.tag or 0, bytes(tagged_body)))
            continue
        _write_value(out, f, f.type, value, version, flex)
    if flex:
        out += encode_unsigned_varint(len(tagged))
        for tag, body in sorted(tagged):
            out += encode_unsigned_varint(tag) + encode_unsigned_varint(len(body)) + body


# --- flat structs -------------------------------------------------------------------------
# A non-flexible version made of integers and non-null strings only (offset commit keys and
# values, group keys: the records of every OffsetCommit) is read and written as runs of
# integers packed by one struct.Struct each, between the strings: a few calls per record
# instead of a few per field.

_FlatRun = tuple[tuple[str, ...], struct.Struct] | str  # a run of integers, or a string's name
_FLAT: dict[tuple[int, int], tuple[Message, tuple[_FlatRun, ...] | None]] = {}
_INT_CODES = {"int8": "b", "int16": "h", "int32": "i", "int64": "q"}


def _flat(message: Message, version: int) -> tuple[_FlatRun, ...] | None:
    key = (id(message), version)
    cached = _FLAT.get(key)
    if cached is not None and cached[0] is message:
        return cached[1]
    runs: list[_FlatRun] | None = None if message.flexible(version) else []
    names: list[str] = []
    codes = ""
    for f in message.fields if runs is not None else ():
        if not f.present_in(version):
            continue
        if f.type in _INT_CODES:
            names.append(f.name)
            codes += _INT_CODES[f.type]
        elif f.type == "string" and not f.nullable_in(version):
            if names:
                runs.append((tuple(names), struct.Struct(">" + codes)))  # type: ignore[union-attr]
                names, codes = [], ""
            runs.append(f.name)  # type: ignore[union-attr]
        else:
            runs = None
            break
    if runs is not None and names:
        runs.append((tuple(names), struct.Struct(">" + codes)))
    result = None if runs is None else tuple(runs)
    _FLAT[key] = (message, result)
    return result


def _encode_flat(runs: tuple[_FlatRun, ...], values: dict[str, Any]) -> bytes:
    parts = []
    for run in runs:
        if isinstance(run, str):
            raw = values[run].encode("utf-8")
            parts.append(_I16.pack(len(raw)))
            parts.append(raw)
        else:
            names, packer = run
            parts.append(packer.pack(*(values[name] for name in names)))
    return b"".join(parts)


def _decode_flat(runs: tuple[_FlatRun, ...], data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    values: dict[str, Any] = {}
    for run in runs:
        if isinstance(run, str):
            (size,) = _I16.unpack_from(data, pos)
            end = pos + 2 + size
            if size < 0 or end > len(data):
                raise SchemaError(f"{run}: truncated or null string")
            values[run] = data[pos + 2 : end].decode("utf-8")
            pos = end
        else:
            names, packer = run
            values.update(zip(names, packer.unpack_from(data, pos), strict=True))
            pos += packer.size
    return values, pos


def encode(message: Message, version: int, values: dict[str, Any]) -> bytes:
    """The fields of `values` in `message`'s layout for `version` (no version prefix)."""
    message.check_version(version)
    runs = _flat(message, version)
    if runs is not None:
        try:
            return _encode_flat(runs, values)
        except KeyError:
            pass  # a field left to its default: the general path fills it in
    out = bytearray()
    _write_struct(out, message.fields, values, version, message.flexible(version))
    return bytes(out)


# --- reading ------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise SchemaError("truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: struct.Struct) -> int:
        (value,) = fmt.unpack(self.take(fmt.size))
        return int(value)

    def uvarint(self) -> int:
        result = shift = 0
        while True:
            byte = self.take(1)[0]
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise SchemaError("varint too long")

    def length(self, flex: bool, wide: bool) -> int:
        if flex:
            return self.uvarint() - 1
        return self.unpack(_I32 if wide else _I16)


def _read_value(r: _Reader, f: Field, type_: str, version: int, flex: bool) -> Any:
    if type_ in _INTS:
        return r.unpack(_INTS[type_])
    if type_ == "bool":
        return r.take(1) != b"\x00"
    if type_ == "uuid":
        return uuid.UUID(bytes=r.take(16))
    if type_ in ("string", "bytes"):
        size = r.length(flex, type_ == "bytes")
        if size < 0:
            if not f.nullable_in(version):
                raise SchemaError(f"{f.name} is null but not nullable in version {version}")
            return None
        raw = r.take(size)
        if type_ == "bytes":
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SchemaError(f"{f.name} is not UTF-8") from exc
    if type_.startswith("[]"):
        count = r.length(flex, True)
        if count < 0:
            if not f.nullable_in(version):
                raise SchemaError(f"{f.name} is null but not nullable in version {version}")
            return None
        if count > len(r.data) - r.pos:  # every element takes at least one byte
            raise SchemaError(f"{f.name}: {count} elements cannot fit")
        element = type_[2:]
        if element:
            return [_read_value(r, f, element, version, flex) for _ in range(count)]
        return [_read_struct(r, f.fields, version, flex) for _ in range(count)]
    if type_ == "struct":
        if f.nullable_in(version):
            present = r.uvarint() > 0 if flex else r.unpack(_I8) >= 0
            if not present:
                return None
        return _read_struct(r, f.fields, version, flex)
    raise SchemaError(f"unknown type {type_}")


def _read_struct(r: _Reader, fields: tuple[Field, ...], version: int, flex: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    by_tag: dict[int, Field] = {}
    for f, default, is_tagged in _plan(fields, version, flex):
        if is_tagged:
            by_tag[f.tag or 0] = f
            values[f.name] = default
            continue
        values[f.name] = _read_value(r, f, f.type, version, flex)
    if flex:
        for _ in range(r.uvarint()):
            tag, size = r.uvarint(), r.uvarint()
            body = r.take(size)
            if tag in by_tag:  # unknown tags are skipped, as Kafka does
                f = by_tag[tag]
                inner = _Reader(body, 0)
                values[f.name] = _read_value(inner, f, f.type, version, flex)
    return values


def decode(message: Message, version: int, data: bytes, pos: int = 0) -> dict[str, Any]:
    """The fields of `message` at `version` from `data[pos:]`, which they must fill exactly."""
    message.check_version(version)
    runs = _flat(message, version)
    if runs is not None:
        try:
            values, end = _decode_flat(runs, data, pos)
        except (struct.error, UnicodeDecodeError) as exc:
            raise SchemaError(f"{message.name} v{version}: {exc}") from exc
    else:
        reader = _Reader(data, pos)
        values = _read_struct(reader, message.fields, version, message.flexible(version))
        end = reader.pos
    if end != len(data):
        raise SchemaError(f"{message.name} v{version}: {len(data) - end} trailing bytes")
    return values
