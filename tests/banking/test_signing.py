"""Ed25519 signing of envelopes, key files and keyrings, rotation without downtime."""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from fanzha.banking import keys as k
from fanzha.banking.keys import KeyFileError, KeyRing, KeyRingError, SigningKey
from fanzha.banking.messages import StopPayment, StopPaymentResult, new_envelope
from fanzha.banking.signing import (
    SIGNATURE_FAILURES,
    BadSignature,
    answer_to,
    sign,
    sign_envelope,
    signing_payload,
    verify,
    verify_and_parse,
)

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def stop_payment(bank: str = "ABC") -> StopPayment:
    return StopPayment(case_number="SH20261125-000123", officer="警号012345", account="6228480012345678901",
                       bank_code=bank, amount=Decimal("70000.00"), currency="CNY", reason="电信诈骗")


def new_signer(org: str, directory: Path, ring: KeyRing, not_before: datetime = EPOCH) -> SigningKey:
    kid, path = k.generate_key(org, directory)
    key = k.load_private_key(path)
    ring.add_key(org, key.public_key(), not_before=not_before)
    return SigningKey(org=org, kid=kid, private_key=key)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing()


@pytest.fixture
def center(key_dir: Path, ring: KeyRing) -> SigningKey:
    return new_signer("center", key_dir, ring)


@pytest.fixture
def abc(key_dir: Path, ring: KeyRing) -> SigningKey:
    return new_signer("bank:ABC", key_dir, ring)


@pytest.fixture
def icbc(key_dir: Path, ring: KeyRing) -> SigningKey:
    return new_signer("bank:ICBC", key_dir, ring)


@pytest.fixture
def signed(center: SigningKey) -> dict[str, Any]:
    unsigned = new_envelope(stop_payment(), sender="center", recipient="bank:ABC",
                            idempotency_key="SH20261125-000123:sp:1", sent_at=NOW)
    return sign(unsigned, center.private_key, center.kid)


def reason(envelope: dict[str, Any], ring: KeyRing, now: datetime = NOW) -> str:
    with pytest.raises(BadSignature) as caught:
        verify(envelope, ring, now=now)
    assert caught.value.reason in SIGNATURE_FAILURES
    return caught.value.reason


# ---- signatures ----------------------------------------------------------------------------------------------

def test_signed_envelope_verifies_and_parses(signed: dict[str, Any], ring: KeyRing, center: SigningKey) -> None:
    verify(signed, ring, now=NOW)
    envelope = verify_and_parse(json.dumps(signed, ensure_ascii=False).encode(), ring, now=NOW)
    assert envelope.kid == center.kid
    assert envelope.typed_body() == stop_payment()


def test_the_signature_covers_canonical_json_without_sig(signed: dict[str, Any], center: SigningKey) -> None:
    payload = signing_payload(signed)
    assert b'"sig"' not in payload and b'"kid"' in payload
    assert "电信诈骗".encode() in payload  # UTF-8, not \\u escapes
    assert b", " not in payload and b": " not in payload
    center.public_key.verify(base64.b64decode(signed["sig"]), payload)  # independent check with the raw key
    reordered = dict(reversed(list(signed.items())))
    assert signing_payload(reordered) == payload  # key order on the wire does not matter


def test_sign_does_not_modify_its_input(center: SigningKey) -> None:
    unsigned = new_envelope(stop_payment(), sender="center", recipient="bank:ABC", idempotency_key="k")
    before = copy.deepcopy(unsigned)
    sign(unsigned, center.private_key, center.kid)
    assert unsigned == before


@pytest.mark.parametrize(("path", "new"), [
    (("body", "amount"), "70000.01"),
    (("body", "account"), "6228480012345678902"),
    (("body", "reason"), "电信诈骗!"),
    (("recipient",), "bank:ABD"),
    (("idempotency_key",), "SH20261125-000123:sp:2"),
    (("sent_at",), "2026-11-25T02:00:01+00:00"),
    (("id",), "00000000-0000-4000-8000-000000000000"),
    (("type",), "Freeze"),
])
def test_a_single_change_anywhere_breaks_the_signature(signed: dict[str, Any], ring: KeyRing,
                                                        path: tuple[str, ...], new: str) -> None:
    tampered = copy.deepcopy(signed)
    target = tampered
    for key in path[:-1]:
        target = target[key]
    assert target[path[-1]] != new
    target[path[-1]] = new
    assert reason(tampered, ring) == "invalid_signature"


