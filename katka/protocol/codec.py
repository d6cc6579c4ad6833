"""The only user of kio.serial: request decoding and response encoding, header versions included.

The fixed part of every request header (api key, api version, correlation id) is read before
the schema is chosen, so an unknown key or version can still be answered or refused by
correlation id.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from kio.index import load_request_schema, load_response_schema
from kio.schema.index import api_key_map
from kio.serial import entity_reader, entity_writer
from kio.static.protocol import Entity

from katka.protocol import produce_codec
from katka.protocol.bounds import BoundsError, check_bounds, read_unsigned_varint
from katka.protocol.fetch_bounds import VERSIONS as FETCH_BOUNDS_VERSIONS
from katka.protocol.fetch_bounds import check_fetch_bounds
from katka.protocol.fetch_response import FIRST_VERSION as FIRST_FAST_FETCH_VERSION
from katka.protocol.fetch_response import encode_fetch_response
from katka.protocol.metadata_response import FIRST_VERSION as FIRST_FAST_METADATA
from katka.protocol.metadata_response import LAST_VERSION as LAST_FAST_METADATA
from katka.protocol.metadata_response import encode_metadata_response
from katka.protocol.old_version_keys import OLD_VERSION_KEYS, is_old_entity

API_VERSIONS_KEY = 18
METADATA_KEY = 3
FETCH_KEY = 1
_FIXED_HEADER = struct.Struct(">hhi")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class DecodeError(Exception):
    """The request bytes do not match the schema of the api key and version they claim."""


# NamedTuples, not frozen dataclasses: one of each per request, and a frozen dataclass's
# __init__ sets every field through object.__setattr__.
class RequestHeader(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


class FixedHeader(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int


def read_fixed_header(frame: bytes) -> FixedHeader:
    if len(frame) < _FIXED_HEADER.size:
        raise DecodeError("frame shorter than a request header")
    return FixedHeader(*_FIXED_HEADER.unpack_from(frame, 0))


def has_schema(api_key: int, api_version: int) -> bool:
    if (api_key, api_version) in OLD_VERSION_KEYS:
        return True
    try:
        load_request_schema(api_key, api_version)
    except Exception:
        return False
    return True


def request_schema(api_key: int, api_version: int) -> Any:
    """The request entity class: kio's, or old_versions.py's for versions kio lacks."""
    if (api_key, api_version) in OLD_VERSION_KEYS:
        from katka.protocol import old_versions

        return old_versions.request_class(api_key, api_version)
    return load_request_schema(api_key, api_version)


@cache
def _request_reader(api_key: int, api_version: int) -> tuple[Callable[..., Any], bool, type[Any]]:
    schema = load_request_schema(api_key, api_version)
    flexible_header = schema.__header_schema__.__version__ >= 2
    return entity_reader(schema), flexible_header, schema


@cache
def _response_writer(api_key: int, api_version: int) -> tuple[Callable[..., Any], bool]:
    schema = load_response_schema(api_key, api_version)
    flexible_header = schema.__header_schema__.__version__ >= 1
    return entity_writer(schema), flexible_header


def _skip_tagged_fields(frame: bytes, position: int) -> int:
    try:
        count, position = read_unsigned_varint(frame, position)
        for _ in range(count):
            _tag, position = read_unsigned_varint(frame, position)
            size, position = read_unsigned_varint(frame, position)
            position += size
            if position > len(frame):
                raise DecodeError("tagged field runs past the end of the request header")
    except BoundsError as error:
        raise DecodeError(f"bad request header: {error}") from None
    return position


def decode_request(frame: bytes, fixed: FixedHeader) -> tuple[RequestHeader, Entity]:
    """Decode the header and body of a request whose api key and version have a schema (kio's,
    or old_versions.py's for versions kio does not generate)."""
    old = (fixed.api_key, fixed.api_version) in OLD_VERSION_KEYS
    if old:
        flexible_header = False
    else:
        reader, flexible_header, schema = _request_reader(fixed.api_key, fixed.api_version)
    position = _FIXED_HEADER.size
    if len(frame) < position + 2:
        raise DecodeError("truncated client id")
    (client_id_length,) = _I16.unpack_from(frame, position)
    position += 2
    client_id: str | None = None
    if client_id_length >= 0:
        end = position + client_id_length
        if end > len(frame):
            raise DecodeError("truncated client id")
        client_id = frame[position:end].decode("utf-8", errors="replace")
        position = end
    if flexible_header:
        position = _skip_tagged_fields(frame, position)
    header = RequestHeader(fixed.api_key, fixed.api_version, fixed.correlation_id, client_id)
    if old:
        from katka.protocol import old_versions
        from katka.protocol.message_schema import SchemaError

        try:
            return header, old_versions.decode_request_body(
                fixed.api_key, fixed.api_version, frame, position
            )
        except SchemaError as error:
            raise DecodeError(
                f"cannot decode {api_key_map.get(fixed.api_key)} v{fixed.api_version}: {error}"
            ) from None
    try:
        # Before kio: its native reader reserves an array's room from the claimed count, and a
        # failed allocation aborts the process (see bounds.py). Produce's and Fetch's walks are
        # by hand.
        if fixed.api_key == produce_codec.API_KEY and fixed.api_version in produce_codec.VERSIONS:
            produce_codec.check_produce_bounds(frame, position, fixed.api_version)
        elif fixed.api_key == FETCH_KEY and fixed.api_version in FETCH_BOUNDS_VERSIONS:
            check_fetch_bounds(schema, frame, position, fixed.api_version)
        else:
            check_bounds(schema, frame, position)
    except BoundsError as error:
        raise DecodeError(
            f"cannot decode {api_key_map.get(fixed.api_key)} v{fixed.api_version}: {error}"
        ) from None
    try:
        body, size = reader(frame, position)
    except Exception as error:  # kio raises several types for malformed input
        raise DecodeError(
            f"cannot decode {api_key_map.get(fixed.api_key)} v{fixed.api_version}: {error!r}"
        ) from error
    return header, body


Chunk = bytes | bytearray | memoryview
LARGE_CHUNK_BYTES = 8192


class EncodedFrame:
    """A size-prefixed response frame as a list of buffers.

    kio's writers write into it like a file. Large byte strings (the record sets of a Fetch)
    are kept by reference instead of being copied into one string, so stored batches go to the
    socket as they were read (`transport.writelines`), not after three copies.
    """

    __slots__ = ("chunks", "size", "_current")

    def __init__(self) -> None:
        self._current = bytearray(4)  # the size prefix, filled in by finish()
        self.chunks: list[Chunk] = [self._current]
        self.size = 0  # payload bytes, without the size prefix

    def write(self, data: Chunk) -> int:
        length = len(data)
        if length >= LARGE_CHUNK_BYTES:
            self.chunks.append(data)
            self._current = bytearray()
            self.chunks.append(self._current)
        else:
            self._current += data
        self.size += length
        return length

    @classmethod
    def of(cls, chunks: list[Chunk], size: int) -> EncodedFrame:
        """A frame from buffers already written (the first starts with the size prefix)."""
        frame = cls.__new__(cls)
        frame.chunks = chunks
        frame.size = size
        frame._current = bytearray()
        return frame.finish()

    @classmethod
    def whole(cls, frame: bytes) -> EncodedFrame:
        """A frame already whole, its size prefix included (a remembered answer)."""
        encoded = cls.__new__(cls)
        encoded.chunks = [frame]
        encoded.size = len(frame) - 4
        encoded._current = bytearray()
        return encoded

    def finish(self) -> EncodedFrame:
        _I32.pack_into(self.chunks[0], 0, self.size)
        if not self.chunks[-1]:
            self.chunks.pop()
        return self

    def payload(self) -> bytes:
        """The frame without its size prefix (for tests and tools)."""
        return b"".join(self.chunks)[4:]


def encode_response(
    api_key: int, api_version: int, correlation_id: int, response: Entity
) -> EncodedFrame:
    """The whole frame: size, response header (v0 or v1 as the schema says), then the body."""
    if api_key == METADATA_KEY and FIRST_FAST_METADATA <= api_version <= LAST_FAST_METADATA:
        return EncodedFrame.of(*encode_metadata_response(api_version, correlation_id, response))
    if api_key == produce_codec.API_KEY and api_version in produce_codec.VERSIONS:
        produced = produce_codec.encode_produce_response(api_version, correlation_id, response)
        if produced is not None:
            return EncodedFrame.of(*produced)
    if api_key == FETCH_KEY and api_version >= FIRST_FAST_FETCH_VERSION:  # never an old version
        fast = encode_fetch_response(api_version, correlation_id, response)
        if fast is not None:
            return EncodedFrame.of(*fast)
    if is_old_entity(response):
        from katka.protocol import old_versions

        frame = EncodedFrame()
        frame.write(_I32.pack(correlation_id))
        frame.write(old_versions.encode_body(api_key, api_version, response))
        return frame.finish()
    writer, flexible_header = _response_writer(api_key, api_version)
    frame = EncodedFrame()
    frame.write(_I32.pack(correlation_id))
    if flexible_header:
        frame.write(b"\x00")  # no tagged fields in the response header
    writer(frame, response)
    return frame.finish()
