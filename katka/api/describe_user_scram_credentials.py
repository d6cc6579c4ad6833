"""DescribeUserScramCredentials (key 50), v0 (KIP-554): which SCRAM mechanisms each user has,
with their iterations (never a salt or key). No users named (null or empty, as Kafka reads
it): every user. A user named twice
is DUPLICATE_RESOURCE, an unknown one RESOURCE_NOT_FOUND, as Kafka answers."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, DESCRIBE, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 50
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    assert node.scram_credentials is not None
    if not authorized(ctx, node, DESCRIBE, CLUSTER):
        return make(
            m.DescribeUserScramCredentialsResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.cluster_authorization_failed,
            error_message=None,
            results=(),
        )
    users = node.scram_credentials.users()
    wanted = [u.name for u in request.users] if request.users else sorted(users)
    counts = Counter(wanted)
    results = []
    for name in dict.fromkeys(wanted):
        code, message, infos = ErrorCode.none, None, ()
        if counts[name] > 1:
            code, message = (
                ErrorCode.duplicate_resource,
                "Cannot describe SCRAM credentials for the same user twice in a single "
                f"request: {name}",
            )
        elif name not in users:
            code = ErrorCode.resource_not_found
            message = f"Attempt to describe a user credential that does not exist: {name}"
        else:
            infos = tuple(
                make(m.CredentialInfo, mechanism=int(mechanism), iterations=credential.iterations)
                for mechanism, credential in sorted(users[name].items())
            )
        results.append(
            make(
                m.DescribeUserScramCredentialsResult,
                user=name,
                error_code=code,
                error_message=message,
                credential_infos=infos,
            )
        )
    return make(
        m.DescribeUserScramCredentialsResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        error_message=None,
        results=tuple(results),
    )
