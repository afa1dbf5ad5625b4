"""The banks' signing keys and the center's public keys, all in one key directory shared with the center.

Files in the key directory (the private key files are `fanzha.banking.keys`' ``<org>.<kid>.pem``, 0600):

- ``center.keyring.json``: the center's public keys, written by the center; read here to verify instructions.
  Re-read whenever the file changes, so the center can rotate its key while the simulator runs.
- ``banks.keyring.json``: every simulated bank's public keys, written here on start (a key is generated for
  each bank that has none); the center reads it to verify the banks' answers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from fanzha.banking.keys import KeyRing, KeyRingError, SigningKey, ensure_key

CENTER_KEYRING: Final = "center.keyring.json"
BANKS_KEYRING: Final = "banks.keyring.json"


def bank_org(code: str) -> str:
    return f"bank:{code}"


def load_bank_keys(directory: Path, bank_codes: list[str]) -> dict[str, SigningKey]:
    """Each bank's current signing key, generating (and publishing) one for banks that have none yet."""
    path = directory / BANKS_KEYRING
    ring = KeyRing.load(path) if path.exists() else KeyRing()
    before = len(ring)
    signers = {code: ensure_key(bank_org(code), directory, ring) for code in bank_codes}
    if len(ring) != before or not path.exists():
        ring.save(path)
    return signers


class CenterKeys:
    """The center's public keyring, reloaded when its file changes (key rotation without a restart)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / CENTER_KEYRING
        self._ring = KeyRing()
        self._stamp: tuple[int, int] | None = None
        self.problem: str | None = None

    def ring(self) -> KeyRing:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self.problem = f"no center keyring at {self.path}"
            return KeyRing()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                self._ring = KeyRing.load(self.path)
                self.problem = None
            except KeyRingError as exc:
                # Keep verifying with the keys we had: a half-written or broken file must not lock the center out.
                self.problem = str(exc)
            self._stamp = stamp
        return self._ring
