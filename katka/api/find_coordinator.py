"""FindCoordinator (key 10), v0-5: this broker coordinates every group (key type 0) and every
transactional id (key type 1). v4+ batches keys. Other key types get INVALID_REQUEST.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, GROUP, TRANSACTIONAL_ID, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 10
VERSIONS = range(0, 6)
GROUP_KEY_TYPE = 0
TRANSACTION_KEY_TYPE = 1


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    endpoint = node.endpoint_for(ctx.session.listener_name)
    key_type = getattr(request, "key_type", GROUP_KEY_TYPE)
    keys = [request.key] if ctx.api_version < 4 else list(request.coordinator_keys)
    if key_type in (GROUP_KEY_TYPE, TRANSACTION_KEY_TYPE) and not all(
        _may_describe(ctx, node, key_type, key) for key in keys
    ):
        # Kafka checks each key; katka's one coordinator answers them alike, so any refusal
        # refuses the request (clients look up one key at a time).
        error = (
            ErrorCode.group_authorization_failed
            if key_type == GROUP_KEY_TYPE
            else ErrorCode.transactional_id_authorization_failed
        )
        message, node_id, host, port = None, -1, "", -1
    elif key_type in (GROUP_KEY_TYPE, TRANSACTION_KEY_TYPE):
        error, message = ErrorCode.none, None
        node_id, host, port = node.node_id, endpoint.host, endpoint.port
    else:
        error = ErrorCode.invalid_request
        message = f"unknown coordinator key type {key_type}"
        node_id, host, port = -1, "", -1
    if ctx.api_version < 4:
        return make(
            m.FindCoordinatorResponse,
            throttle_time=ZERO,
            error_code=error,
            error_message=message,
            node_id=node_id,
            host=host,
            port=port,
        )
    coordinators = tuple(
        make(
            m.Coordinator,
            key=key,
            node_id=node_id,
            host=host,
            port=port,
            error_code=error,
            error_message=message,
        )
        for key in request.coordinator_keys
    )
    return make(m.FindCoordinatorResponse, throttle_time=ZERO, coordinators=coordinators)


def _may_describe(ctx: RequestContext, node: Node, key_type: int, key: str) -> bool:
    resource = GROUP if key_type == GROUP_KEY_TYPE else TRANSACTIONAL_ID
    return authorized(ctx, node, DESCRIBE, resource, key)
