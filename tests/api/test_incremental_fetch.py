"""Fetch with sessions (KIP-227), request in, response out: a session is created by epoch 0,
incremental fetches read and answer only the partitions with something to say, bad ids and
epochs are refused, forgotten partitions leave, epoch -1 closes."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest

from katka.api import fetch
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.protocol.codec import request_schema
from katka.protocol.records import decode_records
from tests.api.harness import ApiHarness, build, edges
from tests.api.test_log_apis import batch, produce_to
from tests.api.test_parked_fetch import settle

NO_WAIT = datetime.timedelta(0)
VERSION = 12


def fetch_request(
    session_id: int,
    epoch: int,
    partitions: dict[tuple[str, int], int],
    forgotten: dict[str, list[int]] | None = None,
    max_wait: datetime.timedelta = NO_WAIT,
    version: int = VERSION,
) -> Any:
    by_topic: dict[str, list[dict[str, int]]] = {}
    for (topic, partition), offset in partitions.items():
        by_topic.setdefault(topic, []).append(
            {"partition": partition, "fetch_offset": offset, "partition_max_bytes": 1 << 20}
        )
    return build(
        request_schema(fetch.API_KEY, version),
        dict(
            max_wait=max_wait,
            min_bytes=1,
            max_bytes=1 << 20,
            session_id=session_id,
            session_epoch=epoch,
            topics=[{"topic": t, "partitions": ps} for t, ps in by_topic.items()],
            forgotten_topics_data=[
                {"topic": t, "partitions": ps} for t, ps in (forgotten or {}).items()
            ],
        ),
    )


def call(api: ApiHarness, request: Any, version: int = VERSION) -> Any:
    context = RequestContext(fetch.API_KEY, version, 7, "api-test", "127.0.0.1")
    response = fetch.handle(context, request, api.node)
    if asyncio.iscoroutine(response):
        response = api.loop.run_until_complete(asyncio.wait_for(response, 5))
    return response


def answered(response: Any) -> dict[tuple[str, int], list[bytes]]:
    return {
        (topic.topic, p.partition_index): [
            r.value for r in decode_records(bytes(p.records or b"")) if r.value is not None
        ]
        for topic in response.responses
        for p in topic.partitions
    }


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every partition a fetch read from its log."""
    seen: list[tuple[str, int]] = []
    answer = fetch._Reader.answer

    def spy(self: Any, topic: str, fetch_partition: Any) -> Any:
        seen.append((topic, fetch_partition.partition))
        return answer(self, topic, fetch_partition)

    monkeypatch.setattr(fetch._Reader, "answer", spy)
    return seen


def test_an_incremental_fetch_of_many_partitions_reads_and_answers_only_those_with_data(
    api: ApiHarness, reads: list[tuple[str, int]]
) -> None:
    api.node.topics.create_topic("wide", 1000, {})
    everything = {("wide", p): 0 for p in range(1000)}
    created = call(api, fetch_request(0, 0, everything))
    assert created.session_id != 0 and len(answered(created)) == 1000
    reads.clear()
    idle = call(api, fetch_request(created.session_id, 1, {}))
    assert idle.error_code == ErrorCode.none and idle.session_id == created.session_id
    assert answered(idle) == {} and reads == []
    produce_to(api, 3, "wide", 17, batch(b"a"))
    produce_to(api, 3, "wide", 900, batch(b"b"))
    with_data = call(api, fetch_request(created.session_id, 2, {}))
    assert answered(with_data) == {("wide", 17): [b"a"], ("wide", 900): [b"b"]}
    assert sorted(reads) == [("wide", 17), ("wide", 900)]
    reads.clear()
    caught_up = call(api, fetch_request(created.session_id, 3, {("wide", 17): 1, ("wide", 900): 1}))
    assert answered(caught_up) == {} and sorted(reads) == [("wide", 17), ("wide", 900)]


