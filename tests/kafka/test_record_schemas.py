"""The record schemas the tests decode with, and katka's own tables, are Kafka 4.4's.

record_schemas_4.4.0.json (read by tests/kafka/record_decoder.py) is what DumpRecordSchemas.java
prints from Kafka 4.4's generated classes, and katka/coordinator/record_schemas.py describes the
same fields, types, versions and tags.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from katka.coordinator.record_schemas import RECORD_TYPES
from katka.protocol.message_schema import Field, Message
from tests.kafka.record_decoder import SCHEMAS_FILE
from tests.kafka.reference import classpath, kafka_libs

pytestmark = pytest.mark.kafka

DUMPER = Path(__file__).with_name("DumpRecordSchemas.java")


@pytest.fixture(scope="module")
def kafka_schemas() -> dict[str, Any]:
    result = subprocess.run(
        ["java", "-cp", classpath(kafka_libs()), str(DUMPER)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_the_committed_schema_file_is_what_kafka_44_defines(kafka_schemas):
    committed = json.loads(SCHEMAS_FILE.read_text())
    assert committed == {k: kafka_schemas[k] for k in committed}


def kafka_type(field: Field, version: int, flexible: bool) -> Any:
    """katka's field as Kafka's protocol.types name it, for one version."""
    nullable = field.nullable_in(version)
    if field.type.startswith("[]"):
        element = field.type[2:]
        if element:
            inner: Any = kafka_type(Field(field.name, element), version, flexible)
        else:
            inner = struct_type(field.fields, version, flexible, nullable=False)
        return {"array": inner, "compact": flexible, "nullable": nullable}
    if field.type == "struct":
        return struct_type(field.fields, version, flexible, nullable)
    name = {"string": "STRING", "bytes": "BYTES", "uuid": "UUID"}.get(
        field.type, field.type.upper()
    )
    if name in ("STRING", "BYTES"):
        name = ("NULLABLE_" if nullable else "") + name
        name = ("COMPACT_" if flexible else "") + name
    return name


def struct_type(fields: tuple[Field, ...], version: int, flexible: bool, nullable: bool) -> Any:
    out = []
    tagged = {}
    for f in fields:
        if not f.present_in(version):
            continue
        if flexible and f.tagged_in(version):
            tagged[str(f.tag)] = {"name": f.name, "type": kafka_type(f, version, flexible)}
        else:
            out.append({"name": f.name, "type": kafka_type(f, version, flexible)})
    if flexible:
        out.append({"name": "_tagged_fields", "type": {"tagged": tagged}})
    return {"struct": out, "nullable": nullable}


def message_versions(message: Message, versions: list[str]) -> dict[str, Any]:
    return {
        v: struct_type(message.fields, int(v), message.flexible(int(v)), nullable=False)
        for v in versions
    }


def test_katkas_record_tables_describe_kafkas_schemas(kafka_schemas):
    for record_type, entry in RECORD_TYPES.items():
        kafka = kafka_schemas[str(record_type)]
        for side, message in (("key", entry.key), ("value", entry.value)):
            versions = sorted(kafka[side]["versions"], key=int)
            assert message_versions(message, versions) == kafka[side]["versions"], (
                kafka["record"],
                side,
            )