def test_added_or_removed_body_field_breaks_the_signature(signed: dict[str, Any], ring: KeyRing) -> None:
    added = copy.deepcopy(signed)
    added["body"]["note"] = "x"
    assert reason(added, ring) == "invalid_signature"
    removed = copy.deepcopy(signed)
    del removed["body"]["account_name"]
    assert reason(removed, ring) == "invalid_signature"


def test_malformed_signature_refused(signed: dict[str, Any], ring: KeyRing) -> None:
    for bad in ("", "not base64!", signed["sig"][:-4], 12345, None):
        assert reason({**signed, "sig": bad}, ring) == "malformed_signature"
    flipped = ("B" if signed["sig"][0] == "A" else "A") + signed["sig"][1:]
    assert reason({**signed, "sig": flipped}, ring) == "invalid_signature"
    unsigned = {key: value for key, value in signed.items() if key != "sig"}
    assert reason(unsigned, ring) == "malformed_signature"


def test_unknown_kid_refused(signed: dict[str, Any], ring: KeyRing) -> None:
    assert reason({**signed, "kid": "ffffffffffffffff"}, ring) == "unknown_kid"
    assert reason({**signed, "kid": None}, ring) == "unknown_kid"
    assert reason(signed, KeyRing()) == "unknown_kid"


def test_a_key_of_one_org_cannot_sign_as_another(abc: SigningKey, icbc: SigningKey, ring: KeyRing) -> None:
    result = StopPaymentResult(request_id="0b0f5a4e-8c0e-4d3b-9a53-5b8f0a0f6e11", status="rejected",
                               held_amount=Decimal(0), currency="CNY", reason="no such account")
    # ICBC's key signing a message that claims to come from ABC
    forged = sign(new_envelope(result, sender="bank:ABC", recipient="center", idempotency_key="k"),
                  icbc.private_key, icbc.kid)
    assert reason(forged, ring) == "wrong_sender"
    # ... or naming ABC's kid while signing with ICBC's key
    unsigned = new_envelope(result, sender="bank:ABC", recipient="center", idempotency_key="k")
    claimed = {**unsigned, "kid": abc.kid}
    forged_sig = base64.b64encode(icbc.private_key.sign(signing_payload(claimed))).decode()
    assert reason({**claimed, "sig": forged_sig}, ring) == "invalid_signature"
    with pytest.raises(ValueError, match="not the kid of this private key"):
        sign(unsigned, icbc.private_key, abc.kid)


def test_sign_envelope_signs_as_the_keys_own_org(center: SigningKey, ring: KeyRing) -> None:
    envelope = sign_envelope(stop_payment(), center, recipient="bank:ABC", idempotency_key="k", sent_at=NOW)
    assert envelope.sender == "center"
    verify(envelope.to_wire(), ring, now=NOW)


def test_answer_goes_back_to_the_sender_under_the_same_key(center: SigningKey, abc: SigningKey,
                                                           ring: KeyRing) -> None:
    request = sign_envelope(stop_payment(), center, recipient="bank:ABC", idempotency_key="SH20261125-000123:sp:1")
    result = StopPaymentResult(request_id=request.id, status="held", held_amount=Decimal("70000.00"),
                               currency="CNY", expires_at=NOW + timedelta(hours=48))
    answer = answer_to(request, result, abc)
    assert (answer.sender, answer.recipient) == ("bank:ABC", "center")
    assert answer.idempotency_key == request.idempotency_key and answer.id != request.id
    verify(answer.to_wire(), ring)


def test_sign_refuses_what_it_could_not_faithfully_sign(center: SigningKey, signed: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="already signed"):
        sign(signed, center.private_key, center.kid)
    unsigned = new_envelope(stop_payment(), sender="center", recipient="bank:ABC", idempotency_key="k")
    with pytest.raises(ValueError, match="not plain JSON"):
        sign({**unsigned, "sent_at": NOW}, center.private_key, center.kid)
    with pytest.raises(ValueError, match="not plain JSON"):
        sign({**unsigned, "body": {**unsigned["body"], "amount": Decimal("1.00")}}, center.private_key, center.kid)
    with pytest.raises(ValueError, match="names kid"):
        sign({**unsigned, "kid": "0123456789abcdef"}, center.private_key, center.kid)


