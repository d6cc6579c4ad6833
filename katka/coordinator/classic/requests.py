"""The classic protocol's requests as plain values (the API handlers build them).

Wire versions become capabilities here (require_known_member_id, supports_skipping_assignment),
computed by the handler from the request's version, so the domain never compares versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class JoinGroupRequest:
    """JoinGroup's fields; the API handler turns wire versions into the capabilities below."""

    group_id: str
    member_id: str
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int  # JoinGroup v0 has none: the handler passes the session timeout
    protocol_type: str
    protocols: tuple[tuple[str, bytes], ...]
    group_instance_id: str | None = None
    require_known_member_id: bool = True  # JoinGroup v4+
    supports_skipping_assignment: bool = False  # JoinGroup v9+
    reason: str | None = None  # JoinGroup v8+

    @property
    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]


@dataclass(frozen=True, slots=True)
class SyncGroupRequest:
    group_id: str
    member_id: str
    generation_id: int
    group_instance_id: str | None = None
    protocol_type: str | None = None  # SyncGroup v5+
    protocol_name: str | None = None  # SyncGroup v5+
    assignments: Mapping[str, bytes] = field(default_factory=dict)
