"""The principal of a TLS client: its certificate subject as an RFC 2253 distinguished name
(as Java's X500Principal.getName() writes it), mapped by `ssl.principal.mapping.rules`.

Kafka's rule syntax: a comma-separated list of `DEFAULT` (the DN as is) and
`RULE:pattern/replacement/[LU]` (the first rule whose pattern matches the whole DN gives the
name: the replacement with $1.. groups, then lower- or upper-cased). No rule matching is an
authentication failure, as in Kafka's SslPrincipalMapper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Attribute names as Java's RFC 2253 form spells them (the keywords it knows).
_KEYWORDS = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}

_RULE = re.compile(r"\s*(?:(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?))\s*(?:,|$)")


def _escape(value: str) -> str:
    escaped = re.sub(r'([,+"\\<>;])', r"\\\1", value)
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def distinguished_name(subject: tuple[tuple[tuple[str, str], ...], ...]) -> str:
    """The subject from ssl's getpeercert() (RDNs in certificate order) as RFC 2253 writes
    it: most specific first, `+` between the parts of a multi-valued RDN."""
    rdns = []
    for rdn in reversed(subject):
        rdns.append("+".join(f"{_KEYWORDS.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(rdns)


@dataclass(frozen=True, slots=True)
class _Rule:
    is_default: bool
    pattern: re.Pattern[str] | None = None
    replacement: str = ""
    case: str = ""


class PrincipalMapper:
    def __init__(self, rules: str) -> None:
        self.rules: list[_Rule] = []
        position, text = 0, rules.strip() or "DEFAULT"
        while position < len(text):
            match = _RULE.match(text, position)
            if match is None or match.end() == position:
                raise ValueError(
                    f"ssl.principal.mapping.rules: invalid rule at {text[position:]!r}"
                )
            default, pattern, replacement, case = match.groups()
            if default:
                self.rules.append(_Rule(True))
            else:
                self.rules.append(
                    _Rule(False, re.compile(pattern.replace("\\/", "/")), replacement, case)
                )
            position = match.end()

    def name(self, dn: str) -> str:
        for rule in self.rules:
            if rule.is_default:
                return dn
            assert rule.pattern is not None
            match = rule.pattern.fullmatch(dn)
            if match is None:
                continue
            # Java's $1 group references as Python's.
            result = match.expand(
                re.sub(r"\$(\d)", r"\\g<\1>", rule.replacement.replace("\\/", "/"))
            )
            return (
                result.lower()
                if rule.case == "L"
                else result.upper()
                if rule.case == "U"
                else result
            )
        raise ValueError(f"No rules apply to {dn}, rules {[r.pattern for r in self.rules]}")
