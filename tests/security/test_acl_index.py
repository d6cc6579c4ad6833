"""The ACL store's index finds exactly the bindings a scan of every binding would: literal on
the name or on `*`, prefixed with a prefix of the name, of the same resource type; and keeps
finding them after deletions."""

from __future__ import annotations

import random

from katka.security.acls import (
    WILDCARD,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AclStore,
    PatternType,
    ResourceType,
)

NAMES = ["a", "ab", "abc", "abd", "b", "bc", WILDCARD, "orders", "orders-eu", "ord"]


def scan(store: AclStore, resource_type: int, name: str) -> set[AclBinding]:
    return {
        a
        for a in store.acls
        if a.resource_type == resource_type
        and (
            (a.pattern_type == PatternType.LITERAL and a.resource_name in (name, WILDCARD))
            or (a.pattern_type == PatternType.PREFIXED and name.startswith(a.resource_name))
        )
    }


def random_binding(rng: random.Random) -> AclBinding:
    pattern = rng.choice([PatternType.LITERAL, PatternType.PREFIXED])
    name = rng.choice([n for n in NAMES if pattern == PatternType.LITERAL or n != WILDCARD])
    return AclBinding(
        rng.choice([ResourceType.TOPIC, ResourceType.GROUP]),
        name,
        pattern,
        rng.choice(["User:alice", "User:bob", "User:*"]),
        "*",
        rng.choice([AclOperation.READ, AclOperation.WRITE, AclOperation.ALL]),
        rng.choice([AclPermissionType.ALLOW, AclPermissionType.DENY]),
    )


def test_the_index_finds_what_a_scan_finds_through_additions_and_deletions() -> None:
    rng = random.Random(14)
    store = AclStore(None)
    for step in range(400):
        store.add(random_binding(rng))
        if step % 7 == 0:
            victim = random_binding(rng)
            store.remove_matching(
                AclBindingFilter(
                    victim.resource_type, victim.resource_name, victim.pattern_type,
                    None, None, AclOperation.ANY, AclPermissionType.ANY,
                )
            )  # fmt: skip
        for resource_type in (ResourceType.TOPIC, ResourceType.GROUP):
            for name in ["abcd", "orders-us", "b", "zzz", "ab", "a"]:
                found = store.acls_on(resource_type, name)
                assert len(found) == len(set(found))
                assert set(found) == scan(store, resource_type, name)


def test_an_empty_store_finds_nothing() -> None:
    assert AclStore(None).acls_on(ResourceType.TOPIC, "orders") == []
