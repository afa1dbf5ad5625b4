"""The center's and the banks' Ed25519 keys: the signed channel's key store (``fanzha.channel.keys``).

Kept under this name because the bank channel came first and much code imports its keys from here.
"""

from __future__ import annotations

from fanzha.channel.keys import KID_HEX as KID_HEX
from fanzha.channel.keys import ORG_CODE_RE as ORG_CODE_RE
from fanzha.channel.keys import KeyFileError as KeyFileError
from fanzha.channel.keys import KeyRing as KeyRing
from fanzha.channel.keys import KeyRingError as KeyRingError
from fanzha.channel.keys import KeyStoreError as KeyStoreError
from fanzha.channel.keys import PublicKeyEntry as PublicKeyEntry
from fanzha.channel.keys import SigningKey as SigningKey
from fanzha.channel.keys import check_org_code as check_org_code
from fanzha.channel.keys import ensure_key as ensure_key
from fanzha.channel.keys import generate_key as generate_key
from fanzha.channel.keys import key_directory as key_directory
from fanzha.channel.keys import kid_for as kid_for
from fanzha.channel.keys import load_private_key as load_private_key
from fanzha.channel.keys import load_signing_key as load_signing_key
from fanzha.channel.keys import private_key_files as private_key_files
from fanzha.channel.keys import raw_public_key as raw_public_key
