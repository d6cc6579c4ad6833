"""ApiVersions (key 18), v0-4: the version ranges come from the handler registry itself, so
katka advertises exactly what it implements (older librdkafka trusts this list blindly).
A request above v4 is answered with a v0 UNSUPPORTED_VERSION response by dispatch (KIP-511).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.broker import Broker

API_KEY = 18
VERSIONS = range(0, 5)


def handle(ctx: RequestContext, request: Any, broker: Broker) -> Any:
    m = response_module(ctx)
    api_keys = tuple(
        make(m.ApiVersion, api_key=h.api_key, min_version=h.min_version, max_version=h.max_version)
        for h in sorted(broker.dispatcher.registry.values(), key=lambda h: h.api_key)
    )
    return make(
        m.ApiVersionsResponse, error_code=ErrorCode.none, api_keys=api_keys, throttle_time=ZERO
    )
