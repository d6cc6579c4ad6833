"""KafkaPrincipal: who a connection is, as `Type:name` (User:alice, User:ANONYMOUS)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KafkaPrincipal:
    principal_type: str
    name: str

    @classmethod
    def parse(cls, value: str) -> KafkaPrincipal:
        """`User:alice`; the name may itself hold colons (a certificate DN rarely does)."""
        principal_type, separator, name = value.partition(":")
        if not separator or not principal_type:
            raise ValueError(f"expected a principal as Type:name, got {value!r}")
        return cls(principal_type, name)

    def __str__(self) -> str:
        return f"{self.principal_type}:{self.name}"


USER_TYPE = "User"
ANONYMOUS = KafkaPrincipal(USER_TYPE, "ANONYMOUS")
