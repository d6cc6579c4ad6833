"""GroupCoordinator: owns the groups and the offset store; the asyncio edge of the domain.

Theory of operation: each API call runs a plain domain function (classic.py, rebalance.py,
offsets.py) that returns its answer plus Effects; `_execute` then appends the records to the
internal log (synchronously: durable to the OS when it returns) and applies them through the
one `_apply`, schedules/cancels the named timers, and answers other members' parked
JoinGroup/SyncGroup requests. Parked requests are callbacks keyed by (group_id, member_id);
`join_group`/`sync_group` wrap them in futures, so a parked member never blocks anyone.

Recovery is replay: `load()` feeds every record of the internal log through `_apply`, then
rebuilds groups from their last metadata record (Stable with members whose sessions restart,
or Empty) and creates Empty groups for offsets without group metadata (standalone consumers).
Until `load()` finishes, calls answer COORDINATOR_LOAD_IN_PROGRESS (Heartbeat answers NONE and
SyncGroup REBALANCE_IN_PROGRESS, as Kafka does for old clients); after `shutdown()`,
COORDINATOR_NOT_AVAILABLE.

Group records change in-memory groups only during load; at run time the domain has already
changed the group and the record only makes it durable. Offset records are applied at run
time too: the offset store is mutated by `apply` alone.

KIP-848 consumer groups (ConsumerGroupHeartbeat) live in consumer_service.ConsumerGroupService,
composed here: a group id names either a classic group or a consumer group. Joining one kind
takes over an empty group of the other kind; a non-empty one refuses the other protocol
(classic JoinGroup: INCONSISTENT_GROUP_PROTOCOL; ConsumerGroupHeartbeat: GROUP_ID_NOT_FOUND, as
Kafka says when online migration does not apply). Offsets, listing, deletion and expiry
dispatch on the kind.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from enum import Enum
from typing import TypeVar

from katka.clock import Clock
from katka.coordinator.classic import join as classic
from katka.coordinator.classic import membership, rebalance
from katka.coordinator.classic.group import ClassicGroup
from katka.coordinator.classic.state import GroupState
from katka.coordinator.classic.timeouts import HeartbeatExpiry, JoinExpiry, SyncExpiry
from katka.coordinator.classic.views import describe_group, group_summary
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer import heartbeat as consumer
from katka.coordinator.consumer.heartbeat import HeartbeatRequest, HeartbeatResponse
from katka.coordinator.consumer.manager import ConsumerGroupService, DescribedConsumerGroup
from katka.coordinator.effects import Context, Effects, TimerEvent
from katka.coordinator.history import RebalanceRecord
from katka.coordinator.internal_log import InternalLog
from katka.coordinator.offsets import (
    OffsetStore,
    PartitionExists,
    build_commit,
    expired_partitions,
    fetch_committed,
    plan_offset_delete,
)
from katka.coordinator.records import (
    ConsumerGroupKey,
    GroupSnapshot,
    OffsetKey,
    Record,
    decode_group_value,
    decode_key,
    group_key,
    group_tombstone,
    offset_commit_record,
)
from katka.coordinator.results import (
    DeleteGroupResult,
    DescribedGroup,
    GroupSummary,
    HeartbeatResult,
    JoinGroupResult,
    LeaveGroupResult,
    LeaveMember,
    ListedGroup,
    ListGroupsResult,
    MemberLeaveResult,
    OffsetCommitPartition,
    OffsetCommitResult,
    OffsetDeleteResult,
    OffsetFetchResult,
    Parked,
    PartitionResult,
    SyncGroupResult,
)
from katka.coordinator.timers import Timers
from katka.coordinator.topics import NoTopics, TopicImage
from katka.errors import ErrorCode, KafkaError

__all__ = ["CoordinatorConfig", "GroupCoordinator"]

logger = logging.getLogger("katka.coordinator")

T = TypeVar("T")
JoinCallback = Callable[[JoinGroupResult], None]
SyncCallback = Callable[[SyncGroupResult], None]
OFFSETS_EXPIRY_KEY: Hashable = ("offsets-expiry",)
GROUP_TYPE = "classic"


class _Status(Enum):
    LOADING = "loading"
    ACTIVE = "active"
    SHUTDOWN = "shutdown"


class GroupCoordinator:
    def __init__(
        self,
        config: CoordinatorConfig,
        clock: Clock,
        timers: Timers,
        log: InternalLog,
        partition_exists: PartitionExists,
        topics: TopicImage | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._timers = timers  # owned by the coordinator: shutdown() cancels all of them
        self._log = log
        self._partition_exists = partition_exists
        self._groups: dict[str, ClassicGroup] = {}
        self._offsets = OffsetStore()
        self._status = _Status.LOADING
        self._loaded_snapshots: dict[str, GroupSnapshot] = {}
        self._group_values: dict[str, bytes] = {}  # the last group metadata record per group
        self._records_since_compaction = 0
        self._join_waiters: dict[tuple[str, str], JoinCallback] = {}
        self._sync_waiters: dict[tuple[str, str], SyncCallback] = {}
        self.consumer_groups = ConsumerGroupService(
            config,
            clock,
            timers,
            topics if topics is not None else NoTopics(),
            self._append,
            lambda: self._offsets,
        )

    # --- lifecycle -------------------------------------------------------------------

    def load(self) -> None:
        """Replay the internal log, restore groups and offsets, start the expiry timer."""
        self._status = _Status.LOADING
        self._groups.clear()
        self._offsets = OffsetStore()
        self._loaded_snapshots = {}
        self._group_values = {}
        self.consumer_groups.start_load()
        count = 0
        for key, value in self._log.replay():
            self._apply(key, value)
            count += 1
        self._records_since_compaction = count
        ctx = self._context()
        for group_id, snapshot in self._loaded_snapshots.items():
            self._groups[group_id] = rebalance.load_group(group_id, snapshot, ctx)
        self.consumer_groups.finish_load()
        for group_id in self._offsets.group_ids():
            if group_id not in self._groups and group_id not in self.consumer_groups.groups:
                self._groups[group_id] = self._new_group(group_id)
        self._loaded_snapshots = {}
        self._status = _Status.ACTIVE
        self._execute(None, ctx.fx)
        self._schedule_offsets_expiry()
        logger.info("coordinator loaded %d records: %d groups", count, len(self._groups))
        self.maybe_compact()

    def shutdown(self) -> None:
        """Stop timers and answer every parked request with COORDINATOR_NOT_AVAILABLE."""
        self._status = _Status.SHUTDOWN
        self._timers.cancel_all()
        joins, self._join_waiters = self._join_waiters, {}
        syncs, self._sync_waiters = self._sync_waiters, {}
        for (_, member_id), join_callback in joins.items():
            join_callback(JoinGroupResult.error(ErrorCode.coordinator_not_available, member_id))
        for sync_callback in syncs.values():
            sync_callback(SyncGroupResult(ErrorCode.coordinator_not_available))

    @property
    def is_active(self) -> bool:
        return self._status is _Status.ACTIVE

    # --- JoinGroup / SyncGroup -----------------------------------------------------------

    def handle_join_group(
        self,
        group_id: str,
        member_id: str,
        *,
        callback: JoinCallback,
        api_version: int,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Sequence[tuple[str, bytes]],
        group_instance_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """JoinGroup; `callback` gets the answer now or when the join phase completes."""
        error = self._status_error() or self._group_id_error(group_id)
        if error is not None:
            callback(JoinGroupResult.error(error, member_id))
            return
        if group_id in self.consumer_groups.groups:
            if not self.consumer_groups.is_empty(group_id):
                # Deviation: Kafka 4.0 lets classic members join a consumer group; we refuse.
                callback(JoinGroupResult.error(ErrorCode.inconsistent_group_protocol, member_id))
                return
            self.consumer_groups.delete_group(group_id)  # an empty consumer group gives way
        group = self._groups.get(group_id)
        created = group is None
        if group is None:
            if member_id:
                callback(JoinGroupResult.error(ErrorCode.unknown_member_id, member_id))
                return
            group = self._new_group(group_id)
            self._groups[group_id] = group
        request = classic.JoinRequest(
            member_id=member_id,
            client_id=client_id,
            client_host=client_host,
            session_timeout_ms=session_timeout_ms,
            # JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout.
            rebalance_timeout_ms=(
                rebalance_timeout_ms if rebalance_timeout_ms >= 0 else session_timeout_ms
            ),
            protocol_type=protocol_type,
            protocols=tuple(protocols),
            group_instance_id=group_instance_id,
            require_known_member_id=api_version >= 4,
            supports_skipping_assignment=api_version >= 9,
            reason=reason,
        )
        ctx = self._context()
        result = classic.join_group(group, request, ctx)
        if isinstance(result, Parked):
            key = (group_id, result.member_id)
            previous = self._join_waiters.get(key)
            self._join_waiters[key] = callback
            if previous is not None:
                # A retried JoinGroup replaces the parked one (Kafka drops the old future).
                previous(JoinGroupResult.error(ErrorCode.rebalance_in_progress, result.member_id))
        self._execute(group, ctx.fx)
        if not isinstance(result, Parked):
            callback(result)
        if created:
            self._maybe_discard_unused(group)

    async def join_group(
        self,
        group_id: str,
        member_id: str,
        *,
        api_version: int,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Sequence[tuple[str, bytes]],
        group_instance_id: str | None = None,
        reason: str | None = None,
    ) -> JoinGroupResult:
        """JoinGroup; waits (without blocking others) until the join phase completes."""
        return await self._park(
            self._join_waiters,
            lambda callback: self.handle_join_group(
                group_id,
                member_id,
                callback=callback,
                api_version=api_version,
                client_id=client_id,
                client_host=client_host,
                session_timeout_ms=session_timeout_ms,
                rebalance_timeout_ms=rebalance_timeout_ms,
                protocol_type=protocol_type,
                protocols=protocols,
                group_instance_id=group_instance_id,
                reason=reason,
            ),
        )

    def handle_sync_group(
        self,
        group_id: str,
        member_id: str,
        generation_id: int,
        *,
        callback: SyncCallback,
        assignments: Mapping[str, bytes],
        group_instance_id: str | None = None,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
    ) -> None:
        """SyncGroup; followers' callbacks run when the leader's assignment arrives."""
        if self._status is _Status.LOADING:
            # The rebalance state is gone: make the member rejoin without rediscovery.
            callback(SyncGroupResult(ErrorCode.rebalance_in_progress))
            return
        error = self._status_error() or self._group_id_error(group_id)
        group = self._groups.get(group_id)
        if error is None and group is None:
            error = ErrorCode.unknown_member_id
        if error is not None or group is None:
            callback(SyncGroupResult(error or ErrorCode.unknown_member_id))
            return
        request = membership.SyncRequest(
            member_id=member_id,
            generation_id=generation_id,
            group_instance_id=group_instance_id,
            protocol_type=protocol_type,
            protocol_name=protocol_name,
            assignments=dict(assignments),
        )
        ctx = self._context()
        result = membership.sync_group(group, request, ctx)
        if isinstance(result, Parked):
            self._sync_waiters[(group_id, result.member_id)] = callback
        self._execute(group, ctx.fx)
        if not isinstance(result, Parked):
            callback(result)

    async def sync_group(
        self,
        group_id: str,
        member_id: str,
        generation_id: int,
        *,
        assignments: Mapping[str, bytes],
        group_instance_id: str | None = None,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
    ) -> SyncGroupResult:
        """SyncGroup; a follower waits for the leader's assignment."""
        return await self._park(
            self._sync_waiters,
            lambda callback: self.handle_sync_group(
                group_id,
                member_id,
                generation_id,
                callback=callback,
                assignments=assignments,
                group_instance_id=group_instance_id,
                protocol_type=protocol_type,
                protocol_name=protocol_name,
            ),
        )

    async def _park(
        self,
        waiters: dict[tuple[str, str], Callable[[T], None]],
        start: Callable[[Callable[[T], None]], None],
    ) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def answer(result: T) -> None:
            if not future.done():
                future.set_result(result)

        start(answer)
        try:
            return await future
        finally:
            # A cancelled request (client gone) must not receive a later answer.
            for key in [k for k, v in waiters.items() if v is answer]:
                del waiters[key]

    # --- Heartbeat / LeaveGroup ------------------------------------------------------------

    def heartbeat(
        self,
        group_id: str,
        member_id: str,
        generation_id: int,
        group_instance_id: str | None = None,
    ) -> HeartbeatResult:
        if self._status is _Status.LOADING:
            return HeartbeatResult(ErrorCode.none)  # Kafka answers blindly while loading
        error = self._status_error() or self._group_id_error(group_id)
        if error is not None:
            return HeartbeatResult(error)
        group = self._groups.get(group_id)
        if group is None:
            return HeartbeatResult(ErrorCode.unknown_member_id)
        ctx = self._context()
        code = membership.heartbeat(group, member_id, group_instance_id, generation_id, ctx)
        self._execute(group, ctx.fx)
        return HeartbeatResult(code)

    def leave_group(self, group_id: str, members: Sequence[LeaveMember]) -> LeaveGroupResult:
        error = self._status_error() or self._group_id_error(group_id)
        if error is not None:
            return LeaveGroupResult(error)
        group = self._groups.get(group_id)
        if group is None:
            return LeaveGroupResult(
                ErrorCode.none,
                tuple(
                    MemberLeaveResult(m.member_id, m.group_instance_id, ErrorCode.unknown_member_id)
                    for m in members
                ),
            )
        ctx = self._context()
        result = membership.leave_group(group, members, ctx)
        self._execute(group, ctx.fx)
        return result

    # --- ConsumerGroupHeartbeat / ConsumerGroupDescribe (KIP-848) ------------------------

    def consumer_group_heartbeat(self, req: HeartbeatRequest) -> HeartbeatResponse:
        if not self.config.consumer_protocol_enabled:
            return HeartbeatResponse(
                ErrorCode.unsupported_version, "The consumer group protocol is not enabled."
            )
        error = self._status_error()
        if error is not None:
            return HeartbeatResponse(error)
        try:
            consumer.validate_request(req, self.config)
        except KafkaError as invalid:
            return HeartbeatResponse.error(invalid)
        classic_group = self._groups.get(req.group_id)
        if classic_group is not None:
            empty = classic_group.is_state(GroupState.EMPTY) and not classic_group.pending_members
            if req.member_epoch != 0 or not empty:
                message = f"Group {req.group_id} is not a consumer group."
                return HeartbeatResponse(ErrorCode.group_id_not_found, message)
            # An empty classic group (maybe only holding offsets) becomes a consumer group.
            ctx = self._context()
            rebalance.mark_dead(classic_group, ctx)
            if req.group_id in self._group_values:
                ctx.fx.records.append(group_tombstone(req.group_id))
            self._execute(classic_group, ctx.fx)
        return self.consumer_groups.heartbeat(req)

    def consumer_group_describe(self, group_ids: Sequence[str]) -> list[DescribedConsumerGroup]:
        error = self._status_error()
        if error is not None:
            return [DescribedConsumerGroup(g, error) for g in group_ids]
        return self.consumer_groups.describe(group_ids, classic=self._groups.keys())

    # --- offsets ---------------------------------------------------------------------------

    def commit_offsets(
        self,
        group_id: str,
        member_id: str,
        generation_id: int,
        offsets: Sequence[OffsetCommitPartition],
        *,
        group_instance_id: str | None = None,
        api_version: int = 8,
    ) -> OffsetCommitResult:
        error = self._status_error()
        if error is not None:
            return OffsetCommitResult(
                tuple(PartitionResult(p.topic, p.partition, error) for p in offsets)
            )
        if not any(self._partition_exists(p.topic, p.partition) for p in offsets):
            # Kafka answers unknown partitions before the coordinator sees the request.
            records, results = self._build_commit(group_id, offsets, None)
            return OffsetCommitResult(tuple(results))
        consumer_group = self.consumer_groups.groups.get(group_id)
        if consumer_group is not None:
            verdict = self.consumer_groups.validate_offset_commit(
                consumer_group, member_id, generation_id, api_version
            )
            records, results = self._build_commit(group_id, offsets, verdict)
            self._append(records)
            return OffsetCommitResult(tuple(results))
        group = self._groups.get(group_id)
        created = False
        ctx = self._context()
        group_error: ErrorCode | None
        if group is None and generation_id < 0:
            # A "simple" group: standalone consumers and admin tools keep offsets here.
            group = self._new_group(group_id)
            self._groups[group_id] = group
            created = True
        if group is None:
            # OffsetCommit v9+ says so; older versions said ILLEGAL_GENERATION.
            group_error = (
                ErrorCode.group_id_not_found if api_version >= 9 else ErrorCode.illegal_generation
            )
        else:
            group_error = membership.validate_offset_commit(
                group, member_id, group_instance_id, generation_id, ctx
            )
        records, results = self._build_commit(group_id, offsets, group_error)
        ctx.fx.records.extend(records)
        self._execute(group, ctx.fx)
        if created and group is not None:
            self._maybe_discard_unused(group)
        return OffsetCommitResult(tuple(results))

    def _build_commit(
        self,
        group_id: str,
        offsets: Sequence[OffsetCommitPartition],
        group_error: ErrorCode | None,
    ) -> tuple[list[Record], list[PartitionResult]]:
        return build_commit(
            group_id,
            offsets,
            group_error=group_error,
            partition_exists=self._partition_exists,
            max_metadata_size=self.config.offset_metadata_max_bytes,
            now_ms=self._clock.now_ms(),
        )

    def fetch_offsets(
        self,
        group_id: str,
        partitions: Sequence[tuple[str, int]] | None,
        require_stable: bool = False,
        member_id: str | None = None,
        member_epoch: int = -1,
    ) -> OffsetFetchResult:
        """Committed offsets, whatever the group's state (standalone consumers have none).

        `partitions=None` means every committed partition. `require_stable` (KIP-447) has no
        effect until transactional offset commits exist: no commit is ever pending. The member
        id and epoch (OffsetFetch v9+) are checked for consumer groups only, as in Kafka.
        """
        error = self._status_error()
        consumer_group = self.consumer_groups.groups.get(group_id)
        if error is None and consumer_group is not None:
            error = self.consumer_groups.validate_offset_fetch(
                consumer_group, member_id, member_epoch
            )
        if error is not None:
            return OffsetFetchResult(error)
        committed = self._offsets.group_offsets(group_id)
        return OffsetFetchResult(ErrorCode.none, fetch_committed(committed, partitions))

    def delete_offsets(
        self, group_id: str, partitions: Sequence[tuple[str, int]]
    ) -> OffsetDeleteResult:
        """OffsetDelete: refused per partition for topics the group still consumes."""
        error = self._status_error() or self._group_id_error(group_id)
        if error is None and group_id in self.consumer_groups.groups:
            return self.consumer_groups.delete_offsets(group_id, partitions, self._partition_exists)
        group = self._groups.get(group_id)
        if error is None and (group is None or group.is_state(GroupState.DEAD)):
            error = ErrorCode.group_id_not_found
        if error is not None or group is None:
            return OffsetDeleteResult(error or ErrorCode.group_id_not_found)
        group_error, results, eligible = plan_offset_delete(
            group, partitions, self._partition_exists
        )
        if group_error is not ErrorCode.none:
            return OffsetDeleteResult(group_error)
        ctx = self._context()
        ctx.fx.records.extend(self._offsets.tombstones(group_id, eligible))
        self._execute(group, ctx.fx)
        return OffsetDeleteResult(ErrorCode.none, tuple(results))

    def expire_offsets(self) -> int:
        """Drop expired offsets; remove Empty groups left without offsets. Returns how many."""
        if not self.is_active:
            return 0
        now_ms = self._clock.now_ms()
        removed = 0
        for group in list(self._groups.values()):
            committed = self._offsets.group_offsets(group.group_id)
            expired = expired_partitions(
                committed,
                protocol_type=group.protocol_type,
                state=group.state,
                state_changed_ms=group.state_changed_ms,
                subscribed_topics=group.subscribed_topics,
                now_ms=now_ms,
                retention_ms=self.config.offsets_retention_ms,
            )
            ctx = self._context()
            ctx.fx.records.extend(self._offsets.tombstones(group.group_id, expired))
            removed += len(expired)
            if (
                group.is_state(GroupState.EMPTY)
                and len(expired) == len(committed)
                and not group.pending_members
            ):
                rebalance.mark_dead(group, ctx)
                ctx.fx.records.append(group_tombstone(group.group_id))
            self._execute(group, ctx.fx)
        removed += self.consumer_groups.expire_offsets()
        if removed:
            logger.info("removed %d expired offsets", removed)
        return removed

    def _schedule_offsets_expiry(self) -> None:
        deadline = self._clock.now_ms() + self.config.offsets_retention_check_interval_ms
        self._timers.schedule(OFFSETS_EXPIRY_KEY, deadline, self._on_offsets_expiry_timer)

    def _on_offsets_expiry_timer(self) -> None:
        if self.is_active:
            self.expire_offsets()
            self.maybe_compact()
            self._schedule_offsets_expiry()

    def live_records(self) -> list[Record]:
        """The current state as records: the last metadata of each group, each committed offset."""
        records: list[Record] = [(group_key(g), value) for g, value in self._group_values.items()]
        records.extend(self.consumer_groups.live_records())
        for group_id in self._offsets.group_ids():
            for (topic, partition), value in self._offsets.group_offsets(group_id).items():
                records.append(offset_commit_record(group_id, topic, partition, value))
        return records

    def maybe_compact(self, min_records: int = 10_000) -> bool:
        """Rewrite the internal log as a snapshot once superseded records dominate it.

        Kafka compacts __consumer_offsets by key; katka has no compaction, so the coordinator
        snapshots its own state instead, which keeps start-up replay proportional to the live
        state rather than to the history of commits.
        """
        live = self.live_records()
        if self._records_since_compaction < max(min_records, 2 * len(live)):
            return False
        self._log.compact(live)
        logger.info(
            "compacted the coordinator log: %d records replaced by %d live ones",
            self._records_since_compaction,
            len(live),
        )
        self._records_since_compaction = len(live)
        return True

    # --- admin -----------------------------------------------------------------------------

    def describe_groups(self, group_ids: Sequence[str]) -> list[DescribedGroup]:
        error = self._status_error()
        described = []
        for group_id in group_ids:
            group = self._groups.get(group_id)
            if error is not None:
                described.append(DescribedGroup(group_id, error, "", "", ""))
            elif group is None or group.is_state(GroupState.DEAD):
                # Consumer groups too: Kafka's DescribeGroups describes classic groups only.
                described.append(
                    DescribedGroup(
                        group_id, ErrorCode.none, GroupState.DEAD.value, "", "", exists=False
                    )
                )
            else:
                described.append(describe_group(group))
        return described

    def list_groups(
        self, states_filter: Sequence[str] = (), types_filter: Sequence[str] = ()
    ) -> ListGroupsResult:
        """ListGroups; filters (v4 states, v5 types) match case-insensitively."""
        error = self._status_error()
        if error is not None:
            return ListGroupsResult(error)
        states = {s.lower() for s in states_filter}
        types = {t.lower() for t in types_filter}
        listed: list[ListedGroup] = []
        if not types or GROUP_TYPE in types:
            listed.extend(
                ListedGroup(g.group_id, g.protocol_type or "", g.state.value, GROUP_TYPE)
                for g in self._groups.values()
                if not g.is_state(GroupState.DEAD)
                and (not states or g.state.value.lower() in states)
            )
        if not types or "consumer" in types:
            listed.extend(self.consumer_groups.listed(states))
        return ListGroupsResult(ErrorCode.none, tuple(listed))

    def delete_groups(self, group_ids: Sequence[str]) -> list[DeleteGroupResult]:
        """DeleteGroups: only Empty groups; their offsets go with them."""
        error = self._status_error()
        results = []
        for group_id in dict.fromkeys(group_ids):
            group = self._groups.get(group_id)
            if error is not None:
                code = error
            elif group_id in self.consumer_groups.groups:
                code = self.consumer_groups.delete_group_and_offsets(group_id)
            elif group is None or group.is_state(GroupState.DEAD):
                code = ErrorCode.group_id_not_found
            elif not group.is_state(GroupState.EMPTY):
                code = ErrorCode.non_empty_group
            else:
                ctx = self._context()
                rebalance.mark_dead(group, ctx)
                ctx.fx.records.extend(self._offsets.tombstones(group_id))
                ctx.fx.records.append(group_tombstone(group_id))
                self._execute(group, ctx.fx)
                code = ErrorCode.none
            results.append(DeleteGroupResult(group_id, code))
        return results

    def rebalance_history(self, group_id: str) -> list[RebalanceRecord]:
        consumer_history = self.consumer_groups.rebalance_history(group_id)
        if consumer_history is not None:
            return consumer_history
        group = self._groups.get(group_id)
        return [] if group is None else list(group.history.entries)

    def group_summaries(self) -> list[GroupSummary]:
        return [
            group_summary(g, len(self._offsets.group_offsets(g.group_id)))
            for g in self._groups.values()
        ] + self.consumer_groups.summaries()

    # --- plumbing --------------------------------------------------------------------------

    def _context(self) -> Context:
        return Context(self._clock.now_ms(), self.config)

    def _new_group(self, group_id: str) -> ClassicGroup:
        return ClassicGroup(
            group_id, self._clock.now_ms(), history_size=self.config.rebalance_history_size
        )

    def _status_error(self) -> ErrorCode | None:
        if self._status is _Status.LOADING:
            return ErrorCode.coordinator_load_in_progress
        if self._status is _Status.SHUTDOWN:
            return ErrorCode.coordinator_not_available
        return None

    @staticmethod
    def _group_id_error(group_id: str) -> ErrorCode | None:
        # Group-management APIs need a non-empty id; offsets/describe/delete accept "".
        return ErrorCode.invalid_group_id if not group_id else None

    def _maybe_discard_unused(self, group: ClassicGroup) -> None:
        """Forget a group a failed first request created (nothing refers to it)."""
        if (
            group.is_state(GroupState.EMPTY)
            and not group.members
            and not group.pending_members
            and group.generation_id == 0
            and not self._offsets.has_offsets(group.group_id)
            and self._groups.get(group.group_id) is group
        ):
            del self._groups[group.group_id]

    def _apply(self, key: bytes, value: bytes | None) -> None:
        """The one place records take effect, at run time and during replay."""
        decoded = decode_key(key)
        self._records_since_compaction += 1
        if isinstance(decoded, OffsetKey):
            self._offsets.apply(decoded, value)
            return
        if isinstance(decoded, ConsumerGroupKey):
            self.consumer_groups.apply(key, decoded, value)
            return
        if value is None:
            self._group_values.pop(decoded.group_id, None)
        else:
            self._group_values[decoded.group_id] = value
        if self._status is _Status.LOADING:
            if value is None:
                self._loaded_snapshots.pop(decoded.group_id, None)
            else:
                self._loaded_snapshots[decoded.group_id] = decode_group_value(value)

    def _append(self, records: list[Record]) -> None:
        """Make records durable, then apply them (the one write path of every record)."""
        if not records:
            return
        try:
            self._log.append(records)
        except KafkaError as error:
            if error.code != ErrorCode.kafka_storage_error or any(
                isinstance(decode_key(key), OffsetKey) for key, _ in records
            ):
                raise  # an offset commit is refused, never acknowledged unwritten
            # Group metadata could not be written (a full disk). The members still get their
            # answers and timers, so nobody is left parked; a restart reloads the last metadata
            # that was written and the members rejoin.
            logger.warning("group metadata not written: %s", error.message)
            return
        for key, value in records:
            self._apply(key, value)

    def _execute(self, group: ClassicGroup | None, fx: Effects) -> None:
        self._append(fx.records)
        for op in fx.timer_ops:
            if op.deadline_ms is None or op.event is None:
                self._timers.cancel(op.key)
            else:
                self._timers.schedule(
                    op.key, op.deadline_ms, functools.partial(self._on_timer, op.event)
                )
        if group is not None:
            if group.is_state(GroupState.DEAD) and self._groups.get(group.group_id) is group:
                del self._groups[group.group_id]
            for member_id, join_result in fx.join_responses.items():
                join_callback = self._join_waiters.pop((group.group_id, member_id), None)
                if join_callback is not None:
                    join_callback(join_result)
            for member_id, sync_result in fx.sync_responses.items():
                sync_callback = self._sync_waiters.pop((group.group_id, member_id), None)
                if sync_callback is not None:
                    sync_callback(sync_result)

    def _on_timer(self, event: TimerEvent) -> None:
        if not self.is_active:
            return
        group = self._groups.get(event.group_id)
        if group is None or not isinstance(event, HeartbeatExpiry | JoinExpiry | SyncExpiry):
            return  # the group is gone: a stale timer
        ctx = self._context()
        rebalance.on_timer(group, event, ctx)
        self._execute(group, ctx.fx)
