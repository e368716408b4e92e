"""kit.privacy: masked names, keyed pseudonyms, small-cell suppression (PRODUCT.md, "Privacy")."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from kit.model import Resident
from kit.privacy import PSEUDONYM_WORDS, masked_name, public_names, pseudonyms, suppress

SECRET = "privacy-test-secret-0123456789"


def resident(row: int, resident_id: str, name: str = "张三", consent: bool = False,
             grid: str = "G1", status: str = "active") -> Resident:
    return Resident(row, resident_id, name, grid, 1970, "13800000000", consent, None, status)


def many(count: int, start: int = 0) -> list[Resident]:
    """count residents with ids like the ones staff type (JM000001 …), one sheet row each."""
    return [resident(i + 2, f"JM{i:06d}") for i in range(start, start + count)]


# --- masked names ---------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("张三丰", "张*丰"),
    ("李四", "李*"),
    ("欧阳振华", "欧阳*华"),
    ("欧阳华", "欧阳*"),
    ("司马相如", "司马*如"),
    ("王", "王*"),
    ("张小三丰", "张*丰"),
])
def test_masked_name(name, expected):
    assert masked_name(name) == expected


@pytest.mark.parametrize("name, expected", [
    (" 张三丰 ", "张*丰"),  # stray spaces around the cell
    ("李四\u3000", "李*"),
    ("张 三 丰", "张*丰"),
    ("欧阳 振华", "欧阳*华"),
    # Two-character names are often padded with a space to line up with three-character
    # ones in Chinese rosters: the given name must stay hidden all the same.
    ("李 四", "李*"),
    ("李\u3000四", "李*"),
    ("李  四", "李*"),
])
def test_masked_name_with_spaces(name, expected):
    assert masked_name(name) == expected


@pytest.mark.parametrize("name", ["李四", "李 四", "李\u3000四", "王五", "欧阳华", "张三丰", "欧阳振华"])
def test_masked_name_never_shows_the_whole_name(name):
    shown = masked_name(name)
    letters = [ch for ch in name if not ch.isspace()]
    assert "*" in shown
    assert not any(ch.isspace() for ch in shown)
    # at least one character of the real name is hidden
    assert len([ch for ch in shown if ch != "*"]) < len(letters)


# --- pseudonyms -----------------------------------------------------------------


def test_pseudonyms_are_stable_for_the_same_secret():
    residents = many(500)
    first = pseudonyms(SECRET, residents)
    assert first == pseudonyms(SECRET, residents)
    assert first == pseudonyms(SECRET, list(reversed(residents)))  # sheet row decides, not list order
    assert set(first) == {r.resident_id for r in residents}


def test_pseudonyms_look_like_a_word_and_four_digits():
    for name in pseudonyms(SECRET, many(200)).values():
        word, number = name[:-4], name[-4:]
        assert word in PSEUDONYM_WORDS
        assert number.isdigit()


def test_pseudonyms_differ_for_another_secret():
    residents = many(500)
    ours = pseudonyms(SECRET, residents)
    theirs = pseudonyms("another-secret-9876543210", residents)
    same = sum(ours[rid] == theirs[rid] for rid in ours)
    assert same <= 2  # 1 in 1,000,000 per resident by chance


def test_pseudonyms_unique_across_20000_residents():
    residents = many(20_000)
    found = pseudonyms(SECRET, residents)
    assert len(found) == 20_000
    assert len(set(found.values())) == 20_000


def _unkeyed(resident_id: str, digest_of) -> str:
    """The same word+number scheme over a hash anyone can compute from the id alone."""
    number = int.from_bytes(digest_of(resident_id.encode("utf-8"))[:8], "big")
    return f"{PSEUDONYM_WORDS[number % len(PSEUDONYM_WORDS)]}{number // len(PSEUDONYM_WORDS) % 10000:04d}"


@pytest.mark.parametrize("digest_of", [
    lambda b: hashlib.sha256(b).digest(),
    lambda b: hashlib.sha256(b + b"\x000").digest(),
    lambda b: hashlib.md5(b).digest(),
    lambda b: hmac.new(b"", b + b"\x000", hashlib.sha256).digest(),  # HMAC without a secret
], ids=["sha256", "sha256-attempt", "md5", "hmac-empty-key"])
def test_pseudonym_is_not_a_keyless_hash_of_the_id(digest_of):
    residents = many(2_000)
    found = pseudonyms(SECRET, residents)
    matches = sum(found[r.resident_id] == _unkeyed(r.resident_id, digest_of) for r in residents)
    assert matches <= 2


def test_pseudonym_does_not_contain_the_id():
    for rid, name in pseudonyms(SECRET, many(1_000, start=1234)).items():
        assert rid not in name


def test_adding_residents_at_the_bottom_keeps_existing_pseudonyms():
    # 20,000 residents in a 1,000,000-name space: ~200 clashes are resolved on the way,
    # so this also checks that a clash resolved for a new row never moves an old one.
    old = many(20_000)
    before = pseudonyms(SECRET, old)
    after = pseudonyms(SECRET, old + many(5_000, start=20_000))
    assert {rid: after[rid] for rid in before} == before
    assert len(set(after.values())) == 25_000


# --- public names ---------------------------------------------------------------


def test_public_names_use_the_masked_name_only_with_consent():
    residents = [
        resident(2, "R1", "张三丰", consent=True),
        resident(3, "R2", "李四", consent=False),
        resident(4, "R3", "欧阳振华", consent=True),
        resident(5, "R4", "王五", consent=False, status="moved"),
    ]
    names = public_names(SECRET, residents)
    expected_pseudo = pseudonyms(SECRET, residents)
    assert dict(names.pseudonym) == expected_pseudo
    assert dict(names.display) == {
        "R1": "张*丰",
        "R2": expected_pseudo["R2"],
        "R3": "欧阳*华",
        "R4": expected_pseudo["R4"],
    }
    for rid, shown in names.display.items():
        assert rid not in shown
    assert "李" not in names.display["R2"] and "王" not in names.display["R4"]


def test_public_names_pseudonym_ignores_consent_and_name():
    """The card shows the pseudonym, so giving or withdrawing consent must not change it."""
    consenting = public_names(SECRET, [resident(2, "R1", "张三丰", consent=True)])
    refusing = public_names(SECRET, [resident(2, "R1", "张三", consent=False)])
    assert consenting.pseudonym["R1"] == refusing.pseudonym["R1"] == refusing.display["R1"]


# --- suppression ----------------------------------------------------------------


def test_suppress_hides_cells_under_the_minimum_and_one_more():
    counts = {"A": 500, "B": 120, "C": 80, "D": 7}
    people = {"A": 40, "B": 9, "C": 6, "D": 2}
    assert suppress(counts, people, 5) == {"A": 500, "B": 120, "C": None, "D": None}


def test_suppress_complementary_takes_the_next_smallest_group():
    counts = {"A": 10, "B": 999, "C": 20}
    people = {"A": 30, "B": 7, "C": 3}
    # C (3 people) is hidden; B (7) is the next smallest group, not the smallest count (A).
    assert suppress(counts, people, 5) == {"A": 10, "B": None, "C": None}


def test_suppress_cell_at_the_minimum_is_shown():
    assert suppress({"A": 50, "B": 60}, {"A": 5, "B": 5}, 5) == {"A": 50, "B": 60}


def test_suppress_nothing_when_all_groups_are_large():
    counts = {"A": 1, "B": 2, "C": 3}
    people = {"A": 5, "B": 6, "C": 100}
    assert suppress(counts, people, 5) == counts


def test_suppress_two_hidden_need_no_extra():
    counts = {"A": 100, "B": 50, "C": 4, "D": 3}
    people = {"A": 20, "B": 6, "C": 4, "D": 1}
    assert suppress(counts, people, 5) == {"A": 100, "B": 50, "C": None, "D": None}


def test_suppress_single_cell():
    assert suppress({"A": 12}, {"A": 2}, 5) == {"A": None}
    assert suppress({"A": 12}, {"A": 9}, 5) == {"A": 12}


def test_suppress_minimum_one_shows_everything():
    counts = {"A": 3, "B": 4}
    assert suppress(counts, {"A": 1, "B": 1}, 1) == counts