def test_a_parked_incremental_fetch_wakes_for_a_session_partition_it_did_not_name(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("wide", 100, {})
    created = call(api, fetch_request(0, 0, {("wide", p): 0 for p in range(100)}))
    request = fetch_request(created.session_id, 1, {}, max_wait=datetime.timedelta(seconds=30))
    context = RequestContext(fetch.API_KEY, VERSION, 7, "api-test", "127.0.0.1")
    pending = fetch.handle(context, request, api.node)
    assert asyncio.iscoroutine(pending)
    task = api.loop.create_task(pending)
    settle(api)
    assert not task.done()
    produce_to(api, 3, "wide", 42, batch(b"late"))
    settle(api)
    assert task.done()
    assert answered(task.result()) == {("wide", 42): [b"late"]}


def test_unknown_sessions_and_wrong_epochs_are_refused_without_a_session_id(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    created = call(api, fetch_request(0, 0, {("orders", 0): 0}))
    unknown = call(api, fetch_request(created.session_id + 1, 1, {}))
    assert unknown.error_code == ErrorCode.fetch_session_id_not_found and unknown.session_id == 0
    stale = call(api, fetch_request(created.session_id, 5, {}))
    assert stale.error_code == ErrorCode.invalid_fetch_session_epoch and stale.session_id == 0
    assert call(api, fetch_request(created.session_id, 1, {})).error_code == ErrorCode.none
    replayed = call(api, fetch_request(created.session_id, 1, {}))
    assert replayed.error_code == ErrorCode.invalid_fetch_session_epoch


def test_forgotten_partitions_leave_the_session_and_forgetting_all_closes_it(
    api: ApiHarness, reads: list[tuple[str, int]]
) -> None:
    api.node.topics.create_topic("orders", 2, {})
    created = call(api, fetch_request(0, 0, {("orders", 0): 0, ("orders", 1): 0}))
    call(api, fetch_request(created.session_id, 1, {}, forgotten={"orders": [0]}))
    produce_to(api, 3, "orders", 0, batch(b"forgotten"))
    produce_to(api, 3, "orders", 1, batch(b"kept"))
    reads.clear()
    response = call(api, fetch_request(created.session_id, 2, {}))
    assert answered(response) == {("orders", 1): [b"kept"]} and reads == [("orders", 1)]
    closed = call(api, fetch_request(created.session_id, 3, {}, forgotten={"orders": [1]}))
    assert closed.session_id == 0 and closed.error_code == ErrorCode.none
    assert api.node.fetch_sessions.get(created.session_id) is None


def test_a_partition_added_to_a_session_is_answered_at_once(api: ApiHarness) -> None:
    api.node.topics.create_topic("orders", 2, {})
    produce_to(api, 3, "orders", 1, batch(b"there"))
    created = call(api, fetch_request(0, 0, {("orders", 0): 0}))
    added = call(api, fetch_request(created.session_id, 1, {("orders", 1): 0}))
    assert answered(added) == {("orders", 1): [b"there"]}


def test_a_full_fetch_naming_a_session_closes_it_and_epoch_minus_one_creates_none(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    created = call(api, fetch_request(0, 0, {("orders", 0): 0}))
    final = call(api, fetch_request(created.session_id, -1, {("orders", 0): 0}))
    assert final.session_id == 0 and len(api.node.fetch_sessions) == 0
    again = call(api, fetch_request(created.session_id, 0, {("orders", 0): 0}))
    assert again.session_id not in (0, created.session_id)
    assert len(api.node.fetch_sessions) == 1


def test_a_deleted_topic_is_answered_with_its_error_until_forgotten(api: ApiHarness) -> None:
    api.node.topics.create_topic("gone", 1, {})
    api.node.topics.create_topic("kept", 1, {})
    created = call(api, fetch_request(0, 0, {("gone", 0): 0, ("kept", 0): 0}))
    api.node.topics.delete_topic("gone")
    api.node.appends.notify([("gone", 0)])
    for epoch in (1, 2):
        response = call(api, fetch_request(created.session_id, epoch, {}))
        (topic,) = response.responses
        assert topic.topic == "gone"
        assert topic.partitions[0].error_code == ErrorCode.unknown_topic_or_partition
    forgotten = call(api, fetch_request(created.session_id, 3, {}, forgotten={"gone": [0]}))
    assert forgotten.responses == ()


@edges(fetch)
def test_only_versions_with_sessions_create_them(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    response = call(api, fetch_request(0, 0, {("orders", 0): 0}, version=version), version)
    assert len(api.node.fetch_sessions) == (1 if version >= 7 else 0)
    assert getattr(response, "session_id", 0) != 0 or version < 7


def test_with_no_session_slots_every_fetch_is_full(api_no_slots: ApiHarness) -> None:
    api_no_slots.node.topics.create_topic("orders", 1, {})
    response = call(api_no_slots, fetch_request(0, 0, {("orders", 0): 0}))
    assert response.session_id == 0 and answered(response) == {("orders", 0): []}


@pytest.fixture
def api_no_slots() -> Any:
    harness = ApiHarness({"max.incremental.fetch.session.cache.slots": "0"})
    yield harness
    harness.close()
