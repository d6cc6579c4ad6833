import pytest

from katka.coordinator.classic.state import (
    VALID_PREVIOUS_STATES,
    GroupState,
    GroupStateMachine,
    IllegalStateTransition,
)

S = GroupState


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (prev, target)
        for target, prevs in VALID_PREVIOUS_STATES.items()
        for prev in sorted(prevs, key=lambda state: state.value)  # one order in every process
    ],
)
def test_every_transition_in_the_table_is_allowed_and_recorded(current, target):
    machine = GroupStateMachine(current, now_ms=100)
    machine.transition_to(target, now_ms=250)
    assert machine.state is target
    assert machine.previous_state is current
    assert machine.state_changed_ms == 250


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.EMPTY, S.STABLE),
        (S.EMPTY, S.COMPLETING_REBALANCE),
        (S.STABLE, S.EMPTY),
        (S.STABLE, S.COMPLETING_REBALANCE),
        (S.PREPARING_REBALANCE, S.STABLE),
        (S.COMPLETING_REBALANCE, S.EMPTY),
        (S.DEAD, S.EMPTY),
        (S.DEAD, S.PREPARING_REBALANCE),
        (S.STABLE, S.STABLE),
    ],
)
def test_transitions_kafka_forbids_raise_and_leave_the_state_unchanged(current, target):
    machine = GroupStateMachine(current, now_ms=100)
    with pytest.raises(IllegalStateTransition):
        machine.transition_to(target, now_ms=200)
    assert machine.state is current
    assert machine.state_changed_ms == 100


def test_only_stable_completing_and_empty_groups_can_start_a_rebalance():
    can = {s for s in S if GroupStateMachine(s, 0).can_rebalance()}
    assert can == {S.STABLE, S.COMPLETING_REBALANCE, S.EMPTY}


def test_state_values_are_the_strings_kafka_reports():
    assert [s.value for s in S] == [
        "Empty",
        "PreparingRebalance",
        "CompletingRebalance",
        "Stable",
        "Dead",
    ]
