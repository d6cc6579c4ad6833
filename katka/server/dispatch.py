"""api key -> handler, the version check, and the one place a handler's result becomes bytes.

What Kafka does with requests it cannot serve, and so do we:
- ApiVersions at a version above ours: a v0 response with UNSUPPORTED_VERSION and our ranges
  (KIP-511), so the client can downgrade.
- any other unknown api key or unsupported version, or bytes that do not decode: close the
  connection (Kafka's SocketServer does the same; there is no valid response schema to use).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import time
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from kio.schema.errors import ErrorCode
from kio.static.primitive import i16

from katka.api._authorize import may_dispatch
from katka.api.context import RequestContext
from katka.node import ApiVersionRange, Node
from katka.protocol.codec import (
    API_VERSIONS_KEY,
    DecodeError,
    EncodedFrame,
    FixedHeader,
    decode_request,
    encode_response,
    read_fixed_header,
)
from katka.security.sasl import AuthenticationFailed
from katka.security.session import SASL_HANDSHAKE_KEY, SaslState, Session
from katka.server.idle_fetch import IdleFetches
from katka.server.throttling import Throttling, with_throttle_time
from katka.stats import ApiStats

log = logging.getLogger("katka.server")


MAX_REMEMBERED_REQUEST_BYTES = 4096


class CloseConnection(Exception):
    """Raised by dispatch when Kafka would close the connection instead of answering."""


# What a connection queues for one request: bytes now, bytes later (a parked reply), or
# nothing (acks=0 produce).
Reply = EncodedFrame | asyncio.Future[EncodedFrame] | None


@dataclass(slots=True)
class ApiHandler:
    """One API's versions, and its handler once a request needed it: a starting broker
    imports only the handlers its first clients use (katka.api.HANDLERS)."""

    api_key: int
    min_version: int
    max_version: int
    module_name: str  # katka.api.<module_name>
    handle: Callable[..., Any] | None = None
    # Does the client read a response to this request? (Produce with acks=0 does not.)
    expects_response: Callable[[Any], bool] | None = None

    def load(self) -> Callable[..., Any]:
        if self.handle is None:
            module = importlib.import_module(f"katka.api.{self.module_name}")
            self.expects_response = getattr(module, "expects_response", None)
            self.handle = module.handle
        return self.handle


def build_registry(modules: list[ModuleType]) -> dict[int, ApiHandler]:
    """The registry of these (imported) handler modules."""
    registry: dict[int, ApiHandler] = {}
    for module in modules:
        versions: range = module.VERSIONS
        registry[module.API_KEY] = ApiHandler(
            module.API_KEY,
            versions.start,
            versions.stop - 1,
            module.__name__.rsplit(".", 1)[1],
            module.handle,
            getattr(module, "expects_response", None),
        )
    return registry


def lazy_registry(handlers: dict[int, tuple[str, range]]) -> dict[int, ApiHandler]:
    """The registry of katka.api.HANDLERS, each module imported when first asked for."""
    return {
        key: ApiHandler(key, versions.start, versions.stop - 1, name)
        for key, (name, versions) in handlers.items()
    }


def api_name(module_name: str) -> str:
    """ "Fetch" for katka.api.fetch's handler, "DescribeLogDirs" for describe_log_dirs'."""
    return "".join(word.capitalize() for word in module_name.split("_"))


def api_version_ranges(registry: dict[int, ApiHandler]) -> tuple[ApiVersionRange, ...]:
    """What ApiVersions advertises: exactly the registry, ordered by api key."""
    return tuple(
        ApiVersionRange(h.api_key, h.min_version, h.max_version)
        for h in sorted(registry.values(), key=lambda h: h.api_key)
    )


class Dispatcher:
    def __init__(self, registry: dict[int, ApiHandler], node: Node) -> None:
        self.registry = registry
        self.node = node
        self.throttling = Throttling(node.quotas)
        # For debug lines: the API's name as Kafka spells it (FetchRequest -> Fetch).
        self.api_names = {key: api_name(h.module_name) for key, h in registry.items()}
        # Set once a first response is encoded: a starting broker loads the rest after it.
        self.answered = asyncio.Event()
        self.idle_fetches = IdleFetches(node, self.throttling, self.handle)

    def dispatch(self, frame: bytes, client_host: str, session: Session | None = None) -> Reply:
        session = session or Session(client_host=client_host)
        if session.remembered_fetch is not None:  # an idle consumer's same Fetch, maybe
            parked = self.idle_fetches.park(frame, session)
            if parked is not None:
                return parked
        if session.raw_tokens and session.state is SaslState.AUTHENTICATE:
            return self._raw_sasl_token(frame, session)
        try:
            fixed = read_fixed_header(frame)
        except DecodeError as error:
            raise CloseConnection(str(error)) from None
        handler = self.registry.get(fixed.api_key)
        if handler is None:
            raise CloseConnection(f"unknown api key {fixed.api_key}")
        if session.expires_at_ms is not None:
            self._check_session_lifetime(fixed.api_key, session)
        if not session.allows(fixed.api_key):
            # Kafka's SaslServerAuthenticator: IllegalSaslStateException, connection closed.
            raise CloseConnection(
                f"unexpected request (api key {fixed.api_key}) from {client_host} before "
                f"authentication completed on listener {session.listener_name}"
            )
        if not handler.min_version <= fixed.api_version <= handler.max_version:
            if fixed.api_key == API_VERSIONS_KEY:
                return self._unsupported_api_versions(fixed.correlation_id)
            raise CloseConnection(
                f"unsupported version {fixed.api_version} of api key {fixed.api_key}"
            )
        client_id, request = self._decode(frame, fixed, session)
        context = RequestContext(
            api_key=fixed.api_key,
            api_version=fixed.api_version,
            correlation_id=fixed.correlation_id,
            client_id=client_id,
            client_host=client_host,
            session=session,
        )
        if not may_dispatch(context, self.node):
            raise CloseConnection(
                f"{context.principal} from {client_host} may not use api key {fixed.api_key} "
                "(katka serves it under an authorizer only to principals with ALTER on the cluster)"
            )
        session.client_id = context.client_id
        return self.handle(fixed.api_key, context, request, len(frame))

    def handle(
        self,
        api_key: int,
        context: RequestContext,
        request: Any,
        request_bytes: int,
        counted: bool = False,
        **options: Any,
    ) -> Reply:
        """The reply to a decoded request (`counted`: already counted in the API's requests,
        as a parked idle poll is; `options`: for the handler, as idle_fetch.py's wait left to
        a woken poll)."""
        handler = self.registry[api_key]
        started = time.perf_counter()
        stats = self.node.stats.api(api_key)
        if not counted:
            stats.requests += 1
        try:
            response = (handler.handle or handler.load())(context, request, self.node, **options)
        except Exception:
            stats.errors += 1
            raise
        handling_s = time.perf_counter() - started
        if handler.expects_response is not None and not handler.expects_response(request):
            self.throttling.throttle_ms(context, request_bytes, 0, handling_s)  # muted only
            stats.latency.observe(handling_s)
            return None
        if _is_awaitable(response):
            # A parked reply (long poll, rebalance, fsync): the connection keeps its place.
            return asyncio.ensure_future(
                self._complete(context, response, request_bytes, handling_s, started, stats)
            )
        return self._encode(context, response, request_bytes, handling_s, started, stats)

    def _decode(self, frame: bytes, fixed: FixedHeader, session: Session) -> tuple[str, Any]:
        """The client id and body of the request. A consumer long-polling an idle partition
        sends the same bytes every time but for the correlation id, so the connection's last
        small request is remembered with its decoded body (kio's entities are immutable)."""
        if len(frame) > MAX_REMEMBERED_REQUEST_BYTES:
            return self._decode_anew(frame, fixed)
        key = frame[:4] + frame[8:]  # all but the correlation id
        last = session.last_request
        if last is not None and last[0] == key:
            return last[1], last[2]
        client_id, request = self._decode_anew(frame, fixed)
        session.last_request = (key, client_id, request)
        return client_id, request

    def _decode_anew(self, frame: bytes, fixed: FixedHeader) -> tuple[str, Any]:
        try:
            header, request = decode_request(frame, fixed)
        except DecodeError as error:
            raise CloseConnection(str(error)) from None
        return header.client_id or "", request

    async def _complete(
        self,
        context: RequestContext,
        pending: Awaitable[Any],
        request_bytes: int,
        handling_s: float,
        started: float,
        stats: ApiStats,
    ) -> EncodedFrame:
        parked = time.perf_counter()
        try:
            response = await pending
        except Exception:
            stats.errors += 1
            raise
        parked_s = time.perf_counter() - parked
        return self._encode(context, response, request_bytes, handling_s, started, stats, parked_s)

    def _encode(
        self,
        context: RequestContext,
        response: Any,
        request_bytes: int,
        handling_s: float,
        started: float,
        stats: ApiStats,
        parked_s: float = 0.0,
    ) -> EncodedFrame:
        """The response's frame, with the throttle time its client's quotas give it;
        `stats`: its API's, looked up once per request."""
        key, version, correlation_id = context.api_key, context.api_version, context.correlation_id
        encoded = encode_response(key, version, correlation_id, response)
        throttle_ms = self.throttling.throttle_ms(context, request_bytes, encoded.size, handling_s)
        if throttle_ms > 0:
            throttled = with_throttle_time(response, throttle_ms)
            encoded = encode_response(key, version, correlation_id, throttled)
        _observe(stats, response, started)
        if not self.answered.is_set():
            self.answered.set()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s v%d from client %r at %s: handled in %.2f ms%s, %d bytes answered%s",
                self.api_names.get(key, key),
                version,
                context.client_id,
                context.client_host,
                handling_s * 1000,
                f" (+{parked_s * 1000:.0f} ms parked)" if parked_s else "",
                encoded.size,
                f", throttled {throttle_ms} ms" if throttle_ms else "",
            )
        return encoded

    def _check_session_lifetime(self, api_key: int, session: Session) -> None:
        """KIP-368, as Kafka's SocketServer: a SaslHandshake may start a re-authentication;
        any other request after the session's lifetime closes the connection."""
        now_ms = self.node.clock.monotonic_ms()
        if api_key == SASL_HANDSHAKE_KEY and session.maybe_begin_reauthentication(now_ms):
            return
        if session.expired(now_ms):
            raise CloseConnection(
                f"{session.principal} at {session.client_host}: session expired "
                f"(connections.max.reauth.ms) without re-authentication"
            )

    def _raw_sasl_token(self, frame: bytes, session: Session) -> EncodedFrame:
        """After SaslHandshake v0 the mechanism's tokens come and go as bare frames."""
        try:
            challenge = session.authenticate(frame, self.node.clock.monotonic_ms())
        except AuthenticationFailed as failure:
            raise CloseConnection(
                f"failed authentication with {session.client_host}: {failure}"
            ) from None
        reply = EncodedFrame()
        reply.write(challenge)
        return reply.finish()

    def _unsupported_api_versions(self, correlation_id: int) -> EncodedFrame:
        from kio.schema.api_versions.v0.response import ApiVersion as ApiVersionV0
        from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0

        response = ApiVersionsResponseV0(
            error_code=ErrorCode.unsupported_version,
            api_keys=tuple(
                ApiVersionV0(
                    api_key=i16(h.api_key),
                    min_version=i16(h.min_version),
                    max_version=i16(h.max_version),
                )
                for h in sorted(self.registry.values(), key=lambda h: h.api_key)
            ),
        )
        return encode_response(API_VERSIONS_KEY, 0, correlation_id, response)


def _is_awaitable(value: Any) -> bool:
    """inspect.isawaitable, its ABC check done once per type (a handler returns a response
    entity, or a coroutine or future when it parks)."""
    if isinstance(value, types.GeneratorType):  # a generator-based coroutine, maybe
        return inspect.isawaitable(value)
    cls = type(value)
    awaitable = _AWAITABLE_TYPES.get(cls)
    if awaitable is None:
        awaitable = _AWAITABLE_TYPES[cls] = issubclass(cls, Awaitable)
    return awaitable


_AWAITABLE_TYPES: dict[type, bool] = {}


def _observe(stats: ApiStats, response: Any, started: float) -> None:
    """A request answered: its latency (RequestMetrics TotalTimeMs), and an error when the
    response's top-level error code is not NONE (per-partition codes are not counted)."""
    stats.latency.observe(time.perf_counter() - started)
    if getattr(response, "error_code", 0):
        stats.errors += 1
