"""CreateAcls (key 30), v0-3: add ACL bindings (v0 has no pattern type: LITERAL).

Needs ALTER on the cluster (else CLUSTER_AUTHORIZATION_FAILED per creation); without an
authorizer configured every creation is SECURITY_DISABLED, as Kafka answers. A binding Kafka
would refuse (bad type, operation, principal, the CLUSTER resource under another name) is
INVALID_REQUEST with Kafka's reason; the accepted ones are saved before the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import ALTER, CLUSTER, authorized, enabled
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.security.acls import AclBinding, PatternType, validate_binding

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 30
VERSIONS = range(0, 4)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results: list[tuple[ErrorCode, str | None]] = []
    outcome: tuple[ErrorCode, str | None]
    if not enabled(node):
        outcome = (ErrorCode.security_disabled, "No Authorizer is configured.")
        results = [outcome for _ in request.creations]
    elif not authorized(ctx, node, ALTER, CLUSTER):
        outcome = (ErrorCode.cluster_authorization_failed, None)
        results = [outcome for _ in request.creations]
    else:
        for creation in request.creations:
            acl = AclBinding(
                int(creation.resource_type),
                creation.resource_name,
                int(getattr(creation, "resource_pattern_type", PatternType.LITERAL)),
                creation.principal,
                creation.host,
                int(creation.operation),
                int(creation.permission_type),
            )
            problem = validate_binding(acl)
            if problem is not None:
                results.append((ErrorCode.invalid_request, problem))
                continue
            node.authorizer.store.add(acl)
            results.append((ErrorCode.none, None))
        node.authorizer.store.save()
    return make(
        m.CreateAclsResponse,
        throttle_time=ZERO,
        results=tuple(
            make(m.AclCreationResult, error_code=code, error_message=message)
            for code, message in results
        ),
    )
