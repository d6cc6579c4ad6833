"""One member of a classic group (Kafka's ClassicGroupMember).

`awaiting_join` / `awaiting_sync` say that a JoinGroup / SyncGroup of this member is parked;
the service holds the actual futures, keyed by member id, and the domain tells it when to
answer them. `heartbeat_deadline_ms` is the deadline of the heartbeat timer currently scheduled
for the member, so a timer that fires for an older deadline can tell it is stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Protocols = tuple[tuple[str, bytes], ...]


@dataclass(eq=False)
class ClassicMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: Protocols
    assignment: bytes = b""
    # A member that has not completed a join yet: it cannot heartbeat, so a long join timer
    # (NewMemberJoinTimeoutMs) bounds how long it may hold up the rebalance.
    is_new: bool = False
    awaiting_join: bool = False
    awaiting_sync: bool = False
    heartbeat_deadline_ms: int | None = None
    joined_ms: int = field(default=0)

    @property
    def is_static(self) -> bool:
        return self.group_instance_id is not None

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata(self, protocol_name: str) -> bytes:
        for name, metadata in self.protocols:
            if name == protocol_name:
                return metadata
        raise KeyError(f"member {self.member_id} does not support protocol {protocol_name}")

    def matches(self, protocols: Sequence[tuple[str, bytes]]) -> bool:
        """Same protocols with the same metadata in the same order (no rebalance needed)."""
        return tuple(protocols) == self.protocols

    def vote(self, candidates: Iterable[str]) -> str:
        """The member's most preferred protocol among those every member supports."""
        allowed = set(candidates)
        for name, _ in self.protocols:
            if name in allowed:
                return name
        raise ValueError(f"member {self.member_id} does not support any candidate protocol")

    def has_satisfied_heartbeat(self) -> bool:
        """Whether a heartbeat expiry should be ignored (Kafka's hasSatisfiedHeartbeat).

        New members may expire even while parked in JoinGroup; members parked in a rebalance
        cannot heartbeat, so their expiry is ignored (the rebalance timers cover them).
        """
        if self.is_new:
            return False
        return self.awaiting_join or self.awaiting_sync
