"""Plain values the coordinator answers with; API handlers turn them into responses.

Each result carries everything any version of the response needs, per member or partition,
so a handler only copies fields (and drops those its version lacks). Notes for handlers:
  JoinGroup: protocol_name None -> "" before v7; `members` is non-empty only for the leader.
  LeaveGroup v0-v2: the response error is `error_code` if not NONE, else the only member's.
  DescribeGroups v6+: `exists=False` -> GROUP_ID_NOT_FOUND; older versions report state Dead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from katka.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class Parked:
    """The request waits: the answer comes when the rebalance phase completes."""

    member_id: str


@dataclass(frozen=True, slots=True)
class JoinGroupMember:
    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclass(frozen=True, slots=True)
class JoinGroupResult:
    error_code: ErrorCode
    member_id: str
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    skip_assignment: bool = False  # JoinGroup v9+ (KIP-814)
    members: tuple[JoinGroupMember, ...] = ()

    @classmethod
    def error(cls, code: ErrorCode, member_id: str = "") -> JoinGroupResult:
        return cls(error_code=code, member_id=member_id)


@dataclass(frozen=True, slots=True)
class SyncGroupResult:
    error_code: ErrorCode
    protocol_type: str | None = None  # SyncGroup v5+
    protocol_name: str | None = None  # SyncGroup v5+
    assignment: bytes = b""


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    error_code: ErrorCode


@dataclass(frozen=True, slots=True)
class LeaveMember:
    """One identity in a LeaveGroup request (v3+ batches them; v0-v2 send one member_id)."""

    member_id: str
    group_instance_id: str | None = None
    reason: str | None = None  # LeaveGroup v5+


@dataclass(frozen=True, slots=True)
class MemberLeaveResult:
    member_id: str
    group_instance_id: str | None
    error_code: ErrorCode


@dataclass(frozen=True, slots=True)
class LeaveGroupResult:
    error_code: ErrorCode
    members: tuple[MemberLeaveResult, ...] = ()


@dataclass(frozen=True, slots=True)
class OffsetCommitPartition:
    topic: str
    partition: int
    committed_offset: int
    committed_leader_epoch: int = -1
    committed_metadata: str | None = ""
    # OffsetCommit v1 may name the commit's time; -1 (every other version) is the broker's now.
    commit_timestamp_ms: int = -1


@dataclass(frozen=True, slots=True)
class PartitionResult:
    topic: str
    partition: int
    error_code: ErrorCode


@dataclass(frozen=True, slots=True)
class OffsetCommitResult:
    partitions: tuple[PartitionResult, ...]


@dataclass(frozen=True, slots=True)
class FetchedOffset:
    topic: str
    partition: int
    committed_offset: int  # -1 when nothing is committed
    committed_leader_epoch: int  # -1 when unknown
    metadata: str | None
    error_code: ErrorCode


@dataclass(frozen=True, slots=True)
class OffsetFetchResult:
    error_code: ErrorCode
    partitions: tuple[FetchedOffset, ...] = ()


@dataclass(frozen=True, slots=True)
class DescribedMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    member_metadata: bytes  # empty unless the group is Stable (as Kafka)
    member_assignment: bytes  # empty unless the group is Stable (as Kafka)


@dataclass(frozen=True, slots=True)
class DescribedGroup:
    group_id: str
    error_code: ErrorCode
    group_state: str
    protocol_type: str
    protocol_data: str  # the selected protocol name when Stable, else ""
    members: tuple[DescribedMember, ...] = ()
    exists: bool = True


@dataclass(frozen=True, slots=True)
class ListedGroup:
    group_id: str
    protocol_type: str
    group_state: str
    group_type: str = "classic"  # ListGroups v5+


@dataclass(frozen=True, slots=True)
class ListGroupsResult:
    error_code: ErrorCode
    groups: tuple[ListedGroup, ...] = ()


@dataclass(frozen=True, slots=True)
class DeleteGroupResult:
    group_id: str
    error_code: ErrorCode


@dataclass(frozen=True, slots=True)
class OffsetDeleteResult:
    error_code: ErrorCode  # when not NONE, `partitions` is empty (as Kafka)
    partitions: tuple[PartitionResult, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberSummary:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    assigned_partitions: int | None  # parsed for protocol_type "consumer"; None otherwise
    session_timeout_ms: int | None = None  # tells tooling how far apart rebalances are "close"


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """What tooling (CLI, console) shows for a group."""

    group_id: str
    state: str
    protocol_type: str
    protocol_name: str
    generation_id: int
    leader_id: str
    members: tuple[MemberSummary, ...]
    committed_partitions: int
    state_changed_ms: int
    # Completed rebalances by trigger, kept across restarts (a counter: /metrics).
    rebalances: dict[str, int] = field(default_factory=dict)