def test_verify_and_parse_checks_the_signature_before_the_schema(center: SigningKey, ring: KeyRing) -> None:
    # A nonsense body under a bad signature is a signature problem: nothing unauthenticated is interpreted.
    bogus = {"v": 1, "type": "StopPayment", "sender": "center", "kid": center.kid, "sig": "A" * 86 + "==",
             "body": {"junk": True}}
    with pytest.raises(BadSignature):
        verify_and_parse(bogus, ring, now=NOW)


# ---- rotation ------------------------------------------------------------------------------------------------

def test_rotation_old_and_new_both_valid_during_overlap_then_old_refused(key_dir: Path, ring: KeyRing) -> None:
    old = new_signer("center", key_dir, ring, not_before=EPOCH)
    switch = NOW + timedelta(minutes=5)
    new = new_signer("center", key_dir, ring, not_before=switch)

    def signed_by(signer: SigningKey) -> dict[str, Any]:
        return sign(new_envelope(stop_payment(), sender="center", recipient="bank:ABC", idempotency_key="k"),
                    signer.private_key, signer.kid)

    # Published but not yet valid: the center keeps signing with the old key, so no bank ever sees an unknown key.
    assert k.load_signing_key("center", key_dir, ring, at=NOW).kid == old.kid
    assert reason(signed_by(new), ring, now=NOW) == "key_not_yet_valid"
    # Overlap: the new key takes over by itself, and both are accepted.
    assert k.load_signing_key("center", key_dir, ring, at=switch).kid == new.kid
    verify(signed_by(old), ring, now=switch)
    verify(signed_by(new), ring, now=switch)
    # Retire the old key with a grace period for messages in flight.
    ring.retire(old.kid, at=switch + timedelta(hours=1), grace=timedelta(minutes=10))
    verify(signed_by(old), ring, now=switch + timedelta(hours=1, minutes=9))
    assert reason(signed_by(old), ring, now=switch + timedelta(hours=1, minutes=10)) == "key_retired"
    verify(signed_by(new), ring, now=switch + timedelta(days=30))
    assert k.load_signing_key("center", key_dir, ring, at=switch + timedelta(days=1)).kid == new.kid


def test_no_published_key_means_no_signing(key_dir: Path) -> None:
    k.generate_key("center", key_dir)  # generated but never published
    with pytest.raises(KeyFileError, match="published"):
        k.load_signing_key("center", key_dir, KeyRing(), at=NOW)


def test_an_old_export_cannot_unretire_a_key(center: SigningKey, ring: KeyRing) -> None:
    stale_export = ring.to_json()
    ring.retire(center.kid, at=NOW)
    ring.merge_json(stale_export)
    entry = ring.get(center.kid)
    assert entry is not None and entry.not_after == NOW


def test_ensure_key_bootstraps_once(key_dir: Path) -> None:
    ring = KeyRing()
    first = k.ensure_key("bank:ABC", key_dir, ring)
    again = k.ensure_key("bank:ABC", key_dir, ring)
    assert first.kid == again.kid and len(ring) == 1
    assert list(k.private_key_files("bank:ABC", key_dir)) == [first.kid]


# ---- key files and keyring export ---------------------------------------------------------------------------

def test_private_key_files_are_0600_in_a_0700_directory(key_dir: Path, center: SigningKey, abc: SigningKey) -> None:
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    files = sorted(key_dir.iterdir())
    assert len(files) == 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert k.private_key_files("bank:ABC", key_dir) == {abc.kid: key_dir / f"bank_ABC.{abc.kid}.pem"}


def test_group_or_world_readable_private_key_refused(key_dir: Path, center: SigningKey) -> None:
    path = k.private_key_files("center", key_dir)[center.kid]
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        k.load_private_key(path)


def test_generate_key_follows_umask_nowhere(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        _, path = k.generate_key("center", tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_exported_keyring_holds_no_private_material(tmp_path: Path, key_dir: Path, ring: KeyRing,
                                                    center: SigningKey, abc: SigningKey) -> None:
    export = tmp_path / "public" / "keyring.json"
    ring.save(export)
    text = export.read_text(encoding="utf-8")
    for signer in (center, abc):
        raw_private = signer.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                       serialization.NoEncryption())
        pem = signer.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()).decode()
        pem_body = "".join(pem.splitlines()[1:-1])
        for secret in (base64.b64encode(raw_private).decode(), raw_private.hex(), pem_body):
            assert secret not in text
        assert "private" not in repr(signer).lower()
    assert "PRIVATE" not in text
    data = json.loads(text)
    assert {tuple(sorted(e)) for e in data["keys"]} == {("kid", "not_after", "not_before", "org", "public_key_b64")}


