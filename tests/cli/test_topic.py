"""`katka topic ...` and the behaviour every command shares, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from katka.cli.main import cli
from katka.reliability.process import BrokerProcess, free_port
from tests.cli.conftest import CliBroker, Run, run_katka, run_katka_process
from tests.conditions import wait_until


def test_topics_are_created_listed_described_grown_and_deleted(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("orders")
    created = katka(
        "topic", "create", name, "--partitions", "2", "--config", "retention.ms=3600000"
    )
    assert (created.returncode, created.stdout.strip()) == (0, f"Created topic {name}.")

    listed = json.loads(katka("topic", "list", "--output", "json", check=True).stdout)
    assert {"topic": name, "partitions": 2} in listed
    assert name in katka("topic", "list", check=True).stdout

    katka("produce", name, "--partition", "1", input="a\nb\nc\n", check=True)
    described = json.loads(katka("topic", "describe", name, "--output", "json", check=True).stdout)
    assert described["configs"] == {"retention.ms": "3600000"}
    second = described["partitions"][1]
    assert (second["log_start_offset"], second["log_end_offset"], second["records"]) == (0, 3, 3)
    assert second["size_bytes"] > 0  # from katka's admin API
    table = katka("topic", "describe", name, check=True).stdout
    assert f"Topic: {name}\tPartitionCount: 2\tConfigs: retention.ms=3600000" in table
    assert "LOG-START" in table and "SIZE" in table

    grown = katka("topic", "add-partitions", name, "--partitions", "4")
    assert (grown.returncode, grown.stdout.strip()) == (0, f"Topic {name} now has 4 partitions.")
    deleted = katka("topic", "delete", name)
    assert (deleted.returncode, deleted.stdout.strip()) == (0, f"Deleted topic {name}.")
    assert name not in katka("topic", "list", check=True).stdout


def test_creating_an_existing_topic_fails_unless_if_not_exists(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("dup")
    katka("topic", "create", name, check=True)
    again = katka("topic", "create", name)
    assert again.returncode == 1
    assert (
        again.stderr
        == f"katka: error: cannot create topic '{name}': Topic '{name}' already exists. (TOPIC_ALREADY_EXISTS)\n"
    )
    assert katka("topic", "create", name, "--if-not-exists").returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("topic", "describe", "no-such-topic"),
        ("topic", "delete", "no-such-topic"),
        ("topic", "add-partitions", "no-such-topic", "--partitions", "3"),
    ],
)
def test_an_unknown_topic_is_one_line_on_stderr_and_exit_1(
    katka: Run, args: tuple[str, ...]
) -> None:
    result = katka(*args)
    assert result.returncode == 1
    assert result.stderr == "katka: error: Topic 'no-such-topic' does not exist as expected\n"
    assert result.stdout == ""


def test_shrinking_a_topic_is_refused_with_the_brokers_reason(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("shrink")
    katka("topic", "create", name, "--partitions", "3", check=True)
    result = katka("topic", "add-partitions", name, "--partitions", "2")
    assert result.returncode == 1
    assert "currently has 3 partition(s); 2 would not be an increase" in result.stderr
    assert result.stderr.count("\n") == 1
    assert katka("topic", "delete", "--if-exists", "no-such-topic").returncode == 0


def test_an_unreachable_broker_fails_fast_with_one_line() -> None:
    address = f"127.0.0.1:{free_port()}"
    for args in (
        ("topic", "list"),
        ("produce", "t"),
        ("consume", "t"),
        ("group", "describe", "g"),
    ):
        result = run_katka(*args, "--bootstrap-server", address, input="x\n")
        assert result.returncode == 1
        assert result.stderr == (
            f"katka: error: cannot connect to the broker at {address}: Connection refused\n"
        )


def test_bad_usage_is_one_line_and_exit_2() -> None:
    result = run_katka_process("topic", "create", "x", "--partitions", "0")
    assert result.returncode == 2
    assert result.stderr.startswith("katka: error: Invalid value for '--partitions'")
    assert result.stderr.count("\n") == 1
    assert run_katka("topci").returncode == 2
    alone = run_katka("group")
    assert alone.returncode == 2 and alone.stdout.startswith("Usage: katka group [OPTIONS]")
    assert alone.stderr == ""


def test_every_command_group_runs_as_a_subprocess_as_users_run_it(
    cli_broker: CliBroker, unique: Callable[[str], str]
) -> None:
    """The other CLI tests run in-process; this one runs `python -m katka` per command group."""
    name, group = unique("smoke"), unique("g")
    server = ("--bootstrap-server", cli_broker.bootstrap)
    created = run_katka_process("topic", "create", name, *server, check=True)
    assert created.stdout == f"Created topic {name}.\n"
    produced = run_katka_process("produce", name, *server, input="a\nb\n", check=True)
    assert produced.stdout.startswith(f"Produced 2 records (4 bytes) to {name} in ")
    consumed = run_katka_process(
        "consume", name, "--group", group, "--from-beginning", "--max-messages", "2", *server
    )
    assert (consumed.returncode, consumed.stdout) == (0, "a\nb\n"), consumed.stderr
    described = run_katka_process("group", "describe", group, "--output", "json", *server)
    assert described.returncode == 0, described.stderr
    assert [p["committed_offset"] for p in json.loads(described.stdout)["partitions"]] == [2]


def every_command(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            found += every_command(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_every_command_has_help_with_an_example() -> None:
    commands = every_command(cli)
    assert len(commands) >= 13
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.stdout, command
        if command[0] != "serve":
            assert "--bootstrap-server" in result.stdout, command
            assert "--output" in result.stdout, command


def test_topic_configs_are_altered_and_removed_and_describe_takes_kafkas_topic_option(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("alter")
    katka("topic", "create", name, "--config", "segment.ms=600000", check=True)
    altered = katka("topic", "alter", name, "--config", "retention.ms=60000", "--partitions", "2")
    assert altered.returncode == 0, altered.stderr
    assert altered.stdout == (
        f"Set retention.ms=60000 on topic {name}.\nTopic {name} now has 2 partitions.\n"
    )

    def described(*args: str) -> dict[str, object]:
        return json.loads(katka("topic", "describe", *args, "--output", "json", check=True).stdout)

    after = described("--topic", name)
    assert after["configs"] == {"retention.ms": "60000", "segment.ms": "600000"}
    assert len(after["partitions"]) == 2  # type: ignore[arg-type]
    removed = katka("topic", "alter", name, "--delete-config", "segment.ms", check=True)
    assert removed.stdout == f"Removed segment.ms from topic {name}.\n"
    assert described(name)["configs"] == {"retention.ms": "60000"}
    every = json.loads(katka("topic", "describe", "--output", "json", check=True).stdout)
    assert name in [entry["topic"] for entry in every]
    nothing = katka("topic", "alter", name)
    assert nothing.returncode == 2 and "name a change" in nothing.stderr


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def test_a_short_flag_means_the_same_option_in_every_command() -> None:
    """-p is always a partition, -c always a count, -f always a format (kcat's letters)."""
    meanings: dict[str, set[str]] = {}
    for path in every_command(cli):
        for param in command_at(path).params:
            if not isinstance(param, click.Option):
                continue
            long = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if not o.startswith("--")):
                meanings.setdefault(short, set()).add(long[0] if long else str(param.name))
    assert {short: names for short, names in meanings.items() if len(names) > 1} == {}
    assert meanings["-p"] == {"--partition"} and meanings["-t"] == {"--topic"}


