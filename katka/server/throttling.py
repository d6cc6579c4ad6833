"""Client quotas applied to the requests a connection sends: each answered request is recorded
against its client's quotas (Produce request bytes, Fetch response bytes, handling time for
request_percentage), the response carries the throttle time, and the connection reads nothing
more until it has passed (Kafka's KIP-219 muting). ApiVersions and SASL are exempt, as in Kafka.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import weakref
from typing import Any

from katka.api.context import RequestContext
from katka.quotas import QuotaManager
from katka.quotas.store import CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE, REQUEST_PERCENTAGE
from katka.security.session import Session

PRODUCE, FETCH = 0, 1
EXEMPT = frozenset({17, 18, 36})  # SaslHandshake, ApiVersions, SaslAuthenticate


class Throttling:
    def __init__(self, quotas: QuotaManager) -> None:
        self.quotas = quotas
        self._muted_until: weakref.WeakKeyDictionary[Session, float] = weakref.WeakKeyDictionary()

    def throttle_ms(
        self, ctx: RequestContext, request_bytes: int, response_bytes: int, handling_s: float
    ) -> int:
        """Record this request; the throttle time it earns its client (0: none). Mutes the
        connection for that long."""
        if self.quotas.store.empty or ctx.api_key in EXEMPT:
            return 0
        user = ctx.session.principal.name
        client = ctx.client_id
        record = self.quotas.record
        throttle = record(REQUEST_PERCENTAGE, user, client, handling_s * 100)
        if ctx.api_key == PRODUCE:
            throttle = max(throttle, record(PRODUCER_BYTE_RATE, user, client, request_bytes))
        elif ctx.api_key == FETCH:
            throttle = max(throttle, record(CONSUMER_BYTE_RATE, user, client, response_bytes))
        if throttle > 0:
            until = time.monotonic() + throttle / 1000
            self._muted_until[ctx.session] = max(self._muted_until.get(ctx.session, 0.0), until)
        return throttle

    def muted_for(self, session: Session) -> float:
        """Seconds this connection stays muted (0: read on)."""
        if not self._muted_until:  # nobody was ever throttled: no clock read per request
            return 0.0
        return max(self._muted_until.get(session, 0.0) - time.monotonic(), 0.0)


def with_throttle_time(response: Any, throttle_ms: int) -> Any:
    """The response telling the client how long it is throttled (versions without the field
    only mute)."""
    if dataclasses.is_dataclass(response) and hasattr(response, "throttle_time"):
        return dataclasses.replace(
            response,  # type: ignore[type-var]
            throttle_time=datetime.timedelta(milliseconds=throttle_ms),
        )
    return response
