"""SASL and TLS cases for the protocol fuzzer (issue 14).

With `security` on, the fuzzed broker also opens a SASL_PLAINTEXT listener (PLAIN from its JAAS,
SCRAM-SHA-256 and -512) and an SSL listener (a self-signed key made with the openssl command).
SASL cases drive the authentication exchange off its rails: mutated or oversized PLAIN and
SCRAM tokens, unknown or garbled mechanisms, handshake v0 followed by raw token frames, requests
before authentication, bit-flipped frames, a re-authentication with garbage. TLS cases send the
SSL listener what is not a TLS client: random bytes, a Kafka request in the clear, HTTP, a
record header announcing a huge record, a real ClientHello truncated or bit-flipped, trickled.
The fuzzer's invariants hold for these listeners too (no crash, no hang, bounded memory).
"""

from __future__ import annotations

import random
import shutil
import ssl
import struct
import subprocess
from pathlib import Path

from katka.protocol.varint import encode_unsigned_varint
from katka.reliability.fuzz_cases import Case, frame, request_header

PLAIN_USER, PLAIN_PASSWORD = "fuzz", "fuzz-secret"
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE, METADATA = 18, 17, 36, 3


def make_key_store(directory: Path) -> Path | None:
    """A self-signed PEM key store for the SSL listener (None without the openssl command)."""
    if shutil.which("openssl") is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "fuzz.key", directory / "fuzz.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    store = directory / "fuzz-keystore.pem"
    store.write_text(key.read_text() + cert.read_text())
    return store


def listener_properties(ports: dict[str, int], data_dir: Path, key_store: Path) -> dict[str, str]:
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'user_{PLAIN_USER}="{PLAIN_PASSWORD}";'
    )
    return {
        "listeners": ",".join(f"{name}://127.0.0.1:{port}" for name, port in ports.items()),
        "log.dirs": str(data_dir),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(key_store),
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "connections.max.reauth.ms": "60000",
        "connection.failed.authentication.delay.ms": "10",
    }


def _string(text: bytes) -> bytes:
    return struct.pack(">h", len(text)) + text


def handshake(version: int, mechanism: bytes, correlation: int) -> bytes:
    return frame(request_header(SASL_HANDSHAKE, version, correlation, False) + _string(mechanism))


def authenticate(version: int, token: bytes, correlation: int) -> bytes:
    if version >= 2:  # flexible: compact bytes and empty tagged fields
        body = encode_unsigned_varint(len(token) + 1) + token + b"\x00"
        return frame(request_header(SASL_AUTHENTICATE, version, correlation, True) + body)
    body = struct.pack(">i", len(token)) + token
    return frame(request_header(SASL_AUTHENTICATE, version, correlation, False) + body)


def plain_token(rng: random.Random) -> bytes:
    good = b"\x00" + PLAIN_USER.encode() + b"\x00" + PLAIN_PASSWORD.encode()
    return rng.choice(
        [
            good,
            b"\x00" + PLAIN_USER.encode() + b"\x00wrong",
            b"no-nul-at-all",
            b"\x00\x00\x00\x00\x00",
            b"",
            b"\xff\xfe\x00\xc3\x28\x00\xa0\xa1",
            b"other\x00" + good[1:],
            b"\x00" + b"u" * rng.randint(1, 70000) + b"\x00p",
            rng.randbytes(rng.randint(0, 300)),
        ]
    )


def scram_tokens(rng: random.Random) -> list[bytes]:
    nonce = rng.randbytes(rng.randint(0, 40)).hex().encode()
    first = rng.choice(
        [
            b"n,,n=" + PLAIN_USER.encode() + b",r=" + nonce,
            b"n,,n=nobody,r=" + nonce,
            b"p=tls-unique,,n=x,r=" + nonce,
            b"n,a=other,n=" + PLAIN_USER.encode() + b",r=" + nonce,
            b"n,,r=" + nonce,
            b"n,,n=x",
            b"y,,n=x,r=" + nonce + b",m=ext",
            b"n,,n==2C=3D=,r=" + nonce,
            b"n,,n=" + b"x" * rng.randint(1, 70000) + b",r=1",
            rng.randbytes(rng.randint(0, 200)),
        ]
    )
    final = rng.choice(
        [
            b"c=biws,r=" + nonce + b"wrong,p=" + b"A" * 44,
            b"c=biws,r=" + nonce,
            b"c=@@@,r=,p=!!",
            b"p=" + rng.randbytes(64).hex().encode(),
            rng.randbytes(rng.randint(0, 200)),
        ]
    )
    return [first, final]


