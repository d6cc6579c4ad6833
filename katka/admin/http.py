"""Just enough HTTP/1.1 for a read-only JSON API: parse a request head, encode a response.

No I/O here (the server owns the sockets), so malformed input is tested with plain bytes.
Every response closes the connection: the API is polled by tools, not browsed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEAD_BYTES = 8192


class BadRequest(ValueError):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # percent-decoded
    segments: tuple[str, ...]  # the path split on "/", each segment percent-decoded
    query: dict[str, list[str]]


def parse_request_head(head: bytes) -> Request:
    """Parse `METHOD target HTTP/1.x` and headers (up to the blank line); raises BadRequest."""
    if len(head) > MAX_HEAD_BYTES:
        raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "request head is not ASCII") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, target, _version = parts
    if not target.startswith("/"):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "request target must be a path")
    if method not in ("GET", "HEAD"):
        raise BadRequest(HTTPStatus.METHOD_NOT_ALLOWED, f"method {method} not allowed (GET only)")
    for line in lines[1:]:
        if not line:
            continue
        name, separator, value = line.partition(":")
        if not separator or not name or name != name.strip():
            raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed header line")
        lowered = name.lower()
        if lowered == "content-length" and value.strip() not in ("", "0"):
            raise BadRequest(HTTPStatus.BAD_REQUEST, "request bodies are not accepted")
        if lowered == "transfer-encoding":
            raise BadRequest(HTTPStatus.BAD_REQUEST, "request bodies are not accepted")
    split = urlsplit(target)
    segments = tuple(unquote(s) for s in split.path.split("/") if s)
    return Request(method, unquote(split.path), segments, parse_qs(split.query))


def encode_response(status: HTTPStatus, body: object, head_only: bool = False) -> bytes:
    payload = json.dumps(body, separators=(",", ":"), default=str).encode() + b"\n"
    return encode_payload(status, payload, "application/json", head_only)


def encode_payload(
    status: HTTPStatus, payload: bytes, content_type: str, head_only: bool = False
) -> bytes:
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(payload)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    if status is HTTPStatus.METHOD_NOT_ALLOWED:
        lines.append("Allow: GET, HEAD")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head if head_only else head + payload


def error_body(status: HTTPStatus, message: str) -> dict[str, object]:
    return {"error": status.phrase, "status": status.value, "message": message}
