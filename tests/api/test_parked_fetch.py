"""Parked fetches wait on their own partitions: a change wakes only the fetches parked on the
partitions it changed, and a woken fetch re-reads only those partitions."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from katka.api import delete_records, delete_topics, end_txn, fetch
from katka.api._appends import AppendNotifier, PartitionWaiter
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.protocol.codec import request_schema
from katka.protocol.records import decode_records
from tests.api.harness import ApiHarness, build
from tests.api.test_log_apis import batch, produce_to
from tests.api.test_transaction_apis import TXN, begin, write

LONG_WAIT = datetime.timedelta(seconds=30)
FETCH_VERSION = 12


@pytest.fixture(autouse=True)
def cancel_parked(api: ApiHarness) -> Iterator[None]:
    """Fetches a failed test left parked are cancelled, not leaked."""
    yield
    for task in asyncio.all_tasks(api.loop):
        task.cancel()
    settle(api)


@pytest.fixture
def wakeups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every (partition) a parked fetch was woken for."""
    woken: list[tuple[str, int]] = []
    on_change = PartitionWaiter.on_change

    def spy(self: PartitionWaiter, partition: tuple[str, int]) -> None:
        woken.append(partition)
        on_change(self, partition)

    monkeypatch.setattr(PartitionWaiter, "on_change", spy)
    yield woken


