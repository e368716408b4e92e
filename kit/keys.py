"""化名密钥: how it is made and checked, how a leaked one is replaced, and the salts it
gives the ledger fingerprint (kit/fingerprint.py).

The secret keys every pseudonym, notice code and leaf salt. It must come from the
kit's generator (128 random bits, written as hex): a secret someone typed can be
guessed offline from the public site. A replaced secret is kept in 旧化名密钥 so that
records published under it stay verifiable; from then on only the new one is used.

A resident's leaves are salted with a key of the secret and the resident id (v1, as
the kit always did). Once a card has been reissued, the salt also takes in the
current card number (v2), so whoever finds the lost card, and with it the old salt,
cannot recognise the resident's later records among the public leaves. 旧卡号 keeps
the lost cards' numbers, whose salts the records published under them still carry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from kit.model import Resident, Settings
from kit.tokens import normalize

SECRET_BYTES = 16  # 128 bits
_SHAPE = re.compile(r"[0-9a-f]{32,128}")
MIN_DISTINCT = 8  # 32 random hex digits have about 14 different ones; 0000… or abab… is not random
# The kit's own repository publishes the demo workbook and so its secret: never for a real community.
DEMO_SECRET = "d3e0a9c5b7f14e2d8a6c0b9e7f5d3a1c"
PUBLIC_SECRETS = frozenset({DEMO_SECRET})


def new_secret() -> str:
    return secrets.token_hex(SECRET_BYTES)


def secret_fault(secret: str) -> str | None:
    """Why secret cannot be used (in Chinese), or None."""
    if not _SHAPE.fullmatch(secret):
        return "应是 kit init 或 kit rotate-secret 生成的 32 位以上的十六进制数（0–9 和 a–f）"
    if len(set(secret)) < MIN_DISTINCT:
        return "不是随机生成的（重复的数字太多）"
    return None


def split_keys(text: str | None) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"[\s,，;；、]+", text or "") if part)


def retired_tokens(resident: Resident) -> tuple[str, ...]:
    if not resident.retired_tokens:
        return ()
    return tuple(t for t in (normalize(part) for part in split_keys(resident.retired_tokens)) if t)


def _salt(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def salt_v1(secret: str, resident_id: str) -> bytes:
    return _salt(secret, b"kit-leaf-v1\x00" + resident_id.encode("utf-8"))


def salt_v2(secret: str, resident_id: str, token: str) -> bytes:
    return _salt(secret, b"kit-leaf-v2\x00" + resident_id.encode("utf-8") + b"\x00" + token.encode("ascii"))


def current_salt(settings: Settings, resident: Resident) -> bytes:
    """The salt of the resident's new leaves. It changes with every reissued card, so a lost
    card's salt (in the sealed file the finder can open) never salts a later record; until
    the first reissue it is the salt the kit has always used, so no published leaf has to
    be looked for under another salt."""
    if not retired_tokens(resident):
        return salt_v1(settings.pseudonym_secret, resident.resident_id)
    return salt_v2(settings.pseudonym_secret, resident.resident_id, resident.card_token or "")


def earlier_salts(settings: Settings, resident: Resident) -> list[bytes]:
    """Salts that leaves published before a reissue or a rotation may carry."""
    tokens = ("", *(t for t in (resident.card_token,) if t), *retired_tokens(resident))
    found = []
    for secret in (settings.pseudonym_secret, *split_keys(settings.retired_secrets)):
        found.append(salt_v1(secret, resident.resident_id))
        found += [salt_v2(secret, resident.resident_id, token) for token in tokens]
    current = current_salt(settings, resident)
    return [s for s in dict.fromkeys(found) if s != current]
