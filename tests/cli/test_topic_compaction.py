"""`katka topic` with compacted topics: created and altered with any cleanup.policy, described
with each partition's cleaned point and dirty ratio (from katka's admin API)."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.cli.conftest import Run


def test_a_compacted_topic_is_created_altered_and_described_with_its_cleaner_state(
    katka: Run, unique: Callable[[str], str]
) -> None:
    name = unique("changelog")
    katka("topic", "create", name, "--config", "cleanup.policy=compact", check=True)
    katka("produce", name, "--key-separator", ":", input="a:1\nb:2\na:3\n", check=True)
    katka("topic", "alter", name, "--config", "cleanup.policy=compact,delete", check=True)
    described = json.loads(katka("topic", "describe", name, "--output", "json", check=True).stdout)
    assert described["configs"]["cleanup.policy"] == "compact,delete"
    partition = described["partitions"][0]
    assert partition["cleaned_point"] == 0 and partition["dirty_ratio"] == 0.0  # nothing closed
    table = katka("topic", "describe", name, check=True).stdout
    assert "CLEANED-TO" in table and "DIRTY" in table

    katka("topic", "alter", name, "--config", "cleanup.policy=", check=True)  # keep forever
    described = json.loads(katka("topic", "describe", name, "--output", "json", check=True).stdout)
    assert described["configs"].get("cleanup.policy", "") == ""
    assert "cleaned_point" not in described["partitions"][0]
