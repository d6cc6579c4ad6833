"""The Kafka requests behind `katka group delete-offsets`, which confluent-kafka's admin
client does not offer (OffsetDelete, key 47), sent over a plain TCP connection with kio's
schemas: FindCoordinator to the bootstrap server, then OffsetDelete to the coordinator.

Plaintext only: -X security settings (TLS, SASL) are not applied to these connections.
"""

from __future__ import annotations

import io
import itertools
import socket
import struct
from typing import Any

from katka.cli.common import CONNECT_TIMEOUT_S, CliError, Connection
from katka.cli.group.reset_plan import TopicPartitionKey

_correlation_ids = itertools.count(1)
CLIENT_ID = "katka-cli"


def send(address: tuple[str, int], request: Any, response_type: Any, timeout_s: float) -> Any:
    """One request and its response on a fresh connection."""
    from kio.serial import entity_reader, entity_writer

    correlation_id = next(_correlation_ids)
    header_type = request.__header_schema__
    header = header_type(
        request_api_key=request.__api_key__,
        request_api_version=request.__version__,
        correlation_id=correlation_id,
        client_id=CLIENT_ID,
    )
    payload = io.BytesIO()
    entity_writer(header_type)(payload, header)
    entity_writer(type(request))(payload, request)
    data = payload.getvalue()
    try:
        with socket.create_connection(address, CONNECT_TIMEOUT_S) as connection:
            connection.settimeout(timeout_s)
            connection.sendall(struct.pack(">i", len(data)) + data)
            size = struct.unpack(">i", _receive(connection, 4))[0]
            answer = _receive(connection, size)
    except OSError as error:
        raise CliError(f"{address[0]}:{address[1]}: {error.strerror or error}") from None
    response_header, header_size = entity_reader(response_type.__header_schema__)(answer, 0)
    if response_header.correlation_id != correlation_id:
        raise CliError(f"{address[0]}:{address[1]}: answered another request")
    body, _size = entity_reader(response_type)(answer, header_size)
    return body


def _receive(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise OSError("the broker closed the connection")
        chunks += chunk
    return bytes(chunks)


def error_name(code: int) -> str:
    from kio.schema.errors import ErrorCode

    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return f"error {code}"


def group_coordinator(connection: Connection, group_id: str) -> tuple[str, int]:
    from kio.schema.find_coordinator.v3 import request, response
    from kio.static.primitive import i8

    host, _, port = connection.bootstrap_servers.split(",")[0].strip().rpartition(":")
    host = host.split("://")[-1].strip("[]")
    found = send(
        (host, int(port)),
        request.FindCoordinatorRequest(key=group_id, key_type=i8(0)),
        response.FindCoordinatorResponse,
        connection.timeout_s,
    )
    if found.error_code != 0:
        raise CliError(
            f"cannot find the coordinator of '{group_id}': {error_name(found.error_code)}"
        )
    return str(found.host), int(found.port)


def delete_offsets(
    connection: Connection, group_id: str, partitions: list[TopicPartitionKey]
) -> tuple[int, dict[TopicPartitionKey, int]]:
    """OffsetDelete: the group-level error code and each partition's."""
    from kio.schema.offset_delete.v0 import request, response
    from kio.schema.types import GroupId, TopicName
    from kio.static.primitive import i32

    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    answer = send(
        group_coordinator(connection, group_id),
        request.OffsetDeleteRequest(
            group_id=GroupId(group_id),
            topics=tuple(
                request.OffsetDeleteRequestTopic(
                    name=TopicName(topic),
                    partitions=tuple(
                        request.OffsetDeleteRequestPartition(partition_index=i32(p))
                        for p in numbers
                    ),
                )
                for topic, numbers in by_topic.items()
            ),
        ),
        response.OffsetDeleteResponse,
        connection.timeout_s,
    )
    results = {
        (str(topic.name), int(p.partition_index)): int(p.error_code)
        for topic in answer.topics
        for p in topic.partitions
    }
    return int(answer.error_code), results
