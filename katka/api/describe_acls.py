"""DescribeAcls (key 29), v0-3: the ACL bindings matching one filter, grouped by resource.

Needs DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED); without an authorizer,
SECURITY_DISABLED, as Kafka answers. v0 filters have no pattern type: LITERAL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, DESCRIBE, authorized, enabled
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.security.acls import AclBinding, AclBindingFilter, PatternType

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 29
VERSIONS = range(0, 4)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)

    def refused(code: ErrorCode, message: str | None) -> Any:
        return make(
            m.DescribeAclsResponse,
            throttle_time=ZERO,
            error_code=code,
            error_message=message,
            resources=(),
        )

    if not enabled(node):
        return refused(ErrorCode.security_disabled, "No Authorizer is configured.")
    if not authorized(ctx, node, DESCRIBE, CLUSTER):
        return refused(ErrorCode.cluster_authorization_failed, None)
    acl_filter = AclBindingFilter(
        int(request.resource_type_filter),
        request.resource_name_filter,
        int(getattr(request, "pattern_type_filter", PatternType.LITERAL)),
        request.principal_filter,
        request.host_filter,
        int(request.operation),
        int(request.permission_type),
    )
    by_resource: dict[tuple[int, str, int], list[AclBinding]] = {}
    for acl in node.authorizer.store.matching(acl_filter):
        key = (acl.resource_type, acl.resource_name, acl.pattern_type)
        by_resource.setdefault(key, []).append(acl)
    return make(
        m.DescribeAclsResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        error_message=None,
        resources=tuple(
            make(
                m.DescribeAclsResource,
                resource_type=resource_type,
                resource_name=name,
                pattern_type=pattern_type,
                acls=tuple(
                    make(
                        m.AclDescription,
                        principal=a.principal,
                        host=a.host,
                        operation=a.operation,
                        permission_type=a.permission_type,
                    )
                    for a in acls
                ),
            )
            for (resource_type, name, pattern_type), acls in by_resource.items()
        ),
    )
