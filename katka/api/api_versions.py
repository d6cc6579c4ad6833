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
    from katka.node import Node

API_KEY = 18
VERSIONS = range(0, 5)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    api_keys = tuple(
        make(m.ApiVersion, api_key=v.api_key, min_version=v.min_version, max_version=v.max_version)
        for v in node.api_versions
    )
    return make(
        m.ApiVersionsResponse, error_code=ErrorCode.none, api_keys=api_keys, throttle_time=ZERO
    )
