"""Kafka 4.4's command-line tools, run by their main classes in one long-lived JVM (ToolRunner.java)
so that a test can run dozens of them against katka and against Kafka itself in bounded time."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.kafka.reference import kafka_libs
from tests.kafka.test_kafka_streams_eos import maven_libs

RUNNER = Path(__file__).with_name("ToolRunner.java")

# The shell scripts' names for the main classes (bin/kafka-*.sh in Kafka's distribution).
MAIN_CLASSES = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-configs": "org.apache.kafka.tools.ConfigCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-leader-election": "org.apache.kafka.tools.LeaderElectionCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
}


@dataclass(frozen=True)
class ToolResult:
    exit_code: int
    stdout: str
    stderr: str


class KafkaTools:
    """One JVM running Kafka's tools on request; close() ends it."""

    def __init__(self) -> None:
        libs = kafka_libs()
        # kafka-tools with its runtime dependencies (jackson-dataformat-csv for --export/--from-file).
        tools = maven_libs(libs, "tools-deps", ["kafka-tools"])
        classpath = f"{tools}/*{os.pathsep}{libs}/*"
        self.process = subprocess.Popen(
            ["java", "-Xmx512m", "-cp", classpath, str(RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def run(self, tool: str, *args: str, stdin: Path | None = None) -> ToolResult:
        """Run `tool` (a kafka-*.sh name) with args; its exit code, stdout and stderr."""
        assert self.process.stdin is not None and self.process.stdout is not None
        assert all("\t" not in arg and "\n" not in arg for arg in args)
        fields = [str(stdin) if stdin else "-", MAIN_CLASSES[tool], *args]
        self.process.stdin.write(("\t".join(fields) + "\n").encode())
        self.process.stdin.flush()
        header = self.process.stdout.readline()
        if not header:
            raise RuntimeError(f"the tool runner exited ({self.process.wait()}) during {tool}")
        code, out_length, err_length = (int(field) for field in header.split())
        out = self.process.stdout.read(out_length).decode(errors="replace")
        err = self.process.stdout.read(err_length).decode(errors="replace")
        return ToolResult(code, out, err)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
