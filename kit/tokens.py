"""Card tokens: 130 random bits, written as base32 in groups of four so staff can type one.

The token is the resident's key to their own page: it names (through a hash)
and unlocks (through a derived key) a data file on the public site, and it
travels only in the URL fragment, which browsers never send to a server.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32: no 0/1/8/9 to confuse
LENGTH = 26  # 26 × 5 bits = 130 bits of randomness
_SHAPE = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")
_TYPOS = str.maketrans({"0": "O", "1": "I"})  # digits base32 leaves out, typed for letters
FILE_INFO = b"kit-card-file-v1"
KEY_INFO = b"kit-card-key-v1"
NONCE_INFO = b"kit-card-nonce-v1"


def new_token() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(text: str) -> str | None:
    """The token in canonical form (upper case, no separators), or None if it is not one."""
    compact = re.sub(r"[\s\-_.]", "", str(text)).upper().translate(_TYPOS)
    return compact if _SHAPE.match(compact) else None


def grouped(token: str) -> str:
    """ABCD-EFGH-…: how a token is printed on the card."""
    return "-".join(token[i:i + 4] for i in range(0, len(token), 4))


def _derive(token: str, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 without salt: the token already has 130 random bits."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(token.encode("ascii"))


def file_id(token: str) -> str:
    """The data file's name: nobody can find it without the token."""
    return _derive(token, FILE_INFO, 16).hex()


def seal(token: str, payload: bytes) -> bytes:
    """nonce ‖ ChaCha20-Poly1305(payload). The nonce is derived from the key and the
    payload (synthetic IV), so the same data gives the same bytes in every build and
    different data never reuses a nonce."""
    key = _derive(token, KEY_INFO, 32)
    nonce = hmac.new(_derive(token, NONCE_INFO, 32), payload, hashlib.sha256).digest()[:12]
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, payload, None)


def unseal(token: str, sealed: bytes) -> bytes:
    key = _derive(token, KEY_INFO, 32)
    return ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], None)
