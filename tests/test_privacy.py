"""kit.privacy and kit.disclosure: masked names, keyed pseudonyms, notice codes, small-cell
suppression (PRODUCT.md, "Privacy")."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import random

import pytest

from kit.model import Resident
from kit.disclosure import hide_small
from kit.privacy import PSEUDONYM_WORDS, is_minor, masked_name, notice_code, public_names, pseudonyms

SECRET = "5d0c1f3a9b7e24c68d1a0f93b2e47c51"
YEAR = 2026
ON = dt.date(2026, 6, 30)


def resident(row: int, resident_id: str, name: str = "张三", consent: bool = False,
             grid: str = "G1", status: str = "active", birth_year: int = 1970, token: str | None = None) -> Resident:
    return Resident(row, resident_id, name, grid, birth_year, "13800000000", consent, token, status)


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
    first = pseudonyms(SECRET, residents, YEAR)
    assert first == pseudonyms(SECRET, residents, YEAR)
    assert first == pseudonyms(SECRET, list(reversed(residents)), YEAR)
    assert set(first) == {r.resident_id for r in residents}


def test_resorting_the_sheet_changes_no_pseudonym():
    """Sorting 居民 by name or grid gives everyone another row: pseudonyms (clashes included,
    20,000 residents make ~200) depend on the resident id, not the row."""
    residents = many(20_000)
    rows = list(range(2, 20_002))
    random.Random(7).shuffle(rows)
    resorted = [dataclasses.replace(r, row=row) for r, row in zip(residents, rows)]
    assert pseudonyms(SECRET, resorted, YEAR) == pseudonyms(SECRET, residents, YEAR)


def test_pseudonyms_look_like_a_word_and_four_digits():
    for name in pseudonyms(SECRET, many(200), YEAR).values():
        word, number = name[:-4], name[-4:]
        assert word in PSEUDONYM_WORDS
        assert number.isdigit()


def test_pseudonyms_differ_for_another_secret():
    residents = many(500)
    ours = pseudonyms(SECRET, residents, YEAR)
    theirs = pseudonyms("another-secret-9876543210", residents, YEAR)
    same = sum(ours[rid] == theirs[rid] for rid in ours)
    assert same <= 2  # 1 in 1,000,000 per resident by chance


def test_pseudonyms_unique_across_20000_residents():
    residents = many(20_000)
    found = pseudonyms(SECRET, residents, YEAR)
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
    found = pseudonyms(SECRET, residents, YEAR)
    matches = sum(found[r.resident_id] == _unkeyed(r.resident_id, digest_of) for r in residents)
    assert matches <= 2


def test_pseudonym_does_not_contain_the_id():
    for rid, name in pseudonyms(SECRET, many(1_000, start=1234), YEAR).items():
        assert rid not in name


def test_adding_residents_at_the_bottom_keeps_existing_pseudonyms():
    # 20,000 residents in a 1,000,000-name space: ~200 clashes are resolved on the way,
    # so this also checks that a clash resolved for a new row never moves an old one.
    old = many(20_000)
    before = pseudonyms(SECRET, old, YEAR)
    after = pseudonyms(SECRET, old + many(5_000, start=20_000), YEAR)
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
    names = public_names(SECRET, residents, ON)
    expected_pseudo = pseudonyms(SECRET, residents, YEAR)
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


def test_pseudonyms_rotate_every_year():
    residents = many(1_000)
    this_year, next_year = pseudonyms(SECRET, residents, 2026), pseudonyms(SECRET, residents, 2027)
    assert sum(this_year[rid] == next_year[rid] for rid in this_year) <= 2


def test_pseudonym_changes_with_a_new_card_and_with_consent():
    """Reissue (a new token) and a change of consent each start a new pseudonym, so the old
    one (on the lost card, or beside a masked name in an archive) leads nowhere."""
    base = resident(2, "R1", "张三丰", consent=False, token="A" * 26)
    reissued = dataclasses.replace(base, card_token="B" * 26)
    consenting = dataclasses.replace(base, name_consent=True)
    first_card = dataclasses.replace(base, card_token=None)
    names = {pseudonyms(SECRET, [r], YEAR)["R1"] for r in (base, reissued, consenting, first_card)}
    assert len(names) == 4
    assert pseudonyms(SECRET, [base], YEAR) == pseudonyms(SECRET, [dataclasses.replace(base, name="张三")], YEAR)


def test_children_are_never_shown_by_name():
    """Under 14 by the birth year on the as-of date: a pseudonym whatever the consent cell says."""
    residents = [resident(2, "R1", "张小明", consent=True, birth_year=2013),  # 13 in 2026
                 resident(3, "R2", "李小红", consent=True, birth_year=2012),  # 13 or 14: maybe under 14
                 resident(4, "R3", "王大伟", consent=True, birth_year=2011),  # 14 or 15
                 resident(5, "R4", "赵敏", consent=True, birth_year=None)]
    names = public_names(SECRET, residents, ON)
    assert names.display["R1"] == names.pseudonym["R1"]
    assert names.display["R2"] == names.pseudonym["R2"]
    assert (names.display["R3"], names.display["R4"]) == ("王*伟", "赵*")
    assert [is_minor(y, ON) for y in (2013, 2012, 2011, None)] == [True, True, False, False]


# --- notice codes ---------------------------------------------------------------


def test_notice_codes_are_letters_keyed_and_unrelated():
    codes = [notice_code(SECRET, f"E{i:06d}") for i in range(5_000)]
    assert all(len(c) == 6 and c.isalpha() and c.isupper() for c in codes)
    assert len(set(codes)) >= 4_995  # 85 million codes: a clash among 5,000 is rare
    assert notice_code(SECRET, "E000001") != notice_code("0" * 32, "E000001")
    assert not set("BIOSZ0123456789") & set("".join(codes))
    # neighbouring ids share no structure: the first letter is spread over the alphabet
    assert len({c[0] for c in codes[:200]}) >= 18


# --- suppression ----------------------------------------------------------------


def test_hide_small_hides_cells_under_the_minimum_and_one_more():
    assert hide_small({"A": 40, "B": 9, "C": 6, "D": 2}, 5) == frozenset({"D", "C"})


def test_hide_small_complement_takes_the_next_smallest_group():
    # C (3 people) is hidden; B (7) is the next smallest group
    assert hide_small({"A": 30, "B": 7, "C": 3}, 5) == frozenset({"B", "C"})


def test_hide_small_cell_at_the_minimum_is_shown():
    assert hide_small({"A": 5, "B": 5}, 5) == frozenset()


def test_hide_small_two_hidden_need_no_extra():
    assert hide_small({"A": 20, "B": 6, "C": 4, "D": 1}, 5) == frozenset({"C", "D"})


def test_hide_small_single_cell_and_empty_cells():
    assert hide_small({"A": 2}, 5) == frozenset({"A"})
    assert hide_small({"A": 9}, 5) == frozenset()
    assert hide_small({"A": 0, "B": 2, "C": 50}, 5) == frozenset({"B", "C"})  # a cell over nobody is no one's


def test_hide_small_extra_keys_count_as_hidden():
    """A grid hidden for the year is hidden in each month's notice too, with a complement."""
    assert hide_small({"G1": 50, "G2": 30, "G3": 40}, 5, extra={"G2"}) == frozenset({"G2", "G3"})
    assert hide_small({"G1": 50}, 5, extra={"G9"}) == frozenset()  # not in this month at all


def test_hide_small_minimum_one_shows_everything():
    assert hide_small({"A": 1, "B": 1}, 1) == frozenset()
