"""docs/walkthrough.md, step by step: the commands it shows, run against a real broker, with
the consumer script taken from the document itself (so the two cannot drift apart)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import REPO, CliBroker, run_katka

# Each step runs consumers for a fixed time: minutes in all.
pytestmark = pytest.mark.slow

WALKTHROUGH = REPO / "docs" / "walkthrough.md"


def consumer_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", WALKTHROUGH.read_text(), re.DOTALL)
    [script] = [b for b in blocks if b.startswith("# consumer.py")]
    return script


class Walkthrough:
    def __init__(self, broker: CliBroker, workdir: Path) -> None:
        self.broker = broker
        self.script = workdir / "consumer.py"
        self.script.write_text(consumer_script())
        self.running: list[subprocess.Popen[str]] = []

    def katka(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = run_katka(*args, "--bootstrap-server", self.broker.bootstrap, input=input)
        assert result.returncode == 0, f"katka {' '.join(args)}: {result.stderr}"
        return result

    def describe(self, group: str) -> dict[str, Any]:
        return json.loads(self.katka("group", "describe", group, "--output", "json").stdout)  # type: ignore[no-any-return]

    def produce(self, topic: str, first: int, count: int) -> None:
        lines = "".join(f"order-{i}\n" for i in range(first, first + count))
        self.katka("produce", topic, input=lines)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(self.script), "--bootstrap", self.broker.bootstrap, *args]

    def start(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, text=True)
        self.running.append(process)
        return process

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # Generous: on a loaded 2-core CI machine a join can wait out a slow member's next poll.
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=90)

    def stop_all(self) -> None:
        for process in self.running:
            process.terminate()  # SIGTERM: the script leaves the group
        for process in self.running:
            process.wait(20)
        self.running.clear()

    def wait_for(
        self, group: str, check: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            result = run_katka(
                "group", "describe", group, "--output", "json", "-b", self.broker.bootstrap
            )
            # Until the first member joins, the group does not exist yet.
            assert result.returncode == 0 or "does not exist" in result.stderr, result.stderr
            described = json.loads(result.stdout) if result.returncode == 0 else {}
            if described and check(described):
                return described  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"group {group} never got there: {described}")
            time.sleep(0.3)


@pytest.fixture
def walk(cli_broker: CliBroker, tmp_path: Path) -> Iterator[Walkthrough]:
    walkthrough = Walkthrough(cli_broker, tmp_path)
    yield walkthrough
    for process in walkthrough.running:
        process.kill()


def stable_with(members: int) -> Callable[[dict[str, Any]], bool]:
    def check(described: dict[str, Any]) -> bool:
        return (
            described["state"] == "Stable"
            and len(described["members"]) == members
            and all(m["assignment"] or members > 6 for m in described["members"])
        )

    return check


def total_lag(described: dict[str, Any]) -> int:
    return sum(p["lag"] or 0 for p in described["partitions"])


def backlog(described: dict[str, Any]) -> int:
    """Records not consumed yet, counting partitions without a commit from offset 0."""
    return sum(p["log_end_offset"] - (p["committed_offset"] or 0) for p in described["partitions"])


def test_steps_1_to_3_and_5_lag_grows_consumers_split_partitions_the_seventh_idles_replay(
    walk: Walkthrough,
) -> None:
    walk.katka("topic", "create", "orders", "--partitions", "6")
    walk.produce("orders", 1, 600)
    # Step 1: one slow consumer (20 records/s) falls behind.
    walk.start("--client-id", "billing-1", "--delay", "0.05")
    first = walk.wait_for(
        "billing",
        lambda d: d["state"] == "Stable" and any(p["committed_offset"] for p in d["partitions"]),
    )
    before_second_batch = int(time.time() * 1000)
    time.sleep(0.05)
    walk.produce("orders", 601, 600)
    later = walk.describe("billing")
    assert backlog(later) > backlog(first) + 400
    assert all(p["lag_ms"] is None or p["lag_ms"] >= 0 for p in later["partitions"])
    table = walk.katka("group", "describe", "billing").stdout
    assert "LAG-TIME" in table and "billing-1" in table

    # Step 2: a second consumer in the group takes half of the partitions.
    walk.start("--client-id", "billing-2", "--delay", "0.05")
    split = walk.wait_for("billing", stable_with(2))
    assert sorted(len(m["assignment"]) for m in split["members"]) == [3, 3]

    # Step 3: seven consumers on six partitions: one of them sits idle.
    for number in range(3, 8):
        walk.start("--client-id", f"billing-{number}", "--delay", "0.05")
    seven = walk.wait_for("billing", stable_with(7))
    assert sorted(len(m["assignment"]) for m in seven["members"]) == [0, 1, 1, 1, 1, 1, 1]
    idle = walk.katka("group", "describe", "billing").stdout
    assert re.search(r"billing-\d\s+/127\.0\.0\.1\s+-\s+-\s*$", idle, re.MULTILINE), idle

    walk.stop_all()
    walk.wait_for("billing", lambda d: d["state"] == "Empty")

    # Step 5: replay everything produced since a point in time.
    plan = json.loads(
        walk.katka(
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--to-datetime",
            str(before_second_batch),
            "--output",
            "json",
        ).stdout
    )
    assert sum(p["new_offset"] for p in plan["partitions"]) == 600
    assert plan["executed"] is False
    walk.katka(
        "group",
        "reset-offsets",
        "billing",
        "--topic",
        "orders",
        "--to-datetime",
        str(before_second_batch),
        "--execute",
    )
    replayed = walk.describe("billing")
    assert sum(p["committed_offset"] for p in replayed["partitions"]) == 600
    assert total_lag(replayed) == 600


def test_step_4_auto_commit_loses_records_on_a_crash_where_manual_commit_does_not(
    walk: Walkthrough,
) -> None:
    walk.katka("topic", "create", "payments", "--partitions", "1")
    walk.produce("payments", 1, 20)
    for commit, expected_committed in (("auto", 10), ("manual", 3)):
        group = f"payments-{commit}"
        crashed = walk.run(
            "--topic", "payments", "--group", group, "--commit", commit, "--crash-after", "3"
        )
        assert crashed.returncode == 1
        assert crashed.stdout.split("\n")[:3] == ["processed 0:0", "processed 0:1", "processed 0:2"]
        [partition] = walk.describe(group)["partitions"]
        # auto: the whole batch of 10 was committed though only 3 were processed: 7 lost.
        assert partition["committed_offset"] == expected_committed


def test_steps_6_and_7_a_flaky_consumer_storms_and_static_membership_ends_it(
    walk: Walkthrough,
) -> None:
    walk.katka("topic", "create", "clicks", "--partitions", "6")
    # Plenty of records, so each flaky start still finds one to process.
    walk.produce("clicks", 1, 600)
    walk.start("--topic", "clicks", "--group", "storm", "--client-id", "steady", "--delay", "0.2")
    walk.wait_for("storm", stable_with(1))
    for _ in range(4):
        walk.run(
            "--topic", "clicks", "--group", "storm", "--client-id", "flaky", "--stop-after", "1"
        )
    walk.wait_for("storm", stable_with(1))
    shown = walk.katka("group", "rebalances", "storm").stdout
    assert "Rebalance storm: member flaky triggered" in shown
    assert "group.instance.id" in shown and "cooperative-sticky" in shown
    history = json.loads(walk.katka("group", "rebalances", "storm", "--output", "json").stdout)
    [storm] = history["storms"]
    assert storm["member"] == "flaky" and storm["rebalances"] >= 3

    # Step 7: the same restarts with a group.instance.id cause no rebalance after the first.
    static = (
        "--topic",
        "clicks",
        "--group",
        "storm",
        "--client-id",
        "flaky",
        "--instance-id",
        "flaky-1",
        "--stop-after",
        "1",
    )
    walk.run(*static)
    walk.wait_for("storm", stable_with(2))
    count = len(
        json.loads(walk.katka("group", "rebalances", "storm", "--output", "json").stdout)[
            "rebalances"
        ]
    )
    for _ in range(3):
        assert walk.run(*static).returncode == 0
    walk.wait_for("storm", stable_with(2))
    after = json.loads(walk.katka("group", "rebalances", "storm", "--output", "json").stdout)
    assert len(after["rebalances"]) == count
    members = walk.describe("storm")["members"]
    assert sorted(str(m["group_instance_id"]) for m in members) == ["None", "flaky-1"]


def pipeline_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", WALKTHROUGH.read_text(), re.DOTALL)
    [script] = [b for b in blocks if b.startswith("# pipeline.py")]
    return script


def test_step_8_a_transactional_pipeline_killed_mid_run_writes_no_duplicate(
    walk: Walkthrough, tmp_path: Path
) -> None:
    source, sink, group = "payments-eos", "billed-eos", "billing-eos-test"
    walk.katka("topic", "create", source, "--partitions", "1")
    walk.katka("topic", "create", sink, "--partitions", "1")
    walk.produce(source, 1, 20)
    script = tmp_path / "pipeline.py"
    script.write_text(pipeline_script())

    def pipeline(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(script), "--bootstrap", walk.broker.bootstrap]
        command += ["--source", source, "--sink", sink, "--group", group, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=90)

    def billed(isolation: str) -> list[str]:
        out = walk.katka(
            "consume",
            sink,
            "--from-beginning",
            "--exit-at-end",
            "-X",
            f"isolation.level={isolation}",
        ).stdout
        return out.splitlines()

    assert pipeline("--crash-after", "7").returncode == 1
    assert len(billed("read_uncommitted")) == 7
    assert len(billed("read_committed")) == 5
    assert pipeline().returncode == 0
    committed = billed("read_committed")
    assert sorted(committed) == sorted(f"billed order-{i}" for i in range(1, 21))
    assert len(billed("read_uncommitted")) == 22
    described = json.loads(walk.katka("transaction", "describe", group, "--output", "json").stdout)
    assert described["state"] == "CompleteCommit"


def share_consumer_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", WALKTHROUGH.read_text(), re.DOTALL)
    [script] = [b for b in blocks if b.startswith("# share_consumer.py")]
    return script


def test_step_9_twelve_share_consumers_on_three_partitions_all_work_and_process_each_job_once(
    walk: Walkthrough, tmp_path: Path
) -> None:
    script = tmp_path / "share_consumer.py"
    script.write_text(share_consumer_script())
    walk.katka("topic", "create", "jobs", "--partitions", "3")
    workers = []
    for n in range(1, 13):
        command = [sys.executable, str(script), "--bootstrap", walk.broker.bootstrap]
        command += ["--client-id", f"worker-{n}", "--delay", "0.01"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        walk.running.append(process)
        workers.append(process)

    def members() -> list[dict[str, Any]]:
        result = walk.katka("share-group", "describe", "workers", "--output", "json")
        return json.loads(result.stdout)["members"]  # type: ignore[no-any-return]

    deadline = time.monotonic() + 60
    while not (
        run_katka("share-group", "describe", "workers", "-b", walk.broker.bootstrap).returncode == 0
        and len(members()) == 12
    ):
        assert time.monotonic() < deadline, "the twelve workers never joined"
        time.sleep(0.3)
    assert all(m["assignment"] for m in members())
    lines = "".join(f"job-{i}:{i}\n" for i in range(1, 601))
    walk.katka("produce", "jobs", "--key-separator", ":", input=lines)
    deadline = time.monotonic() + 90
    while True:
        described = json.loads(
            walk.katka("share-group", "describe", "workers", "--output", "json").stdout
        )
        done = sum(p["start_offset"] for p in described["partitions"])
        if done == 600 and len(described["partitions"]) == 3:
            break
        assert time.monotonic() < deadline, f"not all jobs done: {described['partitions']}"
        time.sleep(0.3)
    walk.stop_all()
    outputs = [w.stdout.read() if w.stdout else "" for w in workers]
    processed = [
        line for out in outputs for line in out.splitlines() if line.startswith("processed")
    ]
    assert len(processed) == 600 and len(set(processed)) == 600
    assert sum(1 for out in outputs if "processed" in out) >= 9  # nearly all shared the work
