"""`katka produce` and `katka consume` as a user runs them, against a real broker."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cli.conftest import CliBroker, Run
from tests.conditions import wait_until


def topic_with_records(katka: Run, name: str, partitions: int = 1, lines: str = "") -> str:
    katka("topic", "create", name, "--partitions", str(partitions), check=True)
    if lines:
        katka("produce", name, "--key-separator", ":", "--partition", "0", input=lines, check=True)
    return name


def test_produced_lines_come_back_with_keys_headers_and_positions(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("t")
    katka("topic", "create", name, "--partitions", "2", check=True)
    produced = katka(
        "produce",
        name,
        "--key-separator",
        ":",
        "--header",
        "source=cli",
        "--header",
        "v=2",
        "--partition",
        "1",
        "--acks",
        "1",
        "--compression",
        "zstd",
        input="alice:one\nbob:two:with:colons\n",
    )
    assert produced.returncode == 0, produced.stderr
    assert produced.stdout.startswith(f"Produced 2 records (30 bytes) to {name} in ")
    consumed = katka(
        "consume", name, "--from-beginning", "--exit-at-end", "--format", r"%p %o %k=%v [%h]\n"
    )
    assert consumed.returncode == 0, consumed.stderr
    assert (
        consumed.stdout
        == "1 0 alice=one [source=cli,v=2]\n1 1 bob=two:with:colons [source=cli,v=2]\n"
    )
    assert consumed.stderr == "Processed a total of 2 messages\n"


def test_consume_starts_at_an_offset_the_tail_or_a_time(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = topic_with_records(katka, unique("t"), lines="".join(f"k{i}:v{i}\n" for i in range(5)))

    def values(*args: str) -> list[str]:
        result = katka("consume", name, "--exit-at-end", "--format", r"%v\n", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert values("--offset", "3") == ["v3", "v4"]
    assert values("--offset", "-2") == ["v3", "v4"]
    assert values("--from-time", "-1h") == [f"v{i}" for i in range(5)]
    assert values("--from-time", "2999-01-01T00:00:00Z") == []
    assert values("--from-beginning", "--max-messages", "2") == ["v0", "v1"]
    assert values("--from-beginning", "--partition", "0", "--max-messages", "1") == ["v0"]


def test_json_output_is_one_object_per_record(katka: Run, unique: Callable[[str], str]) -> None:
    name = topic_with_records(katka, unique("t"), lines="k:v\n")
    result = katka("consume", name, "--from-beginning", "--exit-at-end", "--output", "json")
    record = json.loads(result.stdout)
    assert (record["topic"], record["partition"], record["offset"]) == (name, 0, 0)
    assert (record["key"], record["value"], record["headers"]) == ("k", "v", [])
    assert record["timestamp"] > 0


def test_produce_reads_a_file_and_reports_a_json_summary(
    katka: Run, unique: Callable[[str], str], tmp_path: Path
) -> None:
    name = unique("t")
    katka("topic", "create", name, "--partitions", "3", check=True)
    source = tmp_path / "events.txt"
    source.write_text("".join(f"event {i}\n" for i in range(1000)))
    result = katka("produce", name, "--file", str(source), "--progress", "--output", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["records"], summary["failed"], summary["bytes"]) == (1000, 0, 9890)
    counted = katka("consume", name, "--from-beginning", "--exit-at-end", "--format", r"%o\n")
    assert len(counted.stdout.split()) == 1000


def test_a_group_consumer_commits_what_it_printed(katka: Run, unique: Callable[[str], str]) -> None:
    name = topic_with_records(katka, unique("t"), lines="a:1\nb:2\nc:3\n")
    group = unique("g")
    first = katka(
        "consume",
        name,
        "--group",
        group,
        "--from-beginning",
        "--max-messages",
        "2",
        "--commit",
        "manual",
    )
    assert first.stdout == "1\n2\n", first.stderr
    rest = katka("consume", name, "--group", group, "--max-messages", "1")
    assert rest.stdout == "3\n", rest.stderr
    described = json.loads(katka("group", "describe", group, "--output", "json", check=True).stdout)
    assert [(p["committed_offset"], p["lag"]) for p in described["partitions"]] == [(3, 0)]


def test_bad_consume_input_is_refused_with_one_line(
    katka: Run, unique: Callable[[str], str]
) -> None:
    unknown = katka("consume", "no-such-topic", "--exit-at-end")
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "katka: error: Topic 'no-such-topic' does not exist as expected\n",
    )
    name = topic_with_records(katka, unique("t"))
    bad_time = katka("consume", name, "--from-time", "yesterday")
    assert bad_time.returncode == 2
    assert bad_time.stderr.startswith(
        "katka: error: Invalid value for --from-time: invalid time 'yesterday'"
    )
    assert bad_time.stderr.count("\n") == 1
    bad_partition = katka("consume", name, "--partition", "7")
    assert (bad_partition.returncode, bad_partition.stderr) == (
        1,
        f"katka: error: partition 7 does not exist: {name} has 1 partition\n",
    )
    bad_format = katka("consume", name, "--format", "%q")
    assert bad_format.returncode == 2 and "unknown field %q" in bad_format.stderr
    no_group = katka("consume", name, "--commit", "manual")
    assert no_group.returncode == 2 and "--commit manual needs --group" in no_group.stderr


def test_bad_produce_input_is_refused_with_one_line(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = topic_with_records(katka, unique("t"))
    missing_key = katka("produce", name, "--key-separator", ":", input="no separator\n")
    assert missing_key.returncode == 1
    assert missing_key.stderr == (
        "katka: error: line 1: no key separator ':' found; nothing was produced; "
        "line 1 and the lines after it were not sent\n"
    )
    bad_partition = katka("produce", name, "--partition", "3", input="x\n")
    assert (bad_partition.returncode, bad_partition.stderr) == (
        1,
        f"katka: error: partition 3 does not exist: {name} has 1 partition\n",
    )
    bad_header = katka("produce", name, "--header", "novalue", input="x\n")
    assert bad_header.returncode == 2 and "expected KEY=VALUE" in bad_header.stderr


def test_a_bad_line_stops_produce_after_delivering_the_lines_before_it_and_says_so(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = topic_with_records(katka, unique("t"))
    lines = "".join(f"k{i}:v{i}\n" for i in range(1, 1001)) + "no separator\nk:after\n"
    result = katka("produce", name, "--key-separator", ":", input=lines)
    assert result.returncode == 1
    assert result.stdout.startswith(f"Produced 1000 records (9786 bytes) to {name} in ")
    assert result.stderr == (
        "katka: error: line 1001: no key separator ':' found; produced 1000 records "
        "(lines 1-1000); line 1001 and the lines after it were not sent\n"
    )
    consumed = katka("consume", name, "--from-beginning", "--exit-at-end", "--format", r"%k\n")
    assert consumed.stdout.split() == [f"k{i}" for i in range(1, 1001)]


def test_ctrl_c_stops_produce_after_delivering_what_was_read_and_says_so(
    cli_broker: CliBroker, katka: Run, unique: Callable[[str], str]
) -> None:
    name = topic_with_records(katka, unique("t"))
    producer = subprocess.Popen(
        [sys.executable, "-m", "katka", "produce", name, "-b", cli_broker.bootstrap],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert producer.stdin is not None
        producer.stdin.write("one\ntwo\nthree\n")
        producer.stdin.flush()

        def consumed() -> list[str]:
            result = katka("consume", name, "--from-beginning", "--exit-at-end")
            return result.stdout.split()

        wait_until(lambda: consumed() == ["one", "two", "three"], what="three records")
        producer.send_signal(signal.SIGINT)
        stdout, stderr = producer.communicate(timeout=30)
    finally:
        producer.kill()
    assert producer.returncode == 130
    assert stdout.startswith(f"Produced 3 records (14 bytes) to {name} in ")
    assert stderr == (
        "katka: interrupted after line 3: produced 3 records (lines 1-3); "
        "the rest of the input was not read\n"
    )


class RunningCommand:
    """`python -m katka ARGS` left running, its stdout and stderr lines collected as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "katka", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, lines in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def test_sigterm_makes_a_group_consumer_leave_its_group_at_once(
    cli_broker: CliBroker, katka: Run, unique: Callable[[str], str]
) -> None:
    """As Ctrl-C does: close, commit, leave; the group is empty at once, not after the
    session timeout (issue 15, mistake 7)."""
    name = topic_with_records(katka, unique("t"), lines="a:1\nb:2\n")
    group = unique("g")
    consumer = RunningCommand(
        "consume", name, "--group", group, "--from-beginning", "-b", cli_broker.bootstrap
    )
    try:
        wait_until(lambda: consumer.stdout == ["1", "2"], what="the two records")
        consumer.process.send_signal(signal.SIGTERM)
        assert consumer.process.wait(30) == 128 + signal.SIGTERM
    finally:
        consumer.kill()
    described = json.loads(katka("group", "describe", group, "--output", "json", check=True).stdout)
    assert (described["state"], described["members"]) == ("Empty", [])
    assert [p["committed_offset"] for p in described["partitions"]] == [2]
    wait_until(lambda: consumer.stderr == ["Processed a total of 2 messages"])


