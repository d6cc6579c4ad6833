"""Just enough HTTP/1.1 for a JSON API: parse a request head, encode a response.

No I/O here (the server owns the sockets), so malformed input is tested with plain bytes.
Every response closes the connection: the API is polled by tools, not browsed. GET and HEAD
carry no body; POST (the few actions, e.g. an offset reset) carries a JSON body of at most
MAX_BODY_BYTES with a Content-Length (no chunked encoding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEAD_BYTES = 8192
MAX_BODY_BYTES = 1024 * 1024
JSON_TYPE = "application/json"


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
    content_length: int = 0  # POST only: the body's size
    content_type: str = ""  # the media type, lower case, without parameters


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
    if method not in ("GET", "HEAD", "POST"):
        raise BadRequest(HTTPStatus.METHOD_NOT_ALLOWED, f"method {method} not allowed")
    content_length, content_type = 0, ""
    for line in lines[1:]:
        if not line:
            continue
        name, separator, value = line.partition(":")
        if not separator or not name or name != name.strip():
            raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed header line")
        lowered = name.lower()
        if lowered == "content-length" and value.strip() not in ("", "0"):
            if method != "POST":
                raise BadRequest(HTTPStatus.BAD_REQUEST, f"{method} requests carry no body")
            content_length = _content_length(value)
        if lowered == "content-type":
            content_type = value.split(";")[0].strip().lower()
        if lowered == "transfer-encoding":
            raise BadRequest(HTTPStatus.BAD_REQUEST, "chunked request bodies are not accepted")
    split = urlsplit(target)
    segments = tuple(unquote(s) for s in split.path.split("/") if s)
    return Request(
        method,
        unquote(split.path),
        segments,
        parse_qs(split.query),
        content_length,
        content_type,
    )


def _content_length(value: str) -> int:
    try:
        length = int(value.strip())
    except ValueError:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed Content-Length") from None
    if length < 0:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed Content-Length")
    if length > MAX_BODY_BYTES:
        raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
    return length


def encode_response(
    status: HTTPStatus, body: object, head_only: bool = False, allow: str = "GET, HEAD"
) -> bytes:
    payload = json.dumps(body, separators=(",", ":"), default=str).encode() + b"\n"
    return encode_payload(status, payload, JSON_TYPE, head_only, allow)


def encode_payload(
    status: HTTPStatus,
    payload: bytes,
    content_type: str,
    head_only: bool = False,
    allow: str = "GET, HEAD",
) -> bytes:
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(payload)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    if status is HTTPStatus.METHOD_NOT_ALLOWED:
        lines.append(f"Allow: {allow}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head if head_only else head + payload


def error_body(status: HTTPStatus, message: str) -> dict[str, object]:
    return {"error": status.phrase, "status": status.value, "message": message}