def test_keyring_round_trips_through_a_file(tmp_path: Path, ring: KeyRing, center: SigningKey,
                                            signed: dict[str, Any]) -> None:
    ring.retire(center.kid, at=NOW + timedelta(days=1))
    path = tmp_path / "keyring.json"
    ring.save(path)
    other_process = KeyRing.load(path)
    verify(signed, other_process, now=NOW)
    assert reason(signed, other_process, now=NOW + timedelta(days=1)) == "key_retired"
    entry = other_process.get(center.kid)
    assert entry is not None and entry.org == "center" and entry.not_before == EPOCH


def test_keyring_import_refuses_edited_entries(ring: KeyRing, center: SigningKey, abc: SigningKey) -> None:
    data = ring.to_json()
    swapped = copy.deepcopy(data)
    swapped["keys"][0]["kid"], swapped["keys"][1]["kid"] = swapped["keys"][1]["kid"], swapped["keys"][0]["kid"]
    with pytest.raises(KeyRingError, match="does not match"):
        KeyRing.from_json(swapped)
    relabelled = copy.deepcopy(data)
    for entry in relabelled["keys"]:
        entry["org"] = "center" if entry["org"] != "center" else "bank:ABC"
    with pytest.raises(KeyRingError, match="belongs to"):
        ring.merge_json(relabelled)
    broken_files: list[dict[str, Any]] = [
        {"keys": [{**data["keys"][0], "not_before": "2026-01-01T00:00:00"}]},
        {"keys": [{**data["keys"][0], "extra": 1}]}, {"kees": []}, {"keys": [{}]}, {"keys": "all"},
    ]
    for broken in broken_files:
        with pytest.raises(KeyRingError):
            KeyRing.from_json(broken)


def test_unreadable_keyring_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="cannot read keyring"):
        KeyRing.load(tmp_path / "missing.json")


def test_org_codes_are_checked(tmp_path: Path) -> None:
    for bad in ("Bank:ABC", "bank:", "bank:A/B", "../center"):
        with pytest.raises(ValueError):
            k.generate_key(bad, tmp_path)


# ---- property: any random envelope signs and verifies, any mutation fails ------------------------------------

_json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53)
                 | st.text(max_size=20) | st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str))
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
_bodies = st.dictionaries(st.text(min_size=1, max_size=12), _json_values, min_size=1, max_size=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutated(value: Any) -> Any:
    """A value that certainly serialises differently."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return 0
    if isinstance(value, list):
        return [*value, None]
    return {**value, "\x00added": None}


_SIGNER_KEY = Ed25519PrivateKey.generate()
_SIGNER_RING = KeyRing()
_SIGNER = _SIGNER_RING.add_key("bank:ABC", _SIGNER_KEY.public_key(), not_before=EPOCH)


@given(body=_bodies, key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.:-", min_size=1, max_size=40),
       pick=st.integers(min_value=0))
def test_property_sign_then_verify_and_every_mutation_fails(body: dict[str, Any], key: str, pick: int) -> None:
    envelope = {"v": 1, "type": "Error", "id": "0b0f5a4e-8c0e-4d3b-9a53-5b8f0a0f6e11", "idempotency_key": key,
                "sent_at": "2026-11-25T10:00:00+08:00", "sender": "bank:ABC", "recipient": "center", "body": body}
    signed = sign(envelope, _SIGNER_KEY, _SIGNER.kid)
    verify(signed, _SIGNER_RING, now=NOW)
    # a wire round trip keeps it valid
    verify(json.loads(json.dumps(signed, ensure_ascii=False)), _SIGNER_RING, now=NOW)

    paths = [p for p in _paths(signed) if p[0] != "sig"]
    path = paths[pick % len(paths)]
    tampered = copy.deepcopy(signed)
    target = tampered
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = _mutated(target[path[-1]])
    with pytest.raises(BadSignature):
        verify(tampered, _SIGNER_RING, now=NOW)
