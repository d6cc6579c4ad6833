"""Batch compression codecs (Kafka's attribute bits 0-2), pure: no I/O.

Snappy: librdkafka writes raw snappy blocks, the Java client writes xerial framing; decoding
accepts both and compressing writes raw blocks. LZ4 is the LZ4 frame format (written with
independent blocks, the only kind Kafka's Java client and broker read).
"""

from __future__ import annotations

import struct

import cramjam

from katka.errors import ErrorCode, KafkaError

COMPRESSION_NONE = 0
COMPRESSION_GZIP = 1
COMPRESSION_SNAPPY = 2
COMPRESSION_LZ4 = 3
COMPRESSION_ZSTD = 4

XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER_SIZE = 16  # magic, version i32, compatible version i32

_I32 = struct.Struct(">i")


def compress(codec: int, data: bytes) -> bytes:
    if codec == COMPRESSION_NONE:
        return data
    if codec == COMPRESSION_GZIP:
        return bytes(cramjam.gzip.compress(data))
    if codec == COMPRESSION_SNAPPY:
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == COMPRESSION_LZ4:
        # Independent blocks, no content checksum: Kafka's Java reader (KafkaLZ4BlockInputStream)
        # refuses frames of linked blocks, which is what lz4's default frame holds.
        compressor = cramjam.lz4.Compressor(content_checksum=False, block_linked=False)
        compressor.compress(data)
        return bytes(compressor.finish())
    if codec == COMPRESSION_ZSTD:
        return bytes(cramjam.zstd.compress(data))
    raise ValueError(f"unknown compression codec {codec}")


def decompress(codec: int, data: bytes | memoryview) -> bytes:
    try:
        if codec == COMPRESSION_NONE:
            return bytes(data)
        if codec == COMPRESSION_GZIP:
            return bytes(cramjam.gzip.decompress(bytes(data)))
        if codec == COMPRESSION_SNAPPY:
            return _decompress_snappy(bytes(data))
        if codec == COMPRESSION_LZ4:
            return bytes(cramjam.lz4.decompress(bytes(data)))
        if codec == COMPRESSION_ZSTD:
            return bytes(cramjam.zstd.decompress(bytes(data)))
    except cramjam.DecompressionError as exc:
        raise KafkaError(ErrorCode.corrupt_message, f"cannot decompress batch: {exc}") from exc
    raise KafkaError(ErrorCode.corrupt_message, f"unknown compression codec {codec}")


def _decompress_snappy(data: bytes) -> bytes:
    if not data.startswith(XERIAL_MAGIC):
        return bytes(cramjam.snappy.decompress_raw(data))
    out = bytearray()
    position = _XERIAL_HEADER_SIZE
    while position < len(data):
        if position + 4 > len(data):
            raise KafkaError(ErrorCode.corrupt_message, "truncated xerial snappy chunk")
        (length,) = _I32.unpack_from(data, position)
        position += 4
        if length < 0 or position + length > len(data):
            raise KafkaError(ErrorCode.corrupt_message, "truncated xerial snappy chunk")
        out += bytes(cramjam.snappy.decompress_raw(data[position : position + length]))
        position += length
    return bytes(out)


def xerial_frame(block_data: bytes, chunk_size: int = 32 * 1024) -> bytes:
    """Snappy with xerial framing, as the Java client writes it (for tests of the decoder)."""
    out = bytearray(XERIAL_MAGIC + _I32.pack(1) + _I32.pack(1))
    for start in range(0, max(len(block_data), 1), chunk_size):
        chunk = bytes(cramjam.snappy.compress_raw(block_data[start : start + chunk_size]))
        out += _I32.pack(len(chunk)) + chunk
    return bytes(out)
