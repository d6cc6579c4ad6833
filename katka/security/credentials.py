"""SCRAM credentials by user and mechanism, kept salted and hashed in one file written
atomically (fsync, rename, fsync of the directory), so an acknowledged
AlterUserScramCredentials survives kill -9 and is loaded at start. None: in memory (tests)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING

from katka.metadata.catalog import write_atomically

if TYPE_CHECKING:  # scram.py (hashlib, hmac) is imported once a credential is loaded or used
    from katka.security.scram import ScramCredential, ScramMechanism

CREDENTIALS_FILE = "scram-credentials.json"


class ScramCredentialStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._credentials: dict[str, dict[ScramMechanism, ScramCredential]] = {}
        if path is not None and path.exists():
            self._load(path)

    def get(self, user: str, mechanism: ScramMechanism) -> ScramCredential | None:
        return self._credentials.get(user, {}).get(mechanism)

    def users(self) -> dict[str, dict[ScramMechanism, ScramCredential]]:
        return {user: dict(by_mechanism) for user, by_mechanism in self._credentials.items()}

    def upsert(self, user: str, mechanism: ScramMechanism, credential: ScramCredential) -> None:
        self._credentials.setdefault(user, {})[mechanism] = credential

    def delete(self, user: str, mechanism: ScramMechanism) -> bool:
        by_mechanism = self._credentials.get(user, {})
        if by_mechanism.pop(mechanism, None) is None:
            return False
        if not by_mechanism:
            del self._credentials[user]
        return True

    def save(self) -> None:
        """Persist every credential; called once per AlterUserScramCredentials request."""
        if self.path is None:
            return
        document = {
            user: {
                mechanism.mechanism_name: {
                    "salt": _b64(c.salt),
                    "stored_key": _b64(c.stored_key),
                    "server_key": _b64(c.server_key),
                    "iterations": c.iterations,
                }
                for mechanism, c in by_mechanism.items()
            }
            for user, by_mechanism in self._credentials.items()
        }
        write_atomically(self.path, json.dumps(document, indent=1, sort_keys=True).encode())

    def _load(self, path: Path) -> None:
        from katka.security.scram import ScramCredential, ScramMechanism

        document = json.loads(path.read_text())
        for user, by_mechanism in document.items():
            for name, c in by_mechanism.items():
                self.upsert(
                    user,
                    ScramMechanism.from_name(name),
                    ScramCredential(
                        base64.b64decode(c["salt"]),
                        base64.b64decode(c["stored_key"]),
                        base64.b64decode(c["server_key"]),
                        int(c["iterations"]),
                    ),
                )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
