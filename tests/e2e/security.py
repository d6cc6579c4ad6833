"""Test-time TLS material (made with the openssl CLI, never committed) and a secured katka:
one broker with PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners, as server.properties
keys."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from katka.reliability.process import BrokerProcess, free_port

PLAIN_USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA that signed the broker's and the clients' certificates
    other_ca: Path  # a CA nobody uses: trusting only it must fail
    server: Path  # key and chain in one PEM file (ssl.keystore.type=PEM)
    client_cert: Path
    client_key: Path


def make_certificates(
    directory: Path, client_subject: str = "/C=US/O=acme/OU=eng/CN=alice"
) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)

    def ca(name: str) -> tuple[Path, Path]:
        key, cert = directory / f"{name}.key", directory / f"{name}.pem"
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
        )  # fmt: skip
        return key, cert

    def signed(
        name: str, subject: str, ca_key: Path, ca_cert: Path, san: bool
    ) -> tuple[Path, Path]:
        key, csr, cert = (directory / f"{name}{ext}" for ext in (".key", ".csr", ".pem"))
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
            "-keyout", str(key), "-out", str(csr),
        )  # fmt: skip
        extensions = directory / f"{name}.ext"
        extensions.write_text(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n" if san else "basicConstraints=CA:FALSE\n"
        )
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(extensions),
        )  # fmt: skip
        return key, cert

    ca_key, ca_cert = ca("katka-test-ca")
    _other_key, other_cert = ca("other-ca")
    server_key, server_cert = signed("server", "/CN=localhost", ca_key, ca_cert, san=True)
    client_key, client_cert = signed("client", client_subject, ca_key, ca_cert, san=False)
    server_pem = directory / "server-keystore.pem"
    server_pem.write_text(server_key.read_text() + server_cert.read_text())
    return Certificates(ca_cert, other_cert, server_pem, client_cert, client_key)


def jaas(users: dict[str, str]) -> str:
    options = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {options};"


@dataclass
class SecuredBroker:
    process: BrokerProcess
    ports: dict[str, int]  # listener name -> port

    def bootstrap(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"


def secured_properties(
    certificates: Certificates,
    data_dir: Path,
    ports: dict[str, int],
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    listeners = ",".join(f"{name}://127.0.0.1:{port}" for name, port in ports.items())
    return {
        "listeners": listeners,
        "log.dirs": str(data_dir),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certificates.server),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certificates.ca),
        "ssl.client.auth": "requested",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas(PLAIN_USERS),
        "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas(PLAIN_USERS),
        "group.initial.rebalance.delay.ms": "0",
        **(extra or {}),
    }


def start_secured(
    directory: Path,
    certificates: Certificates,
    extra: dict[str, str] | None = None,
    ports: dict[str, int] | None = None,
) -> SecuredBroker:
    """A broker from a server.properties with every listener type."""
    ports = ports or {
        name: free_port() for name in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
    }
    properties = directory / "server.properties"
    values = secured_properties(certificates, directory / "data", ports, extra)
    properties.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    process = BrokerProcess(
        directory / "data",
        extra_args=["--config", str(properties)],
        port=ports["PLAINTEXT"],
        place=False,
    )
    process.start(30)
    return SecuredBroker(process, ports)


def add_scram_users(bootstrap: str, users: dict[str, str]) -> None:
    """SCRAM-SHA-256 and -512 credentials for each user, by AlterUserScramCredentials."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    upsertions = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(getattr(ScramMechanism, mechanism), 4096), password.encode()
        )
        for user, password in users.items()
        for mechanism in ("SCRAM_SHA_256", "SCRAM_SHA_512")
    ]
    for future in admin.alter_user_scram_credentials(upsertions).values():
        future.result(30)
