"""The one question handlers ask the authorizer: may this request's principal, from its
address, perform this operation on this resource? (Always yes with no authorizer configured.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from katka.api.context import RequestContext
from katka.security.acls import CLUSTER_NAME, AclOperation, ResourceType

if TYPE_CHECKING:
    from katka.node import Node

TOPIC, GROUP, CLUSTER = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER
TRANSACTIONAL_ID = ResourceType.TRANSACTIONAL_ID
READ, WRITE, CREATE = AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE
DELETE, ALTER, DESCRIBE = AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE
DESCRIBE_CONFIGS, ALTER_CONFIGS = AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS
IDEMPOTENT_WRITE, CLUSTER_ACTION = AclOperation.IDEMPOTENT_WRITE, AclOperation.CLUSTER_ACTION


def authorized(
    ctx: RequestContext,
    node: Node,
    operation: AclOperation,
    resource_type: ResourceType,
    name: str = CLUSTER_NAME,
) -> bool:
    return node.authorizer.authorize(ctx.principal, ctx.client_host, operation, resource_type, name)


def enabled(node: Node) -> bool:
    return node.authorizer.enabled