def sasl_case(rng: random.Random, correlation: int) -> Case:
    kind = rng.choice(
        [
            "sasl_plain_token",
            "sasl_scram_tokens",
            "sasl_raw_v0_tokens",
            "sasl_bad_mechanism",
            "sasl_before_auth",
            "sasl_bit_flips",
            "sasl_reauth_garbage",
        ]
    )
    versions = ApiVersionsFrame(correlation)
    if kind == "sasl_plain_token":
        version = rng.randint(0, 2)
        frames = [handshake(1, b"PLAIN", correlation), authenticate(version, plain_token(rng), 2)]
    elif kind == "sasl_scram_tokens":
        mechanism = rng.choice(MECHANISMS[1:]).encode()
        version = rng.randint(0, 2)
        frames = [handshake(1, mechanism, correlation)]
        frames += [authenticate(version, token, 2 + i) for i, token in enumerate(scram_tokens(rng))]
    elif kind == "sasl_raw_v0_tokens":
        mechanism = rng.choice(MECHANISMS).encode()
        tokens = [plain_token(rng)] if mechanism == b"PLAIN" else scram_tokens(rng)
        frames = [handshake(0, mechanism, correlation)] + [frame(token) for token in tokens]
    elif kind == "sasl_bad_mechanism":
        mechanism = rng.choice(
            [b"GSSAPI", b"OAUTHBEARER", b"", b"plain", b"\xff\xfe", b"X" * rng.randint(1, 30000)]
        )
        frames = [handshake(rng.randint(0, 1), mechanism, correlation)]
    elif kind == "sasl_before_auth":
        request = request_header(METADATA, rng.choice([0, 1, 12]), correlation, False)
        frames = [frame(request + struct.pack(">i", -1))]
    elif kind == "sasl_bit_flips":
        frames = [handshake(1, b"PLAIN", correlation), authenticate(1, plain_token(rng), 2)]
        victim = bytearray(frames[rng.randrange(2)])
        for _ in range(rng.randint(1, 6)):
            victim[rng.randrange(len(victim))] ^= 1 << rng.randrange(8)
        frames[rng.randrange(2)] = bytes(victim)
    else:
        good = b"\x00" + PLAIN_USER.encode() + b"\x00" + PLAIN_PASSWORD.encode()
        frames = [handshake(1, b"PLAIN", correlation), authenticate(1, good, 2)]
        frames += [handshake(1, b"PLAIN", 3), authenticate(2, plain_token(rng), 4)]
    if rng.random() < 0.5:
        frames.insert(0, versions)
    if rng.random() < 0.3:
        return Case(kind, [b"".join(frames)])  # pipelined in one write
    return Case(kind, frames)


def ApiVersionsFrame(correlation: int) -> bytes:  # noqa: N802 - reads as the request's name
    return frame(request_header(API_VERSIONS, 0, correlation, False))


def client_hello() -> bytes:
    """The first flight of a real TLS client, from Python's ssl over memory BIOs."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        client.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_case(rng: random.Random, hello: bytes) -> Case:
    kind = rng.choice(
        [
            "tls_random_bytes",
            "tls_kafka_in_clear",
            "tls_http",
            "tls_huge_record",
            "tls_hello_truncated",
            "tls_hello_bit_flips",
            "tls_hello_trickled",
        ]
    )
    if kind == "tls_random_bytes":
        return Case(kind, [rng.randbytes(rng.choice([1, 5, 64, 517, 4096]))], expect_answer=False)
    if kind == "tls_kafka_in_clear":
        return Case(kind, [ApiVersionsFrame(1)], expect_answer=False)
    if kind == "tls_http":
        return Case(kind, [b"GET / HTTP/1.1\r\nHost: katka\r\n\r\n"], expect_answer=False)
    if kind == "tls_huge_record":
        header = b"\x16\x03" + bytes([rng.randint(0, 4)]) + struct.pack(">H", 0xFFFF)
        return Case(kind, [header + rng.randbytes(rng.randint(0, 1000))], expect_answer=False)
    if kind == "tls_hello_truncated":
        return Case(kind, [hello[: rng.randrange(1, len(hello))]], expect_answer=False)
    if kind == "tls_hello_bit_flips":
        mutated = bytearray(hello)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
        return Case(kind, [bytes(mutated)], expect_answer=False)
    step = rng.randint(1, 9)
    return Case(kind, [hello[i : i + step] for i in range(0, len(hello), step)][:200], False)


def tls_probe(port: int, timeout: float) -> bool:
    """A TLS handshake and an ApiVersions round trip on the SSL listener."""
    import socket

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as connection:
                connection.settimeout(timeout)
                connection.sendall(ApiVersionsFrame(424242))
                data = b""
                while len(data) < 8:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return False
                    data += chunk
                return bool(struct.unpack_from(">i", data, 4)[0] == 424242)
    except (OSError, ssl.SSLError):
        return False
