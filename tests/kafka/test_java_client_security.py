"""The Java client (kafka-clients 4.4) and Kafka's own security tools (kafka-tools 4.4) against
a secured katka, as against a secured Kafka: `kafka-configs --add-config SCRAM-SHA-...` makes
a SCRAM user, `kafka-acls` grants it a topic and a group, and the Java client produces,
consumes and commits on SASL_SSL with SCRAM-SHA-512 (re-authenticating past
connections.max.reauth.ms, KIP-368) and on SSL with a client certificate (mTLS principal by
ssl.principal.mapping.rules); without an ACL it is refused with Kafka's exception."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.security import (
    PLAIN_USERS,
    Certificates,
    SecuredBroker,
    make_certificates,
    start_secured,
)
from tests.kafka.reference import kafka_libs
from tests.kafka.test_kafka_transactions_tool import kafka_tools_jar

pytestmark = pytest.mark.kafka

JUDGE = Path(__file__).with_name("SecureJudge.java")
LIFETIME_MS = 3000
SCRAM_PASSWORD = "carol-java-secret"
AUTHORIZED = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "super.users": "User:admin",
    "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),OU=eng,.*$/$1/L,DEFAULT",
    "connections.max.reauth.ms": str(LIFETIME_MS),
}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def broker(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[SecuredBroker]:
    secured = start_secured(tmp_path_factory.mktemp("java"), certificates, extra=AUTHORIZED)
    yield secured
    secured.process.kill()


def properties_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def sasl_ssl_client(
    broker: SecuredBroker, certificates: Certificates, mechanism: str, user: str, password: str
) -> dict[str, str]:
    module = "plain.PlainLoginModule" if mechanism == "PLAIN" else "scram.ScramLoginModule"
    return {
        "bootstrap.servers": broker.bootstrap("SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certificates.ca),
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": f"org.apache.kafka.common.security.{module} required "
        f'username="{user}" password="{password}";',
    }


def run_java(main: list[str], timeout: float = 180) -> str:
    libs = kafka_libs()
    classpath = f"{kafka_tools_jar(libs)}{os.pathsep}{libs}/*"
    result = subprocess.run(
        ["java", "-Xmx256m", "-cp", classpath, *main],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def tool(broker: SecuredBroker, admin_config: Path, main: str, *args: str) -> str:
    return run_java(
        [
            main,
            "--bootstrap-server",
            broker.bootstrap("SASL_SSL"),
            "--command-config",
            str(admin_config),
            *args,
        ]
    )


def judge(config: Path, topic: str, group: str, count: int, pause_ms: int) -> dict[str, str]:
    output = run_java([str(JUDGE), str(config), topic, group, str(count), str(pause_ms)])
    return dict(
        line.split("=", 1) for line in output.splitlines() if line.split("=", 1)[0] in (
            "produced", "consumed", "committed", "error",
        )
    )  # fmt: skip


def test_kafka_tools_make_a_scram_user_and_acls_and_the_java_client_uses_them(
    broker: SecuredBroker, certificates: Certificates, tmp_path: Path
) -> None:
    admin = properties_file(
        tmp_path / "admin.properties",
        sasl_ssl_client(broker, certificates, "PLAIN", "admin", PLAIN_USERS["admin"]),
    )
    configs, acls = "org.apache.kafka.tools.ConfigCommand", "org.apache.kafka.tools.AclCommand"
    tool(
        broker, admin, configs, "--alter", "--entity-type", "users", "--entity-name", "carol",
        "--add-config", f"SCRAM-SHA-256=[iterations=8192,password={SCRAM_PASSWORD}],"
        f"SCRAM-SHA-512=[password={SCRAM_PASSWORD}]",
    )  # fmt: skip
    described = tool(broker, admin, configs, "--describe", "--entity-type", "users")
    assert "SCRAM-SHA-256=iterations=8192" in described
    assert "SCRAM-SHA-512=iterations=4096" in described
    assert SCRAM_PASSWORD not in described

    topic, group = f"java-{uuid.uuid4().hex[:8]}", f"java-g-{uuid.uuid4().hex[:8]}"
    tool(
        broker, admin, "org.apache.kafka.tools.TopicCommand", "--create", "--topic", topic,
        "--partitions", "1",
    )  # fmt: skip
    for principal in ("User:carol", "User:alice"):
        tool(
            broker, admin, acls, "--add", "--allow-principal", principal,
            "--producer", "--consumer", "--topic", topic, "--group", group,
        )  # fmt: skip
    listed = tool(broker, admin, acls, "--list", "--topic", topic)
    assert "principal=User:carol" in listed and "operation=WRITE" in listed
    assert "principal=User:alice" in listed and "operation=READ" in listed

    carol = properties_file(
        tmp_path / "carol.properties",
        sasl_ssl_client(broker, certificates, "SCRAM-SHA-512", "carol", SCRAM_PASSWORD),
    )
    # Pausing past the session lifetime: the Java client re-authenticates (KIP-368).
    outcome = judge(carol, topic, group, 10, LIFETIME_MS + 1000)
    assert outcome == {"produced": "10", "consumed": "10", "committed": "10"}, outcome
    assert "session expired" not in broker.process.log_text()

    mtls_key_store = tmp_path / "alice-keystore.pem"
    mtls_key_store.write_text(
        certificates.client_key.read_text() + certificates.client_cert.read_text()
    )
    alice = properties_file(
        tmp_path / "alice.properties",
        {
            "bootstrap.servers": broker.bootstrap("SSL"),
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certificates.ca),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(mtls_key_store),
        },
    )
    outcome = judge(alice, topic, group, 4, 0)
    assert outcome == {"produced": "4", "consumed": "14", "committed": "14"}, outcome

    other = f"java-denied-{uuid.uuid4().hex[:8]}"
    tool(
        broker, admin, "org.apache.kafka.tools.TopicCommand", "--create", "--topic", other,
        "--partitions", "1",
    )  # fmt: skip
    refused = judge(carol, other, group, 2, 0)
    assert refused["error"].startswith("TopicAuthorizationException"), refused

    tool(broker, admin, acls, "--remove", "--force", "--topic", topic)
    assert "principal=User:carol" not in tool(broker, admin, acls, "--list", "--topic", topic)
    tool(
        broker, admin, configs, "--alter", "--entity-type", "users", "--entity-name", "carol",
        "--delete-config", "SCRAM-SHA-256",
    )  # fmt: skip
    described = tool(broker, admin, configs, "--describe", "--entity-type", "users")
    assert "SCRAM-SHA-256" not in described and "SCRAM-SHA-512=iterations=4096" in described
