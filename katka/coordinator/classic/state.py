"""The classic group state machine: Kafka's five states and the one table of valid moves.

Theory of operation: a group is Empty until a member joins, then PreparingRebalance (members
(re)join), CompletingRebalance (the leader computes assignments; SyncGroup), Stable; any
membership or metadata change sends it back to PreparingRebalance. Dead means the group is
being removed. Every state change goes through `transition_to()`, which refuses moves Kafka's
ClassicGroupState forbids and records the previous state and the time, because offset expiry
(KIP-211) counts from the moment a group became Empty.
"""

from __future__ import annotations

from enum import Enum


class GroupState(Enum):
    """Kafka's ClassicGroupState; the value is the string DescribeGroups/ListGroups report."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


# Short names for the protocol modules (join.py, membership.py, rebalance.py, manager.py).
EMPTY = GroupState.EMPTY
PREPARING = GroupState.PREPARING_REBALANCE
COMPLETING = GroupState.COMPLETING_REBALANCE
STABLE = GroupState.STABLE
DEAD = GroupState.DEAD

_S = GroupState

# target state -> the states it may be entered from (ClassicGroupState.validPreviousStates).
VALID_PREVIOUS_STATES: dict[GroupState, frozenset[GroupState]] = {
    _S.EMPTY: frozenset({_S.PREPARING_REBALANCE}),
    _S.PREPARING_REBALANCE: frozenset({_S.STABLE, _S.COMPLETING_REBALANCE, _S.EMPTY}),
    _S.COMPLETING_REBALANCE: frozenset({_S.PREPARING_REBALANCE}),
    _S.STABLE: frozenset({_S.COMPLETING_REBALANCE}),
    _S.DEAD: frozenset(
        {_S.STABLE, _S.PREPARING_REBALANCE, _S.COMPLETING_REBALANCE, _S.EMPTY, _S.DEAD}
    ),
}


class IllegalStateTransition(RuntimeError):
    """A bug: the coordinator tried a move Kafka's state machine forbids."""


def can_transition(current: GroupState, target: GroupState) -> bool:
    return current in VALID_PREVIOUS_STATES[target]


class GroupStateMachine:
    """Holds the current state, the previous one, and when the current one was entered."""

    def __init__(self, state: GroupState, now_ms: int) -> None:
        self.state = state
        self.previous_state: GroupState | None = None
        # Kafka's currentStateTimestamp: offsets of an Empty group expire counted from here.
        self.state_changed_ms = now_ms

    def transition_to(self, target: GroupState, now_ms: int) -> None:
        if not can_transition(self.state, target):
            raise IllegalStateTransition(
                f"group cannot transition from {self.state.value} to {target.value}"
            )
        self.previous_state = self.state
        self.state = target
        self.state_changed_ms = now_ms

    def is_state(self, *states: GroupState) -> bool:
        return self.state in states

    def can_rebalance(self) -> bool:
        """Only Stable, CompletingRebalance and Empty groups may start a new rebalance."""
        return can_transition(self.state, GroupState.PREPARING_REBALANCE)
