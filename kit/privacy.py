"""Privacy, applied here and only here: display names, pseudonyms, small-cell suppression.

A resident appears on the public site as a masked name (张*三) only with their
consent, otherwise as a pseudonym keyed by the workbook's secret, so nobody
without the secret can tell who is behind it, yet it stays the same in every
build and is printed on the resident's own card.
"""

from __future__ import annotations

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
SUPPRESSED = None  # a suppressed aggregate


def masked_name(name: str) -> str:
    """张三丰 → 张*丰, 李四 → 李*, 欧阳振华 → 欧阳*华, 欧阳华 → 欧阳*."""
    name = "".join(name.split())  # rosters pad two-character names: 李　四
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), name[:1])
    given = name[len(surname):]
    return surname + "*" + (given[-1] if len(given) > 1 else "")


def _candidate(secret: str, resident_id: str, attempt: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{resident_id}\x00{attempt}".encode("utf-8"),
                      hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    word = PSEUDONYM_WORDS[number % len(PSEUDONYM_WORDS)]
    return f"{word}{number // len(PSEUDONYM_WORDS) % 10000:04d}"


def pseudonyms(secret: str, residents: Iterable[Resident]) -> dict[str, str]:
    """resident_id → pseudonym, unique; on a clash the later row takes its next candidate,
    so adding residents at the bottom never changes anyone else's pseudonym."""
    taken: set[str] = set()
    found: dict[str, str] = {}
    for resident in sorted(residents, key=lambda r: r.row):
        attempt = 0
        while (name := _candidate(secret, resident.resident_id, attempt)) in taken:
            attempt += 1
        taken.add(name)
        found[resident.resident_id] = name
    return found


@dataclass(frozen=True)
class Names:
    """How each resident is shown in public."""

    display: Mapping[str, str]  # resident_id → masked name or pseudonym
    pseudonym: Mapping[str, str]  # resident_id → pseudonym (also printed on the card)


def public_names(secret: str, residents: Iterable[Resident]) -> Names:
    residents = tuple(residents)
    pseudo = pseudonyms(secret, residents)
    display = {r.resident_id: masked_name(r.name) if r.name_consent else pseudo[r.resident_id]
               for r in residents}
    return Names(display, pseudo)


def suppress(counts: Mapping[str, int], people: Mapping[str, int], minimum: int,
             complement: bool = True) -> dict[str, int | None]:
    """Hide cells over fewer than `minimum` distinct residents (a cell over nobody is
    no one's data), and when exactly one cell is hidden hide the next smallest too,
    so a published total cannot reveal it (complement=False where no total is published)."""
    hidden = {key for key, n in people.items() if 0 < n < minimum}
    if complement and len(hidden) == 1 and len(people) > 1:
        rest = sorted((n == 0, n, key) for key, n in people.items() if key not in hidden)
        hidden.add(rest[0][2])  # the smallest cell that has people, if any
    return {key: (SUPPRESSED if key in hidden else value) for key, value in counts.items()}
