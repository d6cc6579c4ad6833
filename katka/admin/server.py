"""`AdminHttpServer`: katka's HTTP admin API, JSON over HTTP/1.1, on its own listener.

Each connection carries one request: read a bounded head (MAX_HEAD_BYTES, HEAD_TIMEOUT_S) and
a POST's bounded body, route it, answer, close. The documents come from a source (source.py):
the broker's own, whose views run on its event loop and so read its state without locks, or
a Kafka cluster's (`katka console`), answered on a worker thread. A view that raises answers
500 and the server keeps serving.
docs/admin-api.md describes every path.

  GET /api/health
  GET /api/topics                      GET /api/topics/{topic}
  GET /api/cleaner (compaction: the last cleanings)
  GET /api/groups                      GET /api/groups/{group}
  GET /api/groups/{group}/rebalances   GET /api/groups/{group}/lag
  GET /api/transactions                GET /api/transactions/{transactional_id}
  GET /api/share-groups                GET /api/share-groups/{group} (share_views.py)
  POST /api/groups/{group}/reset-offsets (JSON body: offset_reset.py; the one action)
  GET /metrics (Prometheus' text format; katka/admin/metrics.py)
  GET / (the console: console/index.html, plain HTML and JS over the JSON above)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from katka.admin.http import (
    JSON_TYPE,
    MAX_HEAD_BYTES,
    BadRequest,
    Request,
    encode_payload,
    encode_response,
    error_body,
    parse_request_head,
)

if TYPE_CHECKING:
    from katka.admin.source import ViewSource

log = logging.getLogger("katka.admin")

HEAD_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 10.0

# (path segments pattern, view name in source.VIEWS); "*" matches one segment, passed to it.
ROUTES: list[tuple[tuple[str, ...], str]] = [
    (("api", "health"), "health"),
    (("api", "topics"), "topics"),
    (("api", "topics", "*"), "topic"),
    (("api", "cleaner"), "cleaner"),
    (("api", "groups"), "groups"),
    (("api", "groups", "*"), "group"),
    (("api", "groups", "*", "rebalances"), "rebalances"),
    (("api", "groups", "*", "lag"), "lag"),
    (("api", "transactions"), "transactions"),
    (("api", "transactions", "*"), "transaction"),
    (("api", "share-groups"), "share_groups"),
    (("api", "share-groups", "*"), "share_group"),
]
# POST routes: the action also receives the request body (JSON) and returns its document or
# raises offset_reset.Refused.
POST_ROUTES: list[tuple[tuple[str, ...], str]] = [
    (("api", "groups", "*", "reset-offsets"), "reset_offsets"),
]


def route(
    request: Request, routes: Sequence[tuple[tuple[str, ...], str]] = ROUTES
) -> tuple[str, list[str]] | None:
    for pattern, view in routes:
        if len(pattern) != len(request.segments):
            continue
        arguments = []
        for expected, actual in zip(pattern, request.segments, strict=True):
            if expected == "*":
                arguments.append(actual)
            elif expected != actual:
                break
        else:
            return view, arguments
    return None


def respond(source: ViewSource, head: bytes, body: bytes = b"") -> bytes:
    """The whole response to one request (never raises)."""
    try:
        request = parse_request_head(head)
    except BadRequest as error:
        return encode_response(error.status, error_body(error.status, str(error)))
    action = route(request, POST_ROUTES)
    if request.method == "POST" or action is not None:
        return _post(source, request, body, action)
    head_only = request.method == "HEAD"
    if request.segments == ("metrics",):
        return _metrics(source, head_only)
    if request.segments in ((), ("console",)):
        return encode_payload(HTTPStatus.OK, _console_page(), "text/html; charset=utf-8", head_only)
    found = route(request)
    if found is None:
        status = HTTPStatus.NOT_FOUND
        return encode_response(
            status, error_body(status, f"no such path {request.path}"), head_only
        )
    view, arguments = found
    if view in source.missing:
        status = HTTPStatus.NOT_FOUND
        message = f"{request.path} is a katka-only view: {source.missing[view]}"
        return encode_response(status, error_body(status, message), head_only)
    try:
        document = source.view(view, *arguments)
    except Exception:
        log.exception("admin API view failed for %s", request.path)
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        return encode_response(status, error_body(status, "the view failed; see the broker log"))
    if document is None:
        status = HTTPStatus.NOT_FOUND
        what = "/".join(arguments) or request.path
        return encode_response(status, error_body(status, f"not found: {what}"), head_only)
    return encode_response(HTTPStatus.OK, document, head_only)


def _post(
    source: ViewSource, request: Request, body: bytes, action: tuple[str, list[str]] | None
) -> bytes:
    allow = "POST"
    if action is None or request.method != "POST":
        status = HTTPStatus.METHOD_NOT_ALLOWED
        if action is None:
            allow = "GET, HEAD"
        message = f"{request.method} not allowed on {request.path}"
        return encode_response(status, error_body(status, message), allow=allow)
    if request.content_type != JSON_TYPE:
        # Also what keeps other sites' pages out: a JSON POST needs a CORS preflight.
        status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        message = f"send the body as {JSON_TYPE}"
        return encode_response(status, error_body(status, message), allow=allow)
    from katka.admin import offset_reset  # the one action: loaded when first asked

    name, arguments = action
    try:
        document = source.action(name, *arguments, body)
    except offset_reset.Refused as refused:
        return encode_response(refused.status, error_body(refused.status, str(refused)))
    except Exception:
        log.exception("admin API action failed for %s", request.path)
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        return encode_response(status, error_body(status, "the action failed; see the broker log"))
    return encode_response(HTTPStatus.OK, document)


@functools.cache
def _console_page() -> bytes:
    from importlib import resources

    return (resources.files("katka.admin") / "console" / "index.html").read_bytes()


def _metrics(source: ViewSource, head_only: bool) -> bytes:
    # prometheus_client (~20 ms of every broker's start) loads at the first scrape.
    from katka.admin import metrics

    try:
        payload = metrics.exposition(source)
    except Exception:
        log.exception("admin API /metrics failed")
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        return encode_response(status, error_body(status, "the view failed; see the broker log"))
    return encode_payload(HTTPStatus.OK, payload, metrics.CONTENT_TYPE, head_only)


class AdminHttpServer:
    """Serves one source's documents: the broker's own (BrokerSource) or a Kafka cluster's."""

    def __init__(self, source: ViewSource) -> None:
        self.source = source
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.address: tuple[str, int] | None = None

    async def start(
        self, host: str, port: int, sock: socket.socket | None = None
    ) -> tuple[str, int]:
        """Listen on host:port (0: an ephemeral port), or serve `sock`, already bound there;
        returns the bound address."""
        if sock is not None:
            self._server = await asyncio.start_server(
                self._on_connection, sock=sock, limit=MAX_HEAD_BYTES
            )
        else:
            self._server = await asyncio.start_server(
                self._on_connection, host, port, limit=MAX_HEAD_BYTES, reuse_address=True
            )
        sockets = list(self._server.sockets or [])
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self.address = (host, int(bound_port))
        log.info("admin API listening on http://%s:%d", host, bound_port)
        return self.address

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
        """A POST's body (Content-Length bytes); respond() answers a malformed head."""
        try:
            request = parse_request_head(head[:-4])
        except BadRequest:
            return b""
        return await reader.readexactly(request.content_length) if request.content_length else b""

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
                body = await asyncio.wait_for(self._read_body(reader, head), BODY_TIMEOUT_S)
                if self.source.on_loop:
                    response = respond(self.source, head[:-4], body)
                else:  # a source of blocking client calls must not stall the other requests
                    response = await asyncio.to_thread(respond, self.source, head[:-4], body)
            except asyncio.LimitOverrunError:
                status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                response = encode_response(status, error_body(status, "request head too large"))
            except asyncio.IncompleteReadError:
                return  # the client went away before finishing its request
            except TimeoutError:
                status = HTTPStatus.REQUEST_TIMEOUT
                response = encode_response(status, error_body(status, "request head too slow"))
            writer.write(response)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
