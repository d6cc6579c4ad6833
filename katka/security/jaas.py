"""The JAAS login-module configuration Kafka reads from `sasl.jaas.config` values:
`org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="secret";`.
Only what a broker needs: the module class, its flag and its options."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r'\s*(?:"((?:\\.|[^"\\])*)"|([^\s=;"]+)|(=)|(;))')

PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"


@dataclass(frozen=True, slots=True)
class JaasEntry:
    login_module: str
    flag: str
    options: dict[str, str]


def parse_jaas_config(value: str) -> JaasEntry:
    """One login module (Kafka allows exactly one per sasl.jaas.config). Raises ValueError
    without echoing the value: it holds passwords."""
    tokens: list[tuple[str, bool]] = []  # (text, quoted)
    position = 0
    text = value.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError("sasl.jaas.config: cannot parse the login module configuration")
        quoted, word, equals, semicolon = match.groups()
        if quoted is not None:
            tokens.append((re.sub(r"\\(.)", r"\1", quoted), True))
        else:
            tokens.append((word or equals or semicolon or "", False))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    if len(tokens) < 3 or tokens[-1] != (";", False):
        raise ValueError("sasl.jaas.config: expected 'LoginModule flag options;'")
    login_module, flag = tokens[0][0], tokens[1][0]
    if flag not in ("required", "requisite", "sufficient", "optional"):
        raise ValueError(f"sasl.jaas.config: invalid control flag {flag!r}")
    options: dict[str, str] = {}
    rest = tokens[2:-1]
    if len(rest) % 3:
        raise ValueError("sasl.jaas.config: options must be name=value")
    for index in range(0, len(rest), 3):
        name, equals, option = rest[index : index + 3]
        if equals != ("=", False):
            raise ValueError("sasl.jaas.config: options must be name=value")
        options[name[0]] = option[0]
    return JaasEntry(login_module, flag, options)


def plain_users(entry: JaasEntry) -> dict[str, str]:
    """PlainLoginModule's users: every `user_NAME="password"` option."""
    if entry.login_module != PLAIN_LOGIN_MODULE:
        raise ValueError(f"sasl.jaas.config for PLAIN names {entry.login_module}")
    return {
        name.removeprefix("user_"): password
        for name, password in entry.options.items()
        if name.startswith("user_")
    }
