"""GroupCoordinator: routes by group kind, owns the one write path and replay.

Theory of operation: a group id names a group of exactly one protocol, owned by that protocol's
manager (classic/, consumer/ and share/manager.py). Each API call finds the manager (by the
protocol the API belongs to, or by who owns the group id), which runs plain domain functions
with a Context and leaves what they decided in its effects. `_execute` then appends the records
to the internal log (durable to the OS when it returns) and applies them through the one
`_apply`, schedules/cancels the named timers (a fired timer goes back to the manager that
scheduled it) and lets the manager answer parked requests. Committed offsets are one store for
every protocol, mutated by `_apply` alone.

Recovery is replay: `load()` feeds every record of the internal log through `_apply` (offset
records to the store, group records to the manager whose record key they carry), then each
manager rebuilds its groups from the last records (`finish_load`), and groups that hold only
offsets become Empty classic groups (Kafka's "simple" groups). Until `load()` finishes, calls
answer COORDINATOR_LOAD_IN_PROGRESS (Heartbeat answers NONE and SyncGroup REBALANCE_IN_PROGRESS,
as Kafka does for old clients); after `shutdown()`, COORDINATOR_NOT_AVAILABLE.

One group id, one protocol: joining with one protocol takes over an empty group of another
(its records are tombstoned, its offsets stay); a non-empty one refuses the other protocol
(classic JoinGroup: INCONSISTENT_GROUP_PROTOCOL; ConsumerGroupHeartbeat: GROUP_ID_NOT_FOUND, as
Kafka says when online migration does not apply).

How a new protocol plugs in (as KIP-932 share groups did, coordinator/share/): a manager that
implements group_manager.GroupManager, with its own record key type in records.py, its own
timer events (effects.TimerEvent) and its own API entry points here that take the group over
with `_take_over` and run through `_execute`; listing, deletion, offsets, expiry, replay and
compaction then route to it with no other change. A coordinator with its own internal log
(katka/transactions/ over __transaction_state) does not go through this service; it follows
the same pattern: operations return records plus an answer, records are appended and then
applied, and start-up replays them through the same apply.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from enum import Enum

from katka.clock import Clock
from katka.coordinator.classic.manager import ClassicGroupManager
from katka.coordinator.classic.requests import JoinGroupRequest, SyncGroupRequest
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer.heartbeat import (
    HeartbeatRequest,
    HeartbeatResponse,
    validate_request,
)
from katka.coordinator.consumer.manager import ConsumerGroupManager
from katka.coordinator.consumer.views import DescribedConsumerGroup
from katka.coordinator.effects import Context, Effects, TimerEvent
from katka.coordinator.group_manager import GroupManager
from katka.coordinator.history import RebalanceRecord
from katka.coordinator.history_records import HistoryStore
from katka.coordinator.internal_log import InternalLog, MemoryInternalLog
from katka.coordinator.offsets import (
    OffsetCommitter,
    OffsetStore,
    PartitionExists,
    build_commit,
    fetch_committed,
    plan_offset_delete,
)
from katka.coordinator.records import Record
from katka.coordinator.reply import Reply
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
    OffsetCommitPartition,
    OffsetCommitResult,
    OffsetDeleteResult,
    OffsetFetchResult,
    PartitionResult,
    SyncGroupResult,
)
from katka.coordinator.share.manager import ShareGroupManager, ShareHeartbeat, ShareHeartbeatResult
from katka.coordinator.timers import Timers
from katka.coordinator.topics import NoTopics, TopicImage
from katka.coordinator.txn_offsets import PendingTransactionalOffsets
from katka.coordinator.write_path import WritePath
from katka.errors import ErrorCode, KafkaError

__all__ = ["CoordinatorConfig", "GroupCoordinator"]

logger = logging.getLogger("katka.coordinator")

OFFSETS_EXPIRY_KEY: Hashable = ("offsets-expiry",)


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
        share_log: InternalLog | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._timers = timers  # owned by the coordinator: shutdown() cancels all of them
        self._log = log
        self._partition_exists = partition_exists
        self._topics = topics if topics is not None else NoTopics()
        self.offsets = OffsetStore()
        self.histories = HistoryStore()
        self.classic = ClassicGroupManager(config, self.offsets, self.histories)
        self.consumer = ConsumerGroupManager(config, self.offsets, self.histories, self._topics)
        self.share = ShareGroupManager.create(config, share_log or MemoryInternalLog())
        self.share_partitions = self.share.partitions  # loaded before finish_load
        self._managers: tuple[GroupManager, ...] = (self.classic, self.consumer, self.share)
        self._status = _Status.LOADING
        self._writes = WritePath(log, self.offsets, self.histories, self._managers)
        self._pending_txn_offsets = PendingTransactionalOffsets()

    # --- lifecycle -------------------------------------------------------------------

    def load(self) -> None:
        """Replay the internal log, restore groups and offsets, start the expiry timer."""
        self._status = _Status.LOADING
        self.offsets.clear()
        self.histories.clear()
        for manager in self._managers:
            manager.start_load()
        count, legacy = self._writes.replay()
        self._pending_txn_offsets.load(self._log.open_transactions())
        self.share_partitions.load()
        for manager in self._managers:
            ctx = self._context()
            manager.finish_load(ctx)
            self._execute(manager, ctx.fx)
        for group_id in self.offsets.group_ids():
            if self._owner(group_id) is None:
                self.classic.adopt(group_id, self._clock.now_ms())
        self._status = _Status.ACTIVE
        self._schedule_offsets_expiry()
        logger.info("coordinator loaded %d records", count)
        if legacy:
            # Rewrite the log at once, so tools reading __consumer_offsets see only Kafka's layout.
            live = self._writes.compact()
            logger.info(
                "rewrote %d records of katka 0.1's layout in Kafka's: %d live records", legacy, live
            )
        else:
            self.maybe_compact()

    def shutdown(self) -> None:
        """Stop timers and answer every parked request with COORDINATOR_NOT_AVAILABLE."""
        self._status = _Status.SHUTDOWN
        self._timers.cancel_all()
        for manager in self._managers:
            manager.shutdown()

    @property
    def is_active(self) -> bool:
        return self._status is _Status.ACTIVE

    # --- classic groups: JoinGroup / SyncGroup / Heartbeat / LeaveGroup ----------------------

    def join_group(self, request: JoinGroupRequest) -> Reply[JoinGroupResult]:
        """JoinGroup; the reply is answered now or when the join phase completes."""
        error = self._status_error() or self._group_id_error(request.group_id)
        if error is None and not self._take_over(request.group_id, self.classic):
            # Deviation: Kafka 4.0 lets classic members join a consumer group; we refuse.
            error = ErrorCode.inconsistent_group_protocol
        if error is not None:
            return Reply(JoinGroupResult.error(error, request.member_id))
        ctx = self._context()
        reply = self.classic.join_group(request, ctx)
        self._execute(self.classic, ctx.fx)
        return reply

    def sync_group(self, request: SyncGroupRequest) -> Reply[SyncGroupResult]:
        """SyncGroup; followers' replies are answered when the leader's assignment arrives."""
        if self._status is _Status.LOADING:
            # The rebalance state is gone: make the member rejoin without rediscovery.
            return Reply(SyncGroupResult(ErrorCode.rebalance_in_progress))
        error = self._status_error() or self._group_id_error(request.group_id)
        if error is not None:
            return Reply(SyncGroupResult(error))
        ctx = self._context()
        reply = self.classic.sync_group(request, ctx)
        self._execute(self.classic, ctx.fx)
        return reply

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
        ctx = self._context()
        code = self.classic.heartbeat(group_id, member_id, generation_id, group_instance_id, ctx)
        self._execute(self.classic, ctx.fx)
        return HeartbeatResult(code)

    def leave_group(self, group_id: str, members: Sequence[LeaveMember]) -> LeaveGroupResult:
        error = self._status_error() or self._group_id_error(group_id)
        if error is not None:
            return LeaveGroupResult(error)
        ctx = self._context()
        result = self.classic.leave_group(group_id, members, ctx)
        self._execute(self.classic, ctx.fx)
        return result

    def describe_groups(self, group_ids: Sequence[str]) -> list[DescribedGroup]:
        """DescribeGroups describes classic groups only, as in Kafka."""
        error = self._status_error()
        if error is not None:
            return [DescribedGroup(group_id, error, "", "", "") for group_id in group_ids]
        return [self.classic.describe(group_id) for group_id in group_ids]

    # --- consumer groups: ConsumerGroupHeartbeat / ConsumerGroupDescribe (KIP-848) ---------------

    def consumer_group_heartbeat(self, req: HeartbeatRequest) -> HeartbeatResponse:
        if not self.config.consumer_protocol_enabled:
            return HeartbeatResponse(
                ErrorCode.unsupported_version, "The consumer group protocol is not enabled."
            )
        error = self._status_error()
        if error is not None:
            return HeartbeatResponse(error)
        try:
            validate_request(req, self.config)
        except KafkaError as invalid:
            return HeartbeatResponse.error(invalid)
        if not self._take_over(req.group_id, self.consumer, joining=req.member_epoch == 0):
            message = f"Group {req.group_id} is not a consumer group."
            return HeartbeatResponse(ErrorCode.group_id_not_found, message)
        ctx = self._context()
        response = self.consumer.heartbeat(req, ctx)
        self._execute(self.consumer, ctx.fx)
        return response

    def consumer_group_describe(self, group_ids: Sequence[str]) -> list[DescribedConsumerGroup]:
        error = self._status_error()
        if error is not None:
            return [DescribedConsumerGroup(g, error) for g in group_ids]
        described = []
        for group_id in group_ids:
            owner = self._owner(group_id)
            if owner is not None and owner is not self.consumer:
                message = f"Group {group_id} is not a consumer group."
                described.append(
                    DescribedConsumerGroup(group_id, ErrorCode.group_id_not_found, message)
                )
            else:
                described.append(self.consumer.describe(group_id))
        return described

    # --- share groups (KIP-932): ShareFetch/ShareAcknowledge work on share_partitions ---------

    def share_group_heartbeat(self, req: ShareHeartbeat) -> ShareHeartbeatResult:
        joining = req.member_epoch == 0
        error = self._status_error() or self._group_id_error(req.group_id)
        if error is None and not self._take_over(req.group_id, self.share, joining=joining):
            error = ErrorCode.group_id_not_found
        if error is not None:
            return ShareHeartbeatResult(error)
        ctx = self._context()
        result = self.share.heartbeat(req, ctx)
        self._execute(self.share, ctx.fx)
        return result

    # --- offsets ---------------------------------------------------------------------------

    def commit_offsets(
        self,
        group_id: str,
        member_id: str,
        generation_id: int,
        offsets: Sequence[OffsetCommitPartition],
        *,
        group_instance_id: str | None = None,
        member_epoch_capable: bool = False,
        producer: tuple[int, int] | None = None,
        retention_time_ms: int = -1,
    ) -> OffsetCommitResult:
        """OffsetCommit; `member_epoch_capable` says the request is OffsetCommit v9+; a
        `retention_time_ms` other than -1 (v2-4) sets the offsets' expire timestamp. With
        `producer` (id, epoch) TxnOffsetCommit: the same checks (KIP-447 generation fencing
        included), but the offsets wait for the transaction's marker (txn_offsets.py)."""
        error = self._status_error()
        if error is not None:
            return OffsetCommitResult(
                tuple(PartitionResult(p.topic, p.partition, error) for p in offsets)
            )
        ctx = self._context()
        manager = self._owner(group_id) or self.classic  # groups are classic until joined
        verdict: ErrorCode | None = None
        # TxnOffsetCommit v0-2 carries no member id or generation: Kafka checks no membership
        # then (generation fencing, KIP-447, comes with v3's member fields).
        unchecked = producer is not None and not member_id and generation_id < 0
        if any(self._partition_exists(p.topic, p.partition) for p in offsets) and not unchecked:
            # (else Kafka answers unknown partitions before the coordinator sees the request)
            committer = OffsetCommitter(
                member_id, generation_id, group_instance_id, member_epoch_capable
            )
            verdict = manager.validate_offset_commit(group_id, committer, ctx)
        records, results = build_commit(
            group_id,
            offsets,
            group_error=verdict,
            partition_exists=self._partition_exists,
            max_metadata_size=self.config.offset_metadata_max_bytes,
            now_ms=ctx.now_ms,
            retention_time_ms=retention_time_ms,
        )
        try:
            if producer is None:
                ctx.fx.records.extend(records)
            elif records:
                self._log.append_transactional(records, *producer)
                self._pending_txn_offsets.add(producer[0], records)
            self._execute(manager, ctx.fx)
        except KafkaError as failure:
            if failure.code != ErrorCode.kafka_storage_error:
                raise
            # The append to the internal log failed (a full disk): nothing was applied. Kafka
            # answers NOT_COORDINATOR for a storage error here, so the client retries the commit.
            code = ErrorCode.not_coordinator
            return OffsetCommitResult(
                tuple(PartitionResult(p.topic, p.partition, code) for p in offsets)
            )
        return OffsetCommitResult(tuple(results))

    def complete_transaction(self, producer_id: int, commit: bool) -> None:
        """The transaction's marker is in the internal log: its offsets take effect or go."""
        for key, value in self._pending_txn_offsets.complete(producer_id, commit):
            self._apply(key, value)

    def fetch_offsets(
        self,
        group_id: str,
        partitions: Sequence[tuple[str, int]] | None,
        require_stable: bool = False,
        member_id: str | None = None,
        member_epoch: int = -1,
    ) -> OffsetFetchResult:
        """Committed offsets, whatever the group's state (standalone consumers have none).

        `partitions=None` means every committed partition. With `require_stable` (KIP-447) a
        partition with a transactional commit pending answers UNSTABLE_OFFSET_COMMIT. The member
        id and epoch (OffsetFetch v9+) are checked by the group's protocol.
        """
        error = self._status_error()
        manager = self._owner(group_id)
        if error is None and manager is not None:
            error = manager.validate_offset_fetch(group_id, member_id, member_epoch)
        if error is not None:
            return OffsetFetchResult(error)
        committed = self.offsets.group_offsets(group_id)
        fetched = fetch_committed(committed, partitions)
        if require_stable and self._pending_txn_offsets:
            unstable = self._pending_txn_offsets.pending_partitions(group_id)
            fetched = tuple(
                replace(f, error_code=ErrorCode.unstable_offset_commit)
                if (f.topic, f.partition) in unstable
                else f
                for f in fetched
            )
        return OffsetFetchResult(ErrorCode.none, fetched)

    def delete_offsets(
        self, group_id: str, partitions: Sequence[tuple[str, int]]
    ) -> OffsetDeleteResult:
        """OffsetDelete: refused per partition for topics the group still consumes."""
        error = self._status_error() or self._group_id_error(group_id)
        manager = self._owner(group_id)
        if error is None and manager is None:
            error = ErrorCode.group_id_not_found
        if error is not None or manager is None:
            return OffsetDeleteResult(error or ErrorCode.group_id_not_found)
        try:
            protected = manager.validate_offset_delete(group_id)
        except KafkaError as refused:
            return OffsetDeleteResult(refused.code)
        results, eligible = plan_offset_delete(partitions, protected, self._partition_exists)
        ctx = self._context()
        ctx.fx.records.extend(self.offsets.tombstones(group_id, eligible))
        self._execute(manager, ctx.fx)
        return OffsetDeleteResult(ErrorCode.none, tuple(results))

    def reset_offsets(
        self, group_id: str, offsets: Mapping[tuple[str, int], int], *, live: bool
    ) -> ErrorCode:
        """katka's offset reset (the admin API's, docs/admin-api.md): new committed offsets for
        an inactive group, or with `live` for an active one, whose members are fenced in the
        same append so that no commit of theirs from before can overwrite the reset."""
        error = self._status_error() or self._group_id_error(group_id)
        if error is not None:
            return error
        if self._pending_txn_offsets.pending_partitions(group_id) & set(offsets):
            # Their COMMIT marker would overwrite the reset, at run time and in replay.
            return ErrorCode.unstable_offset_commit
        manager = self._owner(group_id) or self.classic
        ctx = self._context()
        refused = manager.prepare_offset_reset(group_id, live, ctx)
        if refused is not None:
            return refused
        partitions = [OffsetCommitPartition(t, p, offset) for (t, p), offset in offsets.items()]
        records, _ = build_commit(
            group_id,
            partitions,
            group_error=None,
            partition_exists=self._partition_exists,
            max_metadata_size=self.config.offset_metadata_max_bytes,
            now_ms=ctx.now_ms,
        )
        ctx.fx.records[:0] = records  # the offsets first, then the fence, in one append
        self._execute(manager, ctx.fx)
        return ErrorCode.none

    def expire_offsets(self) -> int:
        """Drop expired offsets; remove empty groups left without offsets. Returns how many."""
        if not self.is_active:
            return 0
        removed = 0
        for manager in self._managers:
            ctx = self._context()
            removed += manager.expire_offsets(ctx)
            self._execute(manager, ctx.fx)
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

    # --- every protocol: listing, deletion, history ------------------------------------------

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
        for manager in self._managers:
            if not types or manager.group_type in types:
                listed.extend(manager.listed(states))
        return ListGroupsResult(ErrorCode.none, tuple(listed))

    def delete_groups(self, group_ids: Sequence[str]) -> list[DeleteGroupResult]:
        """DeleteGroups: only empty groups; their offsets go with them."""
        error = self._status_error()
        results = []
        for group_id in dict.fromkeys(group_ids):
            manager = self._owner(group_id)
            if error is not None:
                code = error
            elif manager is None:
                code = ErrorCode.group_id_not_found
            else:
                ctx = self._context()
                code = manager.delete_group(group_id, ctx)
                if code is ErrorCode.none:
                    ctx.fx.records.extend(self.offsets.tombstones(group_id))
                self._execute(manager, ctx.fx)
            results.append(DeleteGroupResult(group_id, code))
        return results

    def rebalance_history(self, group_id: str) -> list[RebalanceRecord]:
        manager = self._owner(group_id)
        return [] if manager is None else manager.rebalance_history(group_id)

    def group_summaries(self) -> list[GroupSummary]:
        return [summary for manager in self._managers for summary in manager.summaries()]

    # --- the write path, replay and compaction ------------------------------------------------

    def live_records(self) -> list[Record]:
        """The current state as records (write_path.py)."""
        return self._writes.live_records()

    def maybe_compact(self, min_records: int = 10_000) -> bool:
        """Rewrite the internal log as a snapshot once superseded records dominate it."""
        if self._pending_txn_offsets:
            return False  # the snapshot would drop the open transactions' offsets
        return self._writes.maybe_compact(min_records)

    def _apply(self, key: bytes, value: bytes | None) -> None:
        """Apply one record (write_path.py); offsets of an unknown group adopt it at run time."""
        offset_key = self._writes.apply(key, value)
        if (
            offset_key is not None
            and value is not None
            and self.is_active
            and self._owner(offset_key.group_id) is None
        ):
            self.classic.adopt(offset_key.group_id, self._clock.now_ms())

    def _append(self, records: list[Record]) -> None:
        """Make records durable, then apply them (the one write path of every record)."""
        if self._writes.append(records):
            for key, value in records:
                self._apply(key, value)

    def _execute(self, manager: GroupManager, fx: Effects) -> None:
        """Records first (durable, then applied), then timers, then parked answers."""
        self._append(fx.records)
        for op in fx.timer_ops:
            if op.deadline_ms is None or op.event is None:
                self._timers.cancel(op.key)
            else:
                callback = functools.partial(self._on_timer, manager, op.event)
                self._timers.schedule(op.key, op.deadline_ms, callback)
        manager.on_executed(fx)

    def _on_timer(self, manager: GroupManager, event: TimerEvent) -> None:
        if self.is_active:
            ctx = self._context()
            manager.on_timer(event, ctx)
            self._execute(manager, ctx.fx)

    # --- routing ----------------------------------------------------------------------------

    def _owner(self, group_id: str) -> GroupManager | None:
        """The manager of the protocol the group id belongs to; None for an unknown id."""
        return next((m for m in self._managers if m.owns(group_id)), None)

    def _take_over(self, group_id: str, manager: GroupManager, *, joining: bool = True) -> bool:
        """Whether `manager` may serve the group id: an empty group of another protocol gives
        way to a joining member (its records go, its offsets stay)."""
        owner = self._owner(group_id)
        if owner is None or owner is manager:
            return True
        if not joining or not owner.is_empty(group_id):
            return False
        ctx = self._context()
        owner.remove_group(group_id, ctx)
        self._execute(owner, ctx.fx)
        return True

    def _context(self) -> Context:
        return Context(
            self._clock.now_ms(),
            self.config,
            self._topics,
            group_configs=self.share_partitions.group_configs,
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