def test_consuming_a_topic_that_does_not_exist_yet_waits_for_it(
    cli_broker: CliBroker, katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("later")
    consumer = RunningCommand(
        "consume", name, "--from-beginning", "--max-messages", "1", "-b", cli_broker.bootstrap
    )
    try:
        waiting = f"katka: waiting for topic '{name}' to be created (Ctrl-C to stop)"
        wait_until(lambda: consumer.stderr == [waiting], what="the waiting message")
        topic_with_records(katka, name, lines="k:hello\n")
        assert consumer.process.wait(30) == 0
    finally:
        consumer.kill()
    wait_until(lambda: consumer.stdout == ["hello"], what="the record")


def test_several_topics_and_a_regex_are_consumed_together(
    katka: Run, unique: Callable[[str], str]
) -> None:
    prefix = unique("audit")
    first = topic_with_records(katka, f"{prefix}-a", lines="k:a1\nk:a2\n")
    second = topic_with_records(katka, f"{prefix}-b", partitions=2, lines="k:b1\n")
    other = topic_with_records(katka, unique("other"), lines="k:o1\n")

    def consumed(*args: str) -> list[str]:
        result = katka(
            "consume", *args, "--from-beginning", "--exit-at-end", "--format", r"%t %v\n"
        )
        assert result.returncode == 0, result.stderr
        return sorted(result.stdout.splitlines())

    expected = [f"{first} a1", f"{first} a2", f"{second} b1"]
    assert consumed(first, second) == expected
    assert consumed("--include", f"{prefix}-.*") == expected
    assert consumed(other, "--include", f"{prefix}-b") == [f"{second} b1", f"{other} o1"]
    group = unique("g")
    grouped = katka(
        "consume",
        "--include",
        f"{prefix}-.*",
        "--group",
        group,
        "--from-beginning",
        "--max-messages",
        "3",
    )
    assert grouped.returncode == 0, grouped.stderr
    assert len(grouped.stdout.splitlines()) == 3
    none = katka("consume", "--include", "no-such-.*", "--exit-at-end")
    assert (none.returncode, none.stderr) == (
        1,
        "katka: error: no topic matches --include 'no-such-.*'\n",
    )
    two = katka("consume", first, second, "--partition", "0")
    assert two.returncode == 2 and "--partition needs exactly one TOPIC" in two.stderr


def test_records_the_broker_refuses_are_counted_with_the_line_of_the_first(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("t")
    katka("topic", "create", name, "--config", "max.message.bytes=300", check=True)
    lines = "small\n" + "x" * 1000 + "\nsmall again\n"
    result = katka("produce", name, "--acks", "1", input=lines)
    assert result.returncode == 1
    # The small lines may share the big one's batch (and its fate) or go before it.
    failed = re.fullmatch(
        r"katka: error: ([23]) of 3 records could not be delivered \(the first at line ([12]): "
        r"Broker: Message size too large \(MSG_SIZE_TOO_LARGE\)\)\n",
        result.stderr,
    )
    assert failed is not None, result.stderr
    assert result.stdout.startswith(f"Produced {3 - int(failed[1])} record")
    assert result.stdout.rstrip().endswith(f", {failed[1]} failed")
