"""DeleteAcls (key 31), v0-3: remove the ACL bindings matching each filter and list them.

Needs ALTER on the cluster (else CLUSTER_AUTHORIZATION_FAILED per filter); without an
authorizer, SECURITY_DISABLED, as Kafka answers. v0 filters have no pattern type: LITERAL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import ALTER, CLUSTER, authorized, enabled
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.security.acls import AclBindingFilter, PatternType

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 31
VERSIONS = range(0, 4)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    refusal: tuple[ErrorCode, str | None] | None = None
    if not enabled(node):
        refusal = (ErrorCode.security_disabled, "No Authorizer is configured.")
    elif not authorized(ctx, node, ALTER, CLUSTER):
        refusal = (ErrorCode.cluster_authorization_failed, None)
    results = []
    for f in request.filters:
        if refusal is not None:
            results.append(
                make(
                    m.DeleteAclsFilterResult,
                    error_code=refusal[0],
                    error_message=refusal[1],
                    matching_acls=(),
                )
            )
            continue
        removed = node.authorizer.store.remove_matching(
            AclBindingFilter(
                int(f.resource_type_filter),
                f.resource_name_filter,
                int(getattr(f, "pattern_type_filter", PatternType.LITERAL)),
                f.principal_filter,
                f.host_filter,
                int(f.operation),
                int(f.permission_type),
            )
        )
        results.append(
            make(
                m.DeleteAclsFilterResult,
                error_code=ErrorCode.none,
                error_message=None,
                matching_acls=tuple(
                    make(
                        m.DeleteAclsMatchingAcl,
                        error_code=ErrorCode.none,
                        error_message=None,
                        resource_type=a.resource_type,
                        resource_name=a.resource_name,
                        pattern_type=a.pattern_type,
                        principal=a.principal,
                        host=a.host,
                        operation=a.operation,
                        permission_type=a.permission_type,
                    )
                    for a in removed
                ),
            )
        )
    if refusal is None:
        node.authorizer.store.save()
    return make(m.DeleteAclsResponse, throttle_time=ZERO, filter_results=tuple(results))
