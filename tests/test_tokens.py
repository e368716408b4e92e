"""Card tokens: unguessable, typeable, and the key to one sealed personal file."""

from __future__ import annotations

import math
import re
import string
from collections import Counter

import pytest
from cryptography.exceptions import InvalidTag

from kit.tokens import ALPHABET, LENGTH, file_id, grouped, new_token, normalize, seal, unseal

RFC4648_BASE32 = string.ascii_uppercase + "234567"
TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # a valid token using every letter once
OTHER = "234567ABCDEFGHIJKLMNOPQRST"


# --- new_token ------------------------------------------------------------------------------


def test_alphabet_is_rfc4648_base32():
    assert ALPHABET == RFC4648_BASE32
    assert len(set(ALPHABET)) == 32
    assert not set("0189") & set(ALPHABET)  # the digits people confuse with letters are left out


def test_new_token_is_26_base32_characters_carrying_130_bits():
    for _ in range(200):
        token = new_token()
        assert len(token) == LENGTH == 26
        assert set(token) <= set(RFC4648_BASE32), token
        assert normalize(token) == token  # already canonical
    assert LENGTH * math.log2(len(ALPHABET)) == 130 >= 128


def test_many_new_tokens_are_distinct_and_use_the_whole_alphabet_evenly():
    tokens = [new_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    counts = Counter("".join(tokens))
    assert set(counts) == set(RFC4648_BASE32)
    expected = len(tokens) * LENGTH / 32  # 1625 per character; sd ≈ 40
    assert all(abs(n - expected) < 325 for n in counts.values()), counts
    # no position is stuck: every position takes many different characters
    for position in range(LENGTH):
        assert len({t[position] for t in tokens}) >= 30


# --- normalize ------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    TOKEN,
    "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ",
    "abcd-efgh-ijkl-mnop-qrst-uvwx-yz",
    "abcdefghijklmnopqrstuvwxyz",
    "ABCD EFGH IJKL MNOP QRST UVWX YZ",
    "  abcd efgh\tijkl\nmnop qrst uvwx yz  ",
    "ABCD_EFGH.IJKL-MNOP QRST-UVWX-YZ",
    "ABCD-EFGH-1JKL-MN0P-QRST-UVWX-YZ",  # 1 typed for I, 0 typed for O
    "abcd-efgh-1jkl-mn0p-qrst-uvwx-yz",
])
def test_normalize_accepts_what_staff_type(typed):
    assert normalize(typed) == TOKEN


def test_normalize_maps_0_and_1_to_o_and_i_only():
    assert normalize("0" * 26) == "O" * 26
    assert normalize("1" * 26) == "I" * 26
    assert normalize(OTHER.lower()) == OTHER


@pytest.mark.parametrize("typed", [
    "",
    "   ",
    TOKEN[:-1],  # 25 characters
    TOKEN + "A",  # 27 characters
    TOKEN + TOKEN,
    "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-Y",
    "8BCDEFGHIJKLMNOPQRSTUVWXYZ",  # 8 is not base32
    "9BCDEFGHIJKLMNOPQRSTUVWXYZ",
    "ABCDEFGHIJKLMNOPQRSTUVWXY!",
    "ABCDEFGHIJKLMNOPQRSTUVWXY/",
    "ABCDEFGHIJKLMNOPQRSTUVWXY=",
    "张BCDEFGHIJKLMNOPQRSTUVWXYZ",
    "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ",  # full-width letters
    "https://jf.example.cn/me/#ABCDEFGHIJKLMNOPQRSTUVWXYZ",
])
def test_normalize_rejects_what_is_not_a_token(typed):
    assert normalize(typed) is None


# --- grouped --------------------------------------------------------------------------------


def test_grouped_splits_into_fours():
    assert grouped(TOKEN) == "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ"
    for _ in range(50):
        token = new_token()
        parts = grouped(token).split("-")
        assert [len(p) for p in parts] == [4, 4, 4, 4, 4, 4, 2]
        assert "".join(parts) == token
        assert normalize(grouped(token)) == token
        assert normalize(grouped(token).lower()) == token


# --- file_id --------------------------------------------------------------------------------


def test_file_id_is_32_hex_characters_and_deterministic():
    name = file_id(TOKEN)
    assert re.fullmatch(r"[0-9a-f]{32}", name), name
    assert file_id(TOKEN) == name
    assert file_id("".join(TOKEN)) == name  # a copy of the string, not the same object
    assert TOKEN not in name and TOKEN.lower() not in name


def test_file_id_differs_per_token():
    tokens = {new_token() for _ in range(500)} | {TOKEN, OTHER}
    names = {file_id(t) for t in tokens}
    assert len(names) == len(tokens)
    assert all(re.fullmatch(r"[0-9a-f]{32}", n) for n in names)
    # one character apart still gives an unrelated name
    neighbour = "B" + TOKEN[1:]
    assert file_id(neighbour) != file_id(TOKEN)
    same = sum(a == b for a, b in zip(file_id(neighbour), file_id(TOKEN)))
    assert same < 16


# --- seal / unseal --------------------------------------------------------------------------

PAYLOAD = '{"balance":120,"pseudonym":"青松0001","history":[]}'.encode("utf-8")


def test_seal_unseal_round_trip():
    sealed = seal(TOKEN, PAYLOAD)
    assert unseal(TOKEN, sealed) == PAYLOAD
    assert len(sealed) == 12 + len(PAYLOAD) + 16  # nonce, ciphertext, Poly1305 tag
    assert PAYLOAD not in sealed and "青松".encode("utf-8") not in sealed
    for payload in (b"", b"x", bytes(range(256)) * 10):
        assert unseal(TOKEN, seal(TOKEN, payload)) == payload


def test_same_payload_and_token_give_the_same_bytes():
    assert seal(TOKEN, PAYLOAD) == seal(TOKEN, PAYLOAD)
    assert seal(TOKEN, PAYLOAD) != seal(OTHER, PAYLOAD)


def test_different_payloads_never_share_a_nonce():
    nonces = {seal(TOKEN, PAYLOAD + b" " * n)[:12] for n in range(200)}
    assert len(nonces) == 200
    assert seal(TOKEN, b"a")[:12] != seal(TOKEN, b"b")[:12]


def test_wrong_token_cannot_unseal():
    sealed = seal(TOKEN, PAYLOAD)
    with pytest.raises(InvalidTag):
        unseal(OTHER, sealed)
    with pytest.raises(InvalidTag):
        unseal("B" + TOKEN[1:], sealed)


def test_any_tampered_byte_fails():
    sealed = seal(TOKEN, PAYLOAD)
    # a byte of the nonce, of the ciphertext, and of the tag
    for index in (0, 11, 12, 12 + len(PAYLOAD) // 2, len(sealed) - 16, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidTag):
            unseal(TOKEN, bytes(tampered))
    with pytest.raises(InvalidTag):
        unseal(TOKEN, sealed[:-1])  # truncated
    with pytest.raises(InvalidTag):
        unseal(TOKEN, sealed + b"\x00")  # extended
