"""The authorizer, deciding as Kafka's StandardAuthorizer decides.

Off unless `authorizer.class.name` names Kafka's StandardAuthorizer (or the older
AclAuthorizer): then every request is checked. For a principal, host, operation and resource:
super users (`super.users`, `User:a;User:b`) may do anything; a matching DENY wins; then a
matching ALLOW for the operation, for ALL, or for an operation that implies it (DESCRIBE is
implied by READ, WRITE, DELETE and ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS); with no ACL at
all on the resource, `allow.everyone.if.no.acl.found` decides. ACLs match a resource when they
name it literally, name `*`, or are PREFIXED with a prefix of its name; their principal is the
caller's or `User:*`, their host the caller's address or `*`.
"""

from __future__ import annotations

from collections.abc import Iterable

from katka.security.acls import (
    WILDCARD,
    AclOperation,
    AclPermissionType,
    AclStore,
    ResourceType,
)
from katka.security.principal import KafkaPrincipal

AUTHORIZER_CLASS_NAMES = (
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
)

_IMPLIED_BY = {
    AclOperation.DESCRIBE: (
        AclOperation.READ,
        AclOperation.WRITE,
        AclOperation.DELETE,
        AclOperation.ALTER,
    ),
    AclOperation.DESCRIBE_CONFIGS: (AclOperation.ALTER_CONFIGS,),
}

# operation -> the operations whose ALLOW grants it (itself, ALL, those that imply it), as ints
_ALLOWED_BY = {
    operation: frozenset(
        int(o) for o in (operation, AclOperation.ALL, *_IMPLIED_BY.get(operation, ()))
    )
    for operation in AclOperation
}
_DENY, _ALL = int(AclPermissionType.DENY), int(AclOperation.ALL)

# AclEntry.supportedOperations: what KIP-430's authorized operations may list per type.
SUPPORTED_OPERATIONS = {
    ResourceType.TOPIC: (
        AclOperation.READ,
        AclOperation.WRITE,
        AclOperation.CREATE,
        AclOperation.DESCRIBE,
        AclOperation.DELETE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
    ),
    ResourceType.GROUP: (AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE),
    ResourceType.CLUSTER: (
        AclOperation.CREATE,
        AclOperation.CLUSTER_ACTION,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
        AclOperation.IDEMPOTENT_WRITE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE,
    ),
    ResourceType.TRANSACTIONAL_ID: (AclOperation.DESCRIBE, AclOperation.WRITE),
}


class Authorizer:
    def __init__(
        self,
        store: AclStore,
        enabled: bool = False,
        super_users: Iterable[str] = (),
        allow_if_no_acl: bool = False,
    ) -> None:
        self.store = store
        self.enabled = enabled
        self.super_users = frozenset(super_users)
        self.allow_if_no_acl = allow_if_no_acl

    @classmethod
    def from_configs(
        cls, store: AclStore, class_name: str, super_users: str, allow_if_no_acl: bool
    ) -> Authorizer:
        """Raises ValueError for an authorizer class katka does not implement."""
        class_name = class_name.strip()
        if class_name and class_name not in AUTHORIZER_CLASS_NAMES:
            raise ValueError(
                f"authorizer.class.name: katka implements {AUTHORIZER_CLASS_NAMES[0]} only, "
                f"not {class_name}"
            )
        users = [u.strip() for u in super_users.split(";") if u.strip()]
        return cls(store, bool(class_name), users, allow_if_no_acl)

    def authorize(
        self,
        principal: KafkaPrincipal,
        host: str,
        operation: AclOperation,
        resource_type: ResourceType,
        resource_name: str,
    ) -> bool:
        if not self.enabled:
            return True
        name = str(principal)
        if name in self.super_users:
            return True
        acls = self.store.acls_on(resource_type, resource_name)
        if not acls:
            return self.allow_if_no_acl
        # One pass: a matching DENY decides at once; otherwise any matching ALLOW.
        any_principal = f"{principal.principal_type}:{WILDCARD}"
        allowed_by = _ALLOWED_BY[operation]
        allowed = False
        for acl in acls:
            if acl.principal != name and acl.principal != any_principal:
                continue
            if acl.host != host and acl.host != WILDCARD:
                continue
            if acl.permission_type == _DENY:
                if acl.operation == operation or acl.operation == _ALL:
                    return False
            elif acl.operation in allowed_by:
                allowed = True
        return allowed

    def may_write_some_topic(self, principal: KafkaPrincipal, host: str) -> bool:
        """Kafka's authorizeByResourceType(TOPIC, WRITE) for idempotent producers: some
        ALLOW for WRITE (or ALL) on a topic pattern reaches this principal."""
        if not self.enabled or str(principal) in self.super_users:
            return True
        return any(
            a.resource_type == ResourceType.TOPIC
            and a.permission_type == AclPermissionType.ALLOW
            and a.operation in (AclOperation.WRITE, AclOperation.ALL)
            and a.principal in (str(principal), f"{principal.principal_type}:{WILDCARD}")
            and a.host in (host, WILDCARD)
            for a in self.store.acls
        )

    def authorized_operations(
        self, principal: KafkaPrincipal, host: str, resource_type: ResourceType, name: str
    ) -> int:
        """KIP-430's bit field: every supported operation this principal may perform."""
        return sum(
            1 << operation
            for operation in SUPPORTED_OPERATIONS[resource_type]
            if self.authorize(principal, host, operation, resource_type, name)
        )
