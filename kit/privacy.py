"""Privacy: display names, pseudonyms and notice codes (small-cell suppression: kit/disclosure.py).

A resident appears on the public site as a masked name (张*三) only with their
consent (never a child's), otherwise as a pseudonym keyed by the workbook's
secret: nobody without the secret can tell who is behind it, it is printed on the
resident's own card, and it changes every year, with a new card and with a change
of consent. This is pseudonymised data, not anonymous data: the pseudonyms appear
only in the rankings; the notice lists entries without any name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kit.model import Resident

COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文",
    "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "澹台", "公冶",
)
PSEUDONYM_WORDS = (
    "青松", "翠竹", "红梅", "兰草", "白鹭", "海燕", "山茶", "杜鹃", "银杏", "香樟", "垂柳", "紫藤",
    "木棉", "桂花", "荷花", "菊花", "春燕", "喜鹊", "黄鹂", "百灵", "画眉", "白鸽", "丹顶", "云雀",
    "晨光", "朝阳", "明月", "星辰", "彩虹", "白云", "清风", "细雨", "小溪", "江河", "远山", "绿洲",
    "石榴", "苹果", "橘子", "葡萄", "樱桃", "枇杷", "蜜桃", "柿子", "红枣", "核桃", "板栗", "莲子",
    "灯塔", "长城", "小桥", "凉亭", "书架", "风筝", "陀螺", "竹笛", "茶盏", "砚台", "毛笔", "瓷瓶",
    "稻穗", "麦田", "茶园", "竹林", "松林", "花圃", "果园", "菜畦", "鱼塘", "荷塘", "柳岸", "桃源",
    "雄鹰", "骏马", "黄牛", "山羊", "白兔", "熊猫", "锦鲤", "仙鹤", "孔雀", "海豚", "松鼠", "梅鹿",
    "晴空", "暖阳", "春雨", "秋月", "冬雪", "夏荷", "晨露", "晚霞",
)


def masked_name(name: str) -> str:
    """张三丰 → 张*丰, 李四 → 李*, 欧阳振华 → 欧阳*华, 欧阳华 → 欧阳*."""
    name = "".join(name.split())  # rosters pad two-character names: 李　四
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), name[:1])
    given = name[len(surname):]
    return surname + "*" + (given[-1] if len(given) > 1 else "")


MINOR_AGE = 14  # PIPL art. 28: personal information of children under 14 is sensitive
NOTICE_CODE_LETTERS = "ACDEFGHJKLMNPQRTUVWXY"  # no digits, nothing to misread (B/8, I/1, O/0, S/5, Z/2)
NOTICE_CODE_LENGTH = 6


def _candidate(secret: str, key: str, attempt: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{key}\x00{attempt}".encode("utf-8"), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    word = PSEUDONYM_WORDS[number % len(PSEUDONYM_WORDS)]
    return f"{word}{number // len(PSEUDONYM_WORDS) % 10000:04d}"


def pseudonym_key(resident: Resident, year: int) -> str:
    """What a pseudonym is made from: it changes every calendar year, with a new card and
    when consent changes, so nobody can follow one name from year to year or card to card."""
    return "\x00".join(("kit-pseudonym-v2", resident.resident_id, str(year), resident.card_token or "",
                        "1" if resident.name_consent else "0"))


def pseudonyms(secret: str, residents: Iterable[Resident], year: int) -> dict[str, str]:
    """resident_id → this year's pseudonym, unique; on a clash the larger resident id takes
    its next candidate, so re-sorting the 居民 sheet changes nobody's pseudonym."""
    taken: set[str] = set()
    found: dict[str, str] = {}
    for resident in sorted(residents, key=lambda r: r.resident_id):
        key, attempt = pseudonym_key(resident, year), 0
        while (name := _candidate(secret, key, attempt)) in taken:
            attempt += 1
        taken.add(name)
        found[resident.resident_id] = name
    return found


def is_minor(birth_year: int | None, on: dt.date) -> bool:
    """Possibly under 14 on that date, going by the birth year alone."""
    return birth_year is not None and on.year - birth_year <= MINOR_AGE


@dataclass(frozen=True)
class Names:
    """How each resident is shown in public."""

    display: Mapping[str, str]  # resident_id → masked name or pseudonym
    pseudonym: Mapping[str, str]  # resident_id → this year's pseudonym (also printed on the card)


def public_names(secret: str, residents: Iterable[Resident], on: dt.date) -> Names:
    """A masked name only with consent and never for a child; else this year's pseudonym."""
    residents = tuple(residents)
    pseudo = pseudonyms(secret, residents, on.year)
    display = {r.resident_id: masked_name(r.name) if r.name_consent and not is_minor(r.birth_year, on)
               else pseudo[r.resident_id] for r in residents}
    return Names(display, pseudo)


def notice_code(secret: str, entry_id: str) -> str:
    """A code for one notice line, shown again only on the resident's own page: it links
    the line to nothing else (another entry of the same resident has an unrelated code)."""
    digest = hmac.new(secret.encode("utf-8"), b"kit-notice-v1\x00" + entry_id.encode("utf-8"), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    letters = []
    for _ in range(NOTICE_CODE_LENGTH):
        number, index = divmod(number, len(NOTICE_CODE_LETTERS))
        letters.append(NOTICE_CODE_LETTERS[index])
    return "".join(letters)
