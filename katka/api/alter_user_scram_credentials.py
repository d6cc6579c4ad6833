"""AlterUserScramCredentials (key 51), v0 (KIP-554): add, replace or delete SCRAM credentials.

The client sends SaltedPassword (never the password); katka keeps salt, iterations, StoredKey
and ServerKey, saved once per request before the answer. Per user: a user named twice in one
request is DUPLICATE_RESOURCE, an unknown mechanism UNSUPPORTED_SASL_MECHANISM, iterations
outside 4096..16384 or an empty name UNACCEPTABLE_CREDENTIAL, deleting what does not exist
RESOURCE_NOT_FOUND, as Kafka's ControllerApis answers them.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from katka.api._authorize import ALTER, CLUSTER, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.security.credentials import ScramCredentialStore
from katka.security.scram import MAX_ITERATIONS, MIN_ITERATIONS, ScramCredential, ScramMechanism

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 51
VERSIONS = range(0, 1)


def _mechanism(code: int) -> ScramMechanism:
    try:
        return ScramMechanism(code)
    except ValueError:
        raise KafkaError(
            ErrorCode.unsupported_sasl_mechanism, f"Unknown SCRAM mechanism {code}"
        ) from None


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    store = node.scram_credentials
    assert store is not None
    operations = [*request.deletions, *request.upsertions]
    if not authorized(ctx, node, ALTER, CLUSTER):
        refused = (ErrorCode.cluster_authorization_failed, None)
        return _response(m, {o.name: refused for o in operations})
    pairs = Counter((o.name, o.mechanism) for o in operations)
    outcomes: dict[str, tuple[ErrorCode, str | None]] = {}
    for user in dict.fromkeys(o.name for o in operations):
        mine = [o for o in operations if o.name == user]
        try:
            # A user's alterations apply together or not at all.
            changes = [_checked(store, o, pairs) for o in mine]
            for mechanism, credential in changes:
                if credential is None:
                    store.delete(user, mechanism)
                else:
                    store.upsert(user, mechanism, credential)
            outcomes[user] = (ErrorCode.none, None)
        except KafkaError as error:
            outcomes[user] = (error.code, error.message)
    if any(code == ErrorCode.none for code, _ in outcomes.values()):
        store.save()
    return _response(m, outcomes)


def _response(m: Any, outcomes: dict[str, tuple[ErrorCode, str | None]]) -> Any:
    return make(
        m.AlterUserScramCredentialsResponse,
        throttle_time=ZERO,
        results=tuple(
            make(
                m.AlterUserScramCredentialsResult, user=user, error_code=code, error_message=message
            )
            for user, (code, message) in outcomes.items()
        ),
    )


def _checked(
    store: ScramCredentialStore, operation: Any, pairs: Counter[tuple[str, int]]
) -> tuple[ScramMechanism, ScramCredential | None]:
    """The change one deletion (credential None) or upsertion asks for, or KafkaError."""
    if not operation.name:
        raise KafkaError(ErrorCode.unacceptable_credential, "Username must not be empty")
    if pairs[(operation.name, operation.mechanism)] > 1:
        raise KafkaError(
            ErrorCode.duplicate_resource,
            "A user credential cannot be altered twice in the same request",
        )
    mechanism = _mechanism(operation.mechanism)
    if not hasattr(operation, "salted_password"):
        if store.get(operation.name, mechanism) is None:
            raise KafkaError(
                ErrorCode.resource_not_found,
                f"Attempt to delete a user credential that does not exist: {operation.name}",
            )
        return mechanism, None
    if not MIN_ITERATIONS <= operation.iterations <= MAX_ITERATIONS:
        raise KafkaError(
            ErrorCode.unacceptable_credential,
            f"Iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}",
        )
    if not operation.salt or not operation.salted_password:
        raise KafkaError(ErrorCode.unacceptable_credential, "Salt and password required")
    return mechanism, ScramCredential.from_salted_password(
        mechanism, operation.salt, operation.salted_password, operation.iterations
    )