@pytest.fixture
def rereads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every partition a parked fetch re-read after a wake-up."""
    seen: list[tuple[str, int]] = []
    ready_records = fetch._ready_records

    def spy(
        request: Any, node: Any, partition: tuple[str, int], fetch_partition: Any
    ) -> bytes | memoryview:
        seen.append(partition)
        return ready_records(request, node, partition, fetch_partition)

    monkeypatch.setattr(fetch, "_ready_records", spy)
    return seen


def park(
    api: ApiHarness,
    partitions: dict[tuple[str, int], int],
    min_bytes: int = 1,
    isolation_level: int = 0,
    max_wait: datetime.timedelta = LONG_WAIT,
) -> asyncio.Task[Any]:
    """A fetch of `partitions` (partition -> fetch offset) that must park: runs as a task."""
    by_topic: dict[str, list[dict[str, int]]] = {}
    for (topic, partition), offset in partitions.items():
        by_topic.setdefault(topic, []).append(
            {"partition": partition, "fetch_offset": offset, "partition_max_bytes": 1 << 20}
        )
    request = build(
        request_schema(fetch.API_KEY, FETCH_VERSION),
        dict(
            max_wait=max_wait,
            min_bytes=min_bytes,
            max_bytes=1 << 20,
            isolation_level=isolation_level,
            session_epoch=-1,
            topics=[{"topic": t, "partitions": ps} for t, ps in by_topic.items()],
        ),
    )
    context = RequestContext(fetch.API_KEY, FETCH_VERSION, 7, "api-test", "127.0.0.1")
    pending = fetch.handle(context, request, api.node)
    assert asyncio.iscoroutine(pending), "the fetch was answered at once instead of parking"
    task = api.loop.create_task(pending)
    settle(api)
    return task


def settle(api: ApiHarness) -> None:
    """Let the loop run what is ready (a woken fetch re-reads and maybe answers)."""
    for _ in range(5):
        api.loop.run_until_complete(asyncio.sleep(0))


def records_of(response: Any) -> dict[tuple[str, int], list[bytes]]:
    return {
        (topic.topic, p.partition_index): [r.value for r in decode_records(bytes(p.records or b""))]
        for topic in response.responses
        for p in topic.partitions
    }


def test_the_notifier_wakes_only_the_waiters_of_the_partitions_it_is_told() -> None:
    notifier = AppendNotifier()
    on_a, on_b = PartitionWaiter(), PartitionWaiter()
    notifier.watch(on_a, [("t", 0), ("t", 1)])
    notifier.watch(on_b, [("t", 2)])
    notifier.notify([("t", 1), ("u", 0)])

    async def changes() -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        return await on_a.changed(0), await on_b.changed(0)

    assert asyncio.run(changes()) == ({("t", 1)}, set())


def test_a_finished_fetch_leaves_nothing_in_the_notifier() -> None:
    notifier = AppendNotifier()
    with notifier.parked([("t", 0), ("t", 1)]):
        assert notifier.waiting_on(("t", 0)) == notifier.waiting_on(("t", 1)) == 1
    assert notifier.waiting_on(("t", 0)) == notifier.waiting_on(("t", 1)) == 0
    assert not notifier._waiters


def test_a_produce_to_another_partition_wakes_no_parked_fetch(
    api: ApiHarness, wakeups: list[tuple[str, int]]
) -> None:
    api.node.topics.create_topic("orders", 2, {})
    parked = [park(api, {("orders", 0): 0}) for _ in range(3)]
    produce_to(api, 3, "orders", 1, batch(b"elsewhere"))
    settle(api)
    assert wakeups == []
    assert not any(task.done() for task in parked)
    produce_to(api, 3, "orders", 0, batch(b"here"))
    settle(api)
    assert wakeups == [("orders", 0)] * 3
    for task in parked:
        assert task.done()
        assert records_of(task.result())[("orders", 0)] == [b"here"]
    assert api.node.appends.waiting_on(("orders", 0)) == 0


def test_a_woken_fetch_rereads_only_the_partitions_that_changed(
    api: ApiHarness, rereads: list[tuple[str, int]]
) -> None:
    api.node.topics.create_topic("orders", 3, {})
    produce_to(api, 3, "orders", 2, batch(b"already there"))
    one_batch = len(batch(b"x" * 10))
    task = park(
        api, {("orders", 0): 0, ("orders", 1): 0, ("orders", 2): 0}, min_bytes=3 * one_batch
    )
    produce_to(api, 3, "orders", 1, batch(b"x" * 10))
    settle(api)
    assert rereads == [("orders", 1)]
    assert not task.done()  # two batches ready, three wanted
    produce_to(api, 3, "orders", 0, batch(b"y" * 10))
    settle(api)
    assert rereads == [("orders", 1), ("orders", 0)]
    assert task.done()
    assert records_of(task.result()) == {
        ("orders", 0): [b"y" * 10],
        ("orders", 1): [b"x" * 10],
        ("orders", 2): [b"already there"],
    }


def test_a_woken_fetch_answers_with_what_its_wake_up_read_without_reading_it_again(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    task = park(api, {("orders", 0): 0})
    log_class = type(api.node.topics.get_log("orders", 0))
    reads: list[int] = []
    read = log_class.read

    def counting(self: Any, fetch_offset: int, *args: Any, **kwargs: Any) -> Any:
        reads.append(fetch_offset)
        return read(self, fetch_offset, *args, **kwargs)

    monkeypatch.setattr(log_class, "read", counting)
    produce_to(api, 3, "orders", 0, batch(b"new"))
    settle(api)
    assert task.done()
    assert records_of(task.result()) == {("orders", 0): [b"new"]}
    assert reads == [0]  # the wake-up's read is the answer's


def test_a_read_committed_fetch_answers_when_the_commit_moves_the_last_stable_offset(
    api: ApiHarness, wakeups: list[tuple[str, int]]
) -> None:
    producer_id, epoch = begin(api)
    task = park(api, {("orders", 0): 0}, isolation_level=fetch.READ_COMMITTED)
    write(api, producer_id, epoch)
    settle(api)
    assert wakeups == [("orders", 0)]
    assert not task.done()  # appended, but not stable yet
    api.call(
        end_txn,
        3,
        transactional_id=TXN,
        producer_id=producer_id,
        producer_epoch=epoch,
        committed=True,
    )
    settle(api)
    assert task.done()
    (answer,) = task.result().responses[0].partitions
    assert answer.last_stable_offset == 2
    assert decode_records(bytes(answer.records))[0].value == b"v"  # then the marker


def test_a_read_uncommitted_fetch_answers_at_the_transactional_append(api: ApiHarness) -> None:
    producer_id, epoch = begin(api)
    task = park(api, {("orders", 0): 0})
    write(api, producer_id, epoch)
    settle(api)
    assert task.done()
    assert records_of(task.result())[("orders", 0)] == [b"v"]


def test_delete_records_past_a_parked_fetch_answers_it_offset_out_of_range(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a", b"b"))
    task = park(api, {("orders", 0): 0}, min_bytes=1 << 20)  # parked on too few bytes
    api.call(
        delete_records,
        2,
        topics=[{"name": "orders", "partitions": [{"partition_index": 0, "offset": -1}]}],
        timeout=datetime.timedelta(seconds=5),
    )
    settle(api)
    assert task.done()
    (answer,) = task.result().responses[0].partitions
    assert answer.error_code == ErrorCode.offset_out_of_range


def test_deleting_a_topic_answers_the_fetches_parked_on_it(api: ApiHarness) -> None:
    api.node.topics.create_topic("orders", 1, {})
    task = park(api, {("orders", 0): 0})
    response = api.call(
        delete_topics, 5, topic_names=["orders"], timeout=datetime.timedelta(seconds=5)
    )
    assert response.responses[0].error_code == ErrorCode.none
    settle(api)
    assert task.done()
    (answer,) = task.result().responses[0].partitions
    assert answer.error_code == ErrorCode.unknown_topic_or_partition


def test_a_parked_fetch_with_no_change_answers_empty_when_its_wait_ends(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    task = park(api, {("orders", 0): 0}, max_wait=datetime.timedelta(milliseconds=20))
    api.loop.run_until_complete(asyncio.wait_for(task, 5))
    assert records_of(task.result()) == {("orders", 0): []}
    assert api.node.appends.waiting_on(("orders", 0)) == 0


def test_a_parked_fetch_that_saw_no_change_answers_without_reading_again(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    task = park(api, {("orders", 0): 0}, max_wait=datetime.timedelta(milliseconds=20))
    reads: list[str] = []
    answer = fetch._Reader.answer

    def spy(self: Any, topic: str, fetch_partition: Any) -> Any:
        reads.append(topic)
        return answer(self, topic, fetch_partition)

    monkeypatch.setattr(fetch._Reader, "answer", spy)
    api.loop.run_until_complete(asyncio.wait_for(task, 5))
    assert reads == []
    assert records_of(task.result()) == {("orders", 0): []}
