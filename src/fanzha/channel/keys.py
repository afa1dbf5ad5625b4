"""Ed25519 keys per organisation: private keys as 0600 PEM files, public keys in a ``KeyRing`` shared as JSON.

Each organisation (``center``, ``bank:ABC``, ...) signs with its own private key. Private keys live only in
a key directory (``var/keys/`` by default, see ``key_directory``; tests use a tmp dir), one PEM file per key
named ``<org>.<kid>.pem`` with ``:`` written as ``_``, mode 0600. They are never logged (``SigningKey``'s
repr hides the key) and never exported: only public keys leave, as::

    {"keys": [{"kid": "…16 hex…", "org": "bank:ABC", "public_key_b64": "…", "not_before": "<ISO>",
               "not_after": "<ISO>" | null}]}

``kid`` is the first 16 hex digits of sha256(raw 32-byte public key), so a key names itself.

Rotation without downtime: (1) ``generate_key`` a new key; (2) add its public key with ``not_before`` a little
in the future and hand the exported keyring to the other side; (3) ``load_signing_key`` switches to the newest
key valid now by itself once ``not_before`` passes, while the other side accepts both; (4) ``retire`` the old
key with a grace period for messages still in flight. A retired key is refused once its grace has passed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fanzha.config import Settings

KID_HEX: Final = 16
ORG_CODE_RE: Final = r"^[a-z]+(:[A-Za-z0-9]{1,16})?$"  # center, bank:ABC, carrier:CMCC
_KEY_FILE_RE: Final = re.compile(r"^(?P<org>[a-z]+(?:_[A-Za-z0-9]{1,16})?)\.(?P<kid>[0-9a-f]{16})\.pem$")


class KeyStoreError(Exception):
    """A key or keyring that cannot be used; the message never contains private key material."""


class KeyFileError(KeyStoreError):
    pass


class KeyRingError(KeyStoreError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive {what} refused: times must be timezone-aware")
    return when


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_for(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:KID_HEX]


def check_org_code(org_code: str) -> str:
    if not re.fullmatch(ORG_CODE_RE, org_code):
        raise ValueError(f"{org_code!r} is not an organisation code such as 'center' or 'bank:ABC'")
    return org_code


# ---- public side ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PublicKeyEntry:
    kid: str
    org: str
    public_key: Ed25519PublicKey = field(repr=False, compare=False)
    not_before: datetime
    not_after: datetime | None = None  # None = not retired

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when and (self.not_after is None or when < self.not_after)

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "org": self.org,
            "public_key_b64": base64.b64encode(raw_public_key(self.public_key)).decode("ascii"),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat() if self.not_after else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublicKeyEntry:
        expected = {"kid", "org", "public_key_b64", "not_before", "not_after"}
        if not isinstance(data, Mapping) or set(data) != expected:
            raise KeyRingError(f"a keyring entry has exactly the fields {sorted(expected)}")
        try:
            raw = base64.b64decode(str(data["public_key_b64"]), validate=True)
            public_key = Ed25519PublicKey.from_public_bytes(raw)
            not_before = _aware(datetime.fromisoformat(str(data["not_before"])), "not_before")
            not_after = (_aware(datetime.fromisoformat(str(data["not_after"])), "not_after")
                         if data["not_after"] is not None else None)
            org = check_org_code(str(data["org"]))
        except (ValueError, TypeError) as exc:
            raise KeyRingError(f"keyring entry {data.get('kid')!r}: {exc}") from None
        # The kid is derived from the key: an entry whose kid does not match was edited or corrupted.
        if data["kid"] != kid_for(public_key):
            raise KeyRingError(f"keyring entry {data['kid']!r}: kid does not match its public key")
        return cls(kid=str(data["kid"]), org=org, public_key=public_key, not_before=not_before, not_after=not_after)


class KeyRing:
    """Public keys by kid. Safe to read from many threads while another rotates keys (copy on write)."""

    def __init__(self, entries: Iterable[PublicKeyEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, PublicKeyEntry] = {}
        for entry in entries:
            self.add(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[PublicKeyEntry]:
        return iter(list(self._entries.values()))

    def __contains__(self, kid: object) -> bool:
        return kid in self._entries

    def get(self, kid: str) -> PublicKeyEntry | None:
        return self._entries.get(kid)

    def add(self, entry: PublicKeyEntry) -> PublicKeyEntry:
        """Add a key, or merge what we know about one already here (retirement only ever moves earlier)."""
        if entry.kid != kid_for(entry.public_key):
            raise KeyRingError(f"kid {entry.kid} does not match its public key")
        with self._lock:
            known = self._entries.get(entry.kid)
            if known is not None:
                if known.org != entry.org:
                    raise KeyRingError(f"key {entry.kid} belongs to {known.org}, not {entry.org}")
                # An old export must not un-retire a key: the earlier not_after wins.
                ends = [t for t in (known.not_after, entry.not_after) if t is not None]
                entry = replace(known, not_after=min(ends) if ends else None)
            self._entries = {**self._entries, entry.kid: entry}
        return entry

    def add_key(self, org: str, public_key: Ed25519PublicKey, *, not_before: datetime | None = None,
                not_after: datetime | None = None) -> PublicKeyEntry:
        return self.add(PublicKeyEntry(
            kid=kid_for(public_key), org=check_org_code(org), public_key=public_key,
            not_before=_aware(not_before, "not_before") if not_before else _now(),
            not_after=_aware(not_after, "not_after") if not_after else None,
        ))

    def retire(self, kid: str, *, at: datetime | None = None, grace: timedelta = timedelta(0)) -> PublicKeyEntry:
        """Stop accepting ``kid`` after ``at + grace`` (messages already in flight get the grace)."""
        known = self.get(kid)
        if known is None:
            raise KeyRingError(f"unknown key {kid}")
        end = _aware(at, "at") + grace if at else _now() + grace
        return self.add(replace(known, not_after=end))

    def for_org(self, org: str, *, valid_at: datetime | None = None) -> list[PublicKeyEntry]:
        """The org's keys, newest ``not_before`` first; only those valid at ``valid_at`` if given."""
        keys = [e for e in self._entries.values() if e.org == org and (valid_at is None or e.valid_at(valid_at))]
        return sorted(keys, key=lambda e: e.not_before, reverse=True)

    def to_json(self) -> dict[str, Any]:
        return {"keys": [e.to_json() for e in sorted(self._entries.values(), key=lambda e: (e.org, e.not_before))]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyRing:
        ring = cls()
        ring.merge_json(data)
        return ring

    def merge_json(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping) or set(data) != {"keys"} or not isinstance(data["keys"], list):
            raise KeyRingError('a keyring file is {"keys": [...]}')
        for item in data["keys"]:
            self.add(PublicKeyEntry.from_json(item))

    def save(self, path: Path) -> None:
        """Write atomically, so a process reading the file during rotation never sees half of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)  # public keys: readable by the other processes that verify
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        ring = cls()
        ring.merge_file(path)
        return ring

    def merge_file(self, path: Path) -> None:
        """Add the keys in ``path`` (e.g. the other side's export after it rotated) to this ring."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyRingError(f"cannot read keyring {path}: {exc}") from None
        self.merge_json(data)


# ---- private side --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SigningKey:
    org: str
    kid: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


def key_directory(settings: Settings) -> Path:
    return settings.var_dir / "keys"


def _key_file_name(org_code: str, kid: str) -> str:
    return f"{org_code.replace(':', '_')}.{kid}.pem"


def generate_key(org_code: str, directory: Path) -> tuple[str, Path]:
    """Create a new private key for ``org_code`` as a 0600 PEM file; returns (kid, path)."""
    check_org_code(org_code)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    kid = kid_for(private_key.public_key())
    path = directory / _key_file_name(org_code, kid)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    # Created 0600 in one step (O_EXCL), so the key is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact regardless
        os.write(fd, pem)
    finally:
        os.close(fd)
    return kid, path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM private key, refusing a file others can read (as ssh does)."""
    try:
        mode = path.stat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            raise KeyFileError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    except ValueError:
        raise KeyFileError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def private_key_files(org_code: str, directory: Path) -> dict[str, Path]:
    """kid -> path of every private key of ``org_code`` in ``directory``."""
    wanted = check_org_code(org_code).replace(":", "_")
    if not directory.is_dir():
        return {}
    found = {}
    for path in directory.iterdir():
        match = _KEY_FILE_RE.match(path.name)
        if match and match["org"] == wanted:
            found[match["kid"]] = path
    return found


def load_signing_key(org_code: str, directory: Path, keyring: KeyRing, *, at: datetime | None = None) -> SigningKey:
    """The key ``org_code`` should sign with now: the newest one the keyring publishes as valid.

    Choosing through the keyring is what makes rotation safe: a freshly generated key is not used until it
    has been published (added with its ``not_before``), so the other side always knows it first.
    """
    when = _aware(at, "at") if at else _now()
    files = private_key_files(org_code, directory)
    for entry in keyring.for_org(org_code, valid_at=when):
        if entry.kid in files:
            key = load_private_key(files[entry.kid])
            if kid_for(key.public_key()) != entry.kid:
                raise KeyFileError(f"{files[entry.kid]} does not hold key {entry.kid}")
            return SigningKey(org=org_code, kid=entry.kid, private_key=key)
    raise KeyFileError(f"no private key of {org_code} in {directory} is published as valid at {when.isoformat()}")


def ensure_key(org_code: str, directory: Path, keyring: KeyRing) -> SigningKey:
    """First start: generate and publish a key if ``org_code`` has none usable yet; otherwise load it."""
    try:
        return load_signing_key(org_code, directory, keyring)
    except KeyFileError:
        if any(e.org == org_code for e in keyring if e.valid_at(_now())) and private_key_files(org_code, directory):
            raise  # keys exist but something is wrong with them: do not paper over it with a new one
    kid, path = generate_key(org_code, directory)
    key = load_private_key(path)
    keyring.add_key(org_code, key.public_key(), not_before=_now() - timedelta(seconds=1))
    return SigningKey(org=org_code, kid=kid, private_key=key)
