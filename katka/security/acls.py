"""ACL bindings with Kafka's codes, the filters that match them, and their durable store.

A binding is (resource type, name, pattern type) + (principal, host, operation, permission),
as org.apache.kafka.common.acl.AclBinding. Filters use ANY (1) and MATCH (2) as Kafka's
AclBindingFilter: MATCH on a pattern matches the literal name, the wildcard `*` and every
prefix of it. The store is one JSON file written atomically once per CreateAcls/DeleteAcls,
loaded at start. It keeps the bindings indexed by resource type and name (literal ones by name,
prefixed ones by prefix, with the prefix lengths in use), so the authorizer finds the few that
can match a resource without scanning every binding (issue 14: 1,000 ACLs must cost a request
next to nothing).
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from katka.metadata.catalog import write_atomically

ACLS_FILE = "acls.json"
WILDCARD = "*"


class ResourceType(enum.IntEnum):
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(enum.IntEnum):
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class AclOperation(enum.IntEnum):
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class AclPermissionType(enum.IntEnum):
    ANY = 1
    DENY = 2
    ALLOW = 3


CLUSTER_NAME = "kafka-cluster"


@dataclass(frozen=True, slots=True)
class AclBinding:
    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    host: str
    operation: int
    permission_type: int


@dataclass(frozen=True, slots=True)
class AclBindingFilter:
    resource_type: int
    resource_name: str | None
    pattern_type: int
    principal: str | None
    host: str | None
    operation: int
    permission_type: int

    def matches(self, acl: AclBinding) -> bool:
        if self.resource_type != ResourceType.ANY and self.resource_type != acl.resource_type:
            return False
        if not self._pattern_matches(acl):
            return False
        return (
            (self.principal is None or self.principal == acl.principal)
            and (self.host is None or self.host == acl.host)
            and (self.operation == AclOperation.ANY or self.operation == acl.operation)
            and (
                self.permission_type == AclPermissionType.ANY
                or self.permission_type == acl.permission_type
            )
        )

    def _pattern_matches(self, acl: AclBinding) -> bool:
        if self.pattern_type == PatternType.MATCH:
            if self.resource_name is None:
                return True
            if acl.pattern_type == PatternType.LITERAL:
                return acl.resource_name in (self.resource_name, WILDCARD)
            return self.resource_name.startswith(acl.resource_name)
        if self.pattern_type != PatternType.ANY and self.pattern_type != acl.pattern_type:
            return False
        return self.resource_name is None or self.resource_name == acl.resource_name


def validate_binding(acl: AclBinding) -> str | None:
    """Why Kafka refuses to create this binding (INVALID_REQUEST), or None."""
    if acl.resource_type not in ResourceType.__members__.values() or acl.resource_type in (
        ResourceType.ANY,
    ):
        return f"Invalid resource type {acl.resource_type}"
    if acl.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
        return f"Invalid pattern type {acl.pattern_type}"
    if acl.operation not in AclOperation.__members__.values() or acl.operation == AclOperation.ANY:
        return f"Invalid operation {acl.operation}"
    if acl.permission_type not in (AclPermissionType.ALLOW, AclPermissionType.DENY):
        return f"Invalid permission type {acl.permission_type}"
    if not acl.resource_name:
        return "Resource name must not be empty"
    if acl.resource_type == ResourceType.CLUSTER and acl.resource_name != CLUSTER_NAME:
        return "The only valid name for the CLUSTER resource is kafka-cluster"
    principal_type, separator, _name = acl.principal.partition(":")
    if not separator or not principal_type:
        return f"Could not parse principal from `{acl.principal}`"
    if acl.pattern_type == PatternType.PREFIXED and acl.resource_name == WILDCARD:
        return "Prefixed ACLs cannot use the wildcard resource name"
    return None


class AclStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.acls: set[AclBinding] = set()
        # (resource type, literal name) -> bindings; the name may be the wildcard
        self._literal: dict[tuple[int, str], set[AclBinding]] = {}
        # (resource type, prefix) -> bindings, and per type the prefix lengths in use
        self._prefixed: dict[tuple[int, str], set[AclBinding]] = {}
        self._prefix_lengths: dict[int, dict[int, int]] = {}  # type -> length -> prefixes
        if path is not None and path.exists():
            for entry in json.loads(path.read_text()):
                self.add(AclBinding(**entry))

    def add(self, acl: AclBinding) -> None:
        if acl in self.acls:
            return
        self.acls.add(acl)
        key = (acl.resource_type, acl.resource_name)
        if acl.pattern_type == PatternType.PREFIXED:
            bindings = self._prefixed.setdefault(key, set())
            if not bindings:
                lengths = self._prefix_lengths.setdefault(acl.resource_type, {})
                lengths[len(acl.resource_name)] = lengths.get(len(acl.resource_name), 0) + 1
            bindings.add(acl)
        else:
            self._literal.setdefault(key, set()).add(acl)

    def _discard(self, acl: AclBinding) -> None:
        self.acls.discard(acl)
        key = (acl.resource_type, acl.resource_name)
        index = self._prefixed if acl.pattern_type == PatternType.PREFIXED else self._literal
        bindings = index.get(key)
        if bindings is None:
            return
        bindings.discard(acl)
        if not bindings:
            del index[key]
            if acl.pattern_type == PatternType.PREFIXED:
                lengths = self._prefix_lengths[acl.resource_type]
                lengths[len(acl.resource_name)] -= 1
                if not lengths[len(acl.resource_name)]:
                    del lengths[len(acl.resource_name)]

    def acls_on(self, resource_type: int, name: str) -> list[AclBinding]:
        """Every binding that applies to the resource: literal on its name or on `*`, or
        prefixed with a prefix of its name."""
        found: list[AclBinding] = []
        for literal in (name, WILDCARD):
            found.extend(self._literal.get((resource_type, literal), ()))
        for length in self._prefix_lengths.get(resource_type, ()):
            if length <= len(name):
                found.extend(self._prefixed.get((resource_type, name[:length]), ()))
        return found

    def remove_matching(self, acl_filter: AclBindingFilter) -> list[AclBinding]:
        removed = sorted((a for a in self.acls if acl_filter.matches(a)), key=_order)
        for acl in removed:
            self._discard(acl)
        return removed

    def matching(self, acl_filter: AclBindingFilter) -> list[AclBinding]:
        return sorted((a for a in self.acls if acl_filter.matches(a)), key=_order)

    def save(self) -> None:
        if self.path is None:
            return
        document = [asdict(a) for a in sorted(self.acls, key=_order)]
        write_atomically(self.path, json.dumps(document, indent=1).encode())


def _order(acl: AclBinding) -> tuple[int, str, int, str, str, int, int]:
    return (
        acl.resource_type,
        acl.resource_name,
        acl.pattern_type,
        acl.principal,
        acl.host,
        acl.operation,
        acl.permission_type,
    )