def test_a_typo_of_a_partition_count_is_refused_by_the_broker_and_reported(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("typo")
    refused = katka("topic", "create", name, "--partitions", "100000")
    assert refused.returncode == 1
    assert "Excessively large number of partitions per request" in refused.stderr
    assert "POLICY_VIOLATION" in refused.stderr
    assert name not in katka("topic", "list", check=True).stdout


@pytest.mark.slow  # a broker of its own whose every fsync takes 2.5 s: ~10 s
def test_a_create_that_outlasts_the_timeout_reports_what_the_broker_did(
    unique: Callable[[str], str], tmp_path: Path
) -> None:
    # The catalog write that records a new topic fsyncs twice; made slow by the fault hook,
    # the create takes 5 s on any machine, so a 2 s timeout always expires first.
    broker = BrokerProcess(tmp_path / "data", env={"KATKA_FAULT_SLOW_FSYNC_MS": "2500"})
    broker.start(60)

    def katka(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run_katka(*args, "--bootstrap-server", broker.bootstrap, **kwargs)  # type: ignore[arg-type]

    try:
        name = unique("slow")
        late = katka("topic", "create", name, "--partitions", "3", "--timeout", "2")
        assert late.returncode == 1
        assert "timed out after 2 s" in late.stderr
        assert (
            "the broker has not created it (it may still be creating its partitions" in late.stderr
            or "the broker created it with 3 partitions" in late.stderr
        ), late.stderr
        wait_until(lambda: name in katka("topic", "list").stdout, 60, interval=1)
    finally:
        broker.kill()
