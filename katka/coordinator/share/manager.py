"""ShareGroupManager: share groups (KIP-932) for the coordinator service.

Members join with ShareGroupHeartbeat (their own member id, epoch 0), leave with epoch -1, and
are removed when no heartbeat arrives within `group.share.session.timeout.ms`. Share groups have
no revocation phase: every membership or subscription change bumps the group epoch and each
member gets its new assignment on its next heartbeat. The server-side assignor (assignor.py)
gives every member partitions even when members outnumber partitions (a partition is then
shared by several members). A member going does not touch its acquired records: as in Kafka,
they belong to its share session, which it may still use to acknowledge them after leaving;
they are released when that session closes (SharePartitions.close_session) or their locks
expire.

Membership is not written to the coordinator's log (deviation: Kafka writes share group member
records to __consumer_offsets): after a restart members rejoin with UNKNOWN_MEMBER_ID, and a
group whose share partitions have durable state comes back Empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.effects import Context, Effects, TimerEvent
from katka.coordinator.history import RebalanceRecord
from katka.coordinator.internal_log import InternalLog
from katka.coordinator.offsets import OffsetCommitter
from katka.coordinator.records import ConsumerGroupKey, GroupKey, Record
from katka.coordinator.results import GroupSummary, ListedGroup, MemberSummary
from katka.coordinator.share.assignor import assign
from katka.coordinator.share.partitions import SharePartitions
from katka.errors import ErrorCode, KafkaError

Assignment = frozenset[tuple[str, int]]  # (topic name, partition)


@dataclass(frozen=True, slots=True)
class ShareGroupKey:
    """Share groups write no coordinator records (see the module docstring)."""

    group_id: str


@dataclass
class ShareMember:
    member_id: str
    member_epoch: int
    subscribed: tuple[str, ...]
    rack_id: str | None
    client_id: str
    client_host: str
    deadline_ms: int
    assignment: Assignment = frozenset()


@dataclass
class ShareGroup:
    group_id: str
    group_epoch: int = 0
    assignment_epoch: int = 0
    members: dict[str, ShareMember] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return "Stable" if self.members else "Empty"


@dataclass(frozen=True, slots=True)
class SessionExpiry:
    group_id: str
    member_id: str
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class ShareHeartbeat:
    group_id: str
    member_id: str
    member_epoch: int
    rack_id: str | None
    subscribed_topic_names: tuple[str, ...] | None
    client_id: str = ""
    client_host: str = ""


@dataclass(frozen=True, slots=True)
class ShareHeartbeatResult:
    error_code: ErrorCode
    error_message: str | None = None
    member_id: str | None = None
    member_epoch: int = 0
    heartbeat_interval_ms: int = 0
    assignment: Assignment | None = None


class ShareGroupManager:
    group_type = "share"
    record_key = ShareGroupKey

    def __init__(
        self, partitions: SharePartitions, session_timeout_ms: int, heartbeat_interval_ms: int
    ) -> None:
        self.partitions = partitions
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.groups: dict[str, ShareGroup] = {}

    # --- ShareGroupHeartbeat ---------------------------------------------------------------

    @classmethod
    def create(cls, config: CoordinatorConfig, share_log: InternalLog) -> ShareGroupManager:
        """The manager with its SharePartitions over the share state log."""
        return cls(
            SharePartitions(share_log, config),
            config.share_session_timeout_ms,
            config.share_heartbeat_interval_ms,
        )

    def heartbeat(self, req: ShareHeartbeat, ctx: Context) -> ShareHeartbeatResult:
        if not req.member_id:
            return ShareHeartbeatResult(ErrorCode.invalid_request, "MemberId can't be empty.")
        group = self.groups.get(req.group_id)
        if req.member_epoch == -1:
            if group is not None and req.member_id in group.members:
                self._remove(group, req.member_id, ctx)
            return ShareHeartbeatResult(ErrorCode.none, None, req.member_id, -1)
        if req.member_epoch == 0:
            if not req.subscribed_topic_names:
                return ShareHeartbeatResult(
                    ErrorCode.invalid_request, "SubscribedTopicNames must be set in first request."
                )
            group = self.groups.setdefault(req.group_id, ShareGroup(req.group_id))
            member = group.members.get(req.member_id)
            if member is None:
                member = ShareMember(
                    req.member_id, 0, (), req.rack_id, req.client_id, req.client_host, 0
                )
                group.members[req.member_id] = member
                group.group_epoch += 1
        else:
            member = group.members.get(req.member_id) if group is not None else None
            if group is None or member is None:
                return ShareHeartbeatResult(
                    ErrorCode.unknown_member_id, f"Member {req.member_id} is not in the group."
                )
            if req.member_epoch > member.member_epoch:
                return ShareHeartbeatResult(ErrorCode.fenced_member_epoch)
        if (
            req.subscribed_topic_names is not None
            and tuple(sorted(req.subscribed_topic_names)) != member.subscribed
        ):
            member.subscribed = tuple(sorted(req.subscribed_topic_names))
            group.group_epoch += 1
        if req.rack_id is not None:
            member.rack_id = req.rack_id
        self._reassign(group, ctx)
        self._touch(group, member, ctx)
        return ShareHeartbeatResult(
            ErrorCode.none,
            None,
            member.member_id,
            member.member_epoch,
            self.heartbeat_interval_ms,
            member.assignment,
        )

    def _reassign(self, group: ShareGroup, ctx: Context) -> None:
        """Recompute the target assignment when the group epoch moved or topics changed."""
        partition_counts = {
            topic: description.partitions
            for member in group.members.values()
            for topic in member.subscribed
            if (description := ctx.topics.get(topic)) is not None
        }
        subscriptions = {m.member_id: m.subscribed for m in group.members.values()}
        target = assign(subscriptions, partition_counts)
        changed = any(target[m] != group.members[m].assignment for m in target)
        if changed or group.assignment_epoch != group.group_epoch:
            if changed:
                group.group_epoch = max(group.group_epoch, group.assignment_epoch + 1)
            group.assignment_epoch = group.group_epoch
            for member_id, assignment in target.items():
                group.members[member_id].assignment = assignment
                group.members[member_id].member_epoch = group.group_epoch

    def _touch(self, group: ShareGroup, member: ShareMember, ctx: Context) -> None:
        member.deadline_ms = ctx.now_ms + self.session_timeout_ms
        ctx.fx.schedule(
            ("share-session", group.group_id, member.member_id),
            member.deadline_ms,
            SessionExpiry(group.group_id, member.member_id, member.deadline_ms),
        )

    def _remove(self, group: ShareGroup, member_id: str, ctx: Context) -> None:
        del group.members[member_id]
        group.group_epoch += 1
        ctx.fx.cancel(("share-session", group.group_id, member_id))
        self._reassign(group, ctx)

    def create_empty(self, group_id: str) -> None:
        """AlterShareGroupOffsets on an unknown group id makes it an empty share group."""
        self.groups.setdefault(group_id, ShareGroup(group_id))

    def is_member(self, group_id: str, member_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is not None and member_id in group.members

    # --- GroupManager -----------------------------------------------------------------------

    def owns(self, group_id: str) -> bool:
        return group_id in self.groups

    def is_empty(self, group_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is None or not group.members

    def remove_group(self, group_id: str, ctx: Context) -> None:
        self.groups.pop(group_id, None)

    def delete_group(self, group_id: str, ctx: Context) -> ErrorCode:
        if not self.is_empty(group_id):
            return ErrorCode.non_empty_group
        self.groups.pop(group_id, None)
        self.partitions.delete_group(group_id)
        return ErrorCode.none

    def start_load(self) -> None:
        self.groups.clear()

    def apply(self, key: bytes, decoded: GroupKey | ConsumerGroupKey, value: bytes | None) -> None:
        pass  # no share group records in the coordinator's log (module docstring)

    def finish_load(self, ctx: Context) -> None:
        """Groups with durable share state exist again, Empty (SharePartitions loads first)."""
        for group_id in self.partitions.group_ids():
            self.groups.setdefault(group_id, ShareGroup(group_id))

    def live_records(self) -> list[Record]:
        return []

    def on_executed(self, fx: Effects) -> None:
        pass  # nothing parked, and departures leave share sessions alone (module docstring)

    def on_timer(self, event: TimerEvent, ctx: Context) -> None:
        if not isinstance(event, SessionExpiry):
            return
        group = self.groups.get(event.group_id)
        member = group.members.get(event.member_id) if group is not None else None
        if group is not None and member is not None and member.deadline_ms == event.deadline_ms:
            self._remove(group, event.member_id, ctx)

    def shutdown(self) -> None:
        pass

    def validate_offset_commit(
        self, group_id: str, committer: OffsetCommitter, ctx: Context
    ) -> ErrorCode | None:
        return ErrorCode.group_id_not_found if group_id in self.groups else None

    def validate_offset_fetch(
        self, group_id: str, member_id: str | None, member_epoch: int
    ) -> ErrorCode | None:
        return ErrorCode.group_id_not_found

    def validate_offset_delete(self, group_id: str) -> frozenset[str]:
        raise KafkaError(ErrorCode.group_id_not_found)

    def prepare_offset_reset(self, group_id: str, live: bool, ctx: Context) -> ErrorCode | None:
        # A share group's offsets are its share-partition state: `katka share-group reset-offsets`.
        return ErrorCode.group_id_not_found

    def expire_offsets(self, ctx: Context) -> int:
        return 0

    def listed(self, states: set[str]) -> list[ListedGroup]:
        return [
            ListedGroup(g.group_id, "", g.state, "share")
            for g in self.groups.values()
            if not states or g.state.lower() in states
        ]

    def summaries(self) -> list[GroupSummary]:
        return [
            GroupSummary(
                g.group_id,
                g.state,
                "share",
                "",
                g.group_epoch,
                "",
                tuple(
                    MemberSummary(m.member_id, None, m.client_id, m.client_host, len(m.assignment))
                    for m in g.members.values()
                ),
                0,
                0,
            )
            for g in self.groups.values()
        ]

    def rebalance_history(self, group_id: str) -> list[RebalanceRecord]:
        return []
