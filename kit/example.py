"""Realistic, deterministic example data for `kit init --example` and the demo site.

A community of four grids with the rules of the seed article (patrol 10/hour,
hazard report +20, mediation 20, night double points, a Spring Festival theme),
two years of entries, rewards of all three kinds, redemptions and appeals. The
same seed always gives the same book, and the book validates without errors.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from kit.keys import DEMO_SECRET
from kit.model import (Appeal, Bonus, Book, Entry, Grid, Redemption, Resident, Reward, Rule,
                       Settings, Staff)
from kit.tokens import ALPHABET, LENGTH

SEED = 20261127
START = dt.date(2024, 11, 16)
END = dt.date(2026, 11, 15)  # the example's natural as-of date
RESIDENTS = 320
ENTRIES_PER_DAY = 9.5
REDEMPTION_WINDOW = 182  # days; lots this young have never decayed

SETTINGS = Settings(
    site_name="幸福里社区积分", organization="示例街道幸福里社区综治中心",
    site_url="https://jf.example.cn/", decay_after_months=12, decay_factor=Decimal("0.5"),
    annual_cap=3000, min_group_size=5, notice_days=7, ranking_size=20,
    pseudonym_secret=DEMO_SECRET,  # public; kit init --example writes a fresh one
)

GRIDS = (
    Grid(2, "G1", "第一网格（东苑）", "幸福里社区"),
    Grid(3, "G2", "第二网格（西苑）", "幸福里社区"),
    Grid(4, "G3", "第三网格（南苑）", "幸福里社区"),
    Grid(5, "G4", "第四网格（老街）", "幸福里社区"),
)
GRID_WEIGHTS = (0.32, 0.28, 0.22, 0.18)

STAFF = (
    Staff(2, "S01", "刘晓燕", "recorder"),
    Staff(3, "S02", "陈志刚", "recorder"),
    Staff(4, "S03", "周丽", "recorder"),
    Staff(5, "S04", "吴建国", "reviewer"),
    Staff(6, "S05", "郑海燕", "reviewer"),
    Staff(7, "S06", "孙磊", "reviewer"),
    Staff(8, "S07", "马主任", "admin"),
)
RECORDERS = ("S01", "S02", "S03", "S07")
REVIEWERS = ("S04", "S05", "S06", "S07")


def _rule(row, code, name, category, points, unit, cap, double, audience, description, active=True):
    return Rule(row, code, name, category, points, unit, cap, double, audience, description, active)


RULES = (
    _rule(2, "XL01", "治安巡逻", "平安巡防", 10, "小时", 40, False, "所有居民",
          "参加网格巡逻队，按实际巡逻小时计分。"),
    _rule(3, "YH01", "发现并上报安全隐患", "平安巡防", 20, "次", 60, True, "所有居民",
          "发现消防通道堵塞、电线老化等隐患并上报，经核实后计分。"),
    _rule(4, "GK01", "劝阻高空抛物", "平安巡防", 10, "次", 20, False, "所有居民",
          "劝阻高空抛物并做好记录。"),
    _rule(5, "TJ01", "矛盾纠纷调解", "矛盾调解", 20, "次", 40, True, "中老年居民",
          "参与调解邻里纠纷，调解成功后计分。"),
    _rule(6, "ZY01", "志愿服务", "志愿服务", 5, "小时", 20, False, "所有居民",
          "参加社区组织的志愿服务活动。"),
    _rule(7, "FZ01", "反诈骗宣传", "反诈宣传", 8, "次", 16, False, "青年",
          "上门或在小区内开展反诈骗宣传。"),
    _rule(8, "XC01", "线上宣传转发", "反诈宣传", 3, "次", 9, False, "青年",
          "在社区群转发官方反诈、安全宣传。"),
    _rule(9, "HZ01", "邻里互助", "邻里互助", 5, "次", 15, False, "老年居民",
          "照看独居老人、帮邻居代买药品等。"),
    _rule(10, "HJ01", "环境整治", "环境整治", 5, "次", 10, False, "所有居民",
          "参加楼道清理、垃圾分类督导等环境整治。"),
    _rule(11, "YQ01", "防疫值守", "志愿服务", 10, "小时", 30, False, "所有居民",
          "疫情防控值守（已停用）。", active=False),
)

BONUSES = (
    Bonus(2, "夜间巡逻双倍", None, "XL01", None, None, dt.time(20, 0), dt.time(6, 0), Decimal(2)),
    Bonus(3, "春节平安积分（2025）", "平安巡防", None, dt.date(2025, 1, 25), dt.date(2025, 2, 12),
          None, None, Decimal("1.5")),
    Bonus(4, "春节平安积分（2026）", "平安巡防", None, dt.date(2026, 2, 13), dt.date(2026, 3, 3),
          None, None, Decimal("1.5")),
    Bonus(5, "全民反诈宣传月", None, "FZ01", dt.date(2026, 4, 1), dt.date(2026, 4, 30),
          None, None, Decimal(2)),
)

REWARDS = (
    Reward(2, "JP01", "东北大米 5 公斤", "goods", 200, 60, "到社区服务站领取。", Decimal(35)),
    Reward(3, "JP02", "食用油 5 升", "goods", 150, 80, None, Decimal(45)),
    Reward(4, "JP03", "洗衣液", "goods", 80, 120, None, Decimal(20)),
    Reward(5, "JP04", "超市购物券 50 元", "goods", 300, 40, "合作超市通用。", Decimal(50)),
    Reward(6, "RY01", "“平安守护之星”荣誉证书", "honour", 100, None, "在社区表彰会上颁发。", Decimal(5)),
    Reward(7, "RY02", "年度积分达人表彰", "honour", 500, 10, "每年评选一次。", Decimal(30)),
    Reward(8, "FW01", "免费健康体检", "service", 400, 25, "社区卫生服务中心提供。", Decimal(80)),
    Reward(9, "FW02", "社区食堂优先就餐", "service", 120, None, None),
    Reward(10, "FW03", "便民服务优先预约", "service", 60, None, "理发、家电维修等优先预约。"),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
COMPOUND = ("欧阳", "司马", "诸葛", "上官")
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰建国志红梅文海燕德福春兰国庆淑珍"
REASONS = ("巡逻时长登记少了", "记录的日期不对", "不是本人参加的活动", "数量登记错误")
NOTES = ("东门一带", "配合物业", "夜间值守", "居民反映", "楼栋长推荐", None, None, None)

# category → propensity per grid (G4, the old street, rarely joins 环境整治)
CATEGORY_WEIGHTS = {
    "平安巡防": (5, 5, 4, 5),
    "矛盾调解": (1, 1, 1, 2),
    "志愿服务": (3, 3, 3, 2),
    "反诈宣传": (2, 3, 2, 1),
    "邻里互助": (2, 2, 2, 3),
    "环境整治": (3, 3, 3, 0.2),
}


@dataclass
class _Person:
    resident: Resident
    weight: float
    grid_index: int


def example_book(seed: int = SEED) -> Book:
    rng = random.Random(seed)
    people = _residents(rng, seed)
    entries = _entries(rng, people)
    appeal_rows = appeals(rng, entries)
    redemptions = _redemptions(rng, people, entries, appeal_rows)
    return Book(
        settings=SETTINGS, grids=GRIDS, staff=STAFF,
        residents=tuple(p.resident for p in people), rules=RULES, bonuses=BONUSES,
        entries=tuple(entries), rewards=REWARDS, redemptions=tuple(redemptions),
        appeals=tuple(appeal_rows),
    )


def _name(rng: random.Random) -> str:
    surname = rng.choice(COMPOUND) if rng.random() < 0.03 else rng.choice(SURNAMES)
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return surname + given


def _residents(rng: random.Random, seed: int) -> list[_Person]:
    cards = random.Random(f"cards-{seed}")  # its own stream: tokens do not shift the other data
    people = []
    for number in range(1, RESIDENTS + 1):
        grid_index = rng.choices(range(4), GRID_WEIGHTS)[0]
        birth = rng.randint(1940, 2006)
        active = rng.random() > 0.15
        weight = rng.lognormvariate(0, 0.9) if active else 0.0
        resident = Resident(
            row=number + 1, resident_id=f"R{number:04d}", name=_name(rng),
            grid_id=GRIDS[grid_index].grid_id, birth_year=birth,
            phone=f"13{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}",
            name_consent=rng.random() < 0.4,
            card_token="".join(cards.choice(ALPHABET) for _ in range(LENGTH)) if number % 10 else None,
            status="moved" if rng.random() < 0.03 else "active",
        )
        people.append(_Person(resident, weight, grid_index))
    return people


def _entries(rng: random.Random, people: list[_Person]) -> list[Entry]:
    active_rules = [r for r in RULES if r.active]
    staged = []
    days = (END - START).days + 1
    for offset in range(days):
        day = START + dt.timedelta(days=offset)
        count = max(0, round(rng.gauss(ENTRIES_PER_DAY, 3)))
        for _ in range(count):
            person = rng.choices(people, [p.weight for p in people])[0]
            category_weights = [CATEGORY_WEIGHTS[r.category][person.grid_index] for r in active_rules]
            rule = rng.choices(active_rules, category_weights)[0]
            staged.append((day, _time(rng, rule), person, rule))
    staged.sort(key=lambda s: (s[0], s[1] or dt.time(0), s[2].resident.resident_id))
    entries = []
    for number, (day, time, person, rule) in enumerate(staged, start=1):
        age = (END - day).days
        roll = rng.random()
        status = "pending" if (age < 14 and roll < 0.35) or roll < 0.02 else (
            "rejected" if roll > 0.95 else "approved")
        recorder = rng.choice(RECORDERS)
        reviewer1 = reviewer2 = None
        if status != "pending":
            reviewer1 = rng.choice([s for s in REVIEWERS if s != recorder])
            if rule.double_review:
                reviewer2 = rng.choice([s for s in REVIEWERS if s not in (recorder, reviewer1)])
        entries.append(Entry(
            row=number + 1, entry_id=f"E{number:06d}", date=day, time=time,
            resident_id=person.resident.resident_id, rule_code=rule.code,
            quantity=_quantity(rng, rule), note=rng.choice(NOTES),
            recorder=recorder, reviewer1=reviewer1, reviewer2=reviewer2, status=status,
        ))
    return entries


def _time(rng: random.Random, rule: Rule) -> dt.time | None:
    if rule.code == "XL01":
        hour = rng.choice((6, 7, 8, 9, 14, 15, 16, 19, 20, 20, 21, 21, 22, 23, 5))
        return dt.time(hour, rng.choice((0, 0, 30)))
    if rng.random() < 0.2:
        return None  # staff often skip the time when it does not matter
    return dt.time(rng.randint(8, 18), rng.choice((0, 15, 30, 45)))


def _quantity(rng: random.Random, rule: Rule) -> Decimal:
    if rule.unit == "小时":
        return rng.choice((Decimal(1), Decimal("1.5"), Decimal(2), Decimal(2), Decimal(3)))
    return Decimal(rng.choice((1, 1, 1, 2)))


def appeals(rng: random.Random, entries: list[Entry], count: int = 45) -> list[Appeal]:
    """count appeals on approved entries; a few recent ones are still open."""
    """As in the example: mostly on older entries and decided, a few recent and open."""
    rules = {r.code: r for r in RULES}
    approved = [e for e in entries if e.status == "approved"]
    recent = [e for e in approved if (END - e.date).days < 6]
    older = [e for e in approved if (END - e.date).days >= 30]
    n_recent = min(len(recent), round(count * 3 / 45))
    n_older = min(len(older), count - n_recent)
    picked = sorted(rng.sample(older, n_older) + rng.sample(recent, n_recent), key=lambda e: e.row)
    width = max(4, len(str(len(picked))))
    found = []
    for number, entry in enumerate(picked, start=1):
        filed = min(entry.date + dt.timedelta(days=rng.randint(1, 6)), END)
        status = "open" if (END - filed).days < 10 else rng.choice(("upheld", "upheld", "corrected"))
        corrected = resolved = None
        if status == "corrected":
            points = rules[entry.rule_code].points
            full = int(points * entry.quantity)
            corrected = rng.choice((0, full // 2, full + points))
        if status != "open":
            resolved = min(filed + dt.timedelta(days=rng.randint(1, 12)), END)
        found.append(Appeal(number + 1, f"A{number:0{width}d}", filed, entry.resident_id,
                              entry.entry_id, rng.choice(REASONS), status, corrected, resolved))
    return found


def _redemptions(rng, people, entries, appeals) -> list[Redemption]:
    """Redemptions that never overdraw: each costs at most what the resident earned
    (base points within daily caps, no bonus) in the last six months, minus what
    they redeemed in that time. Lots that young have not decayed."""
    base = _lower_bound_points(entries, appeals)
    stock = {r.code: r.stock for r in REWARDS}
    spent: dict[str, list[tuple[dt.date, int]]] = {}
    redemptions = []
    candidates = sorted(
        (START + dt.timedelta(days=rng.randint(150, (END - START).days)),
         rng.choice([p for p in people if p.weight > 0.8]).resident.resident_id)
        for _ in range(420)
    )
    for day, resident_id in candidates:
        since = day - dt.timedelta(days=REDEMPTION_WINDOW)
        earned = sum(p for d, p in base.get(resident_id, ()) if since < d < day)
        used = sum(c for d, c in spent.get(resident_id, ()) if since < d <= day)
        room = earned - used
        choices = [r for r in REWARDS if r.cost <= room and (stock[r.code] is None or stock[r.code] > 0)]
        if not choices:
            continue
        reward = rng.choice(choices)
        quantity = 2 if reward.cost * 2 <= room and rng.random() < 0.15 else 1
        if stock[reward.code] is not None:
            quantity = min(quantity, stock[reward.code])
            stock[reward.code] -= quantity
        spent.setdefault(resident_id, []).append((day, reward.cost * quantity))
        number = len(redemptions) + 1
        redemptions.append(Redemption(number + 1, f"D{number:05d}", day, resident_id,
                                      reward.code, quantity, rng.choice(RECORDERS)))
    return redemptions


def _lower_bound_points(entries: list[Entry], appeals: list[Appeal]) -> dict[str, list]:
    """Per resident, (date, points) no larger than what the ledger will award."""
    rules = {r.code: r for r in RULES}
    corrected = {a.entry_id for a in appeals if a.status == "corrected"}
    day_total: dict[tuple, int] = {}
    out: dict[str, list] = {}
    for entry in entries:
        rule = rules[entry.rule_code]
        if entry.status != "approved" or entry.entry_id in corrected:
            continue
        points = int(rule.points * entry.quantity)
        key = (entry.resident_id, entry.rule_code, entry.date)
        if rule.daily_cap:
            points = min(points, rule.daily_cap - day_total.get(key, 0))
        day_total[key] = day_total.get(key, 0) + points
        out.setdefault(entry.resident_id, []).append((entry.date, points))
    return out


if __name__ == "__main__":  # python -m kit.example sheets/example.xlsx
    import sys

    from kit.template import write_book

    write_book(sys.argv[1], example_book())
