"""Sub-district scale books for benchmarks (PRODUCT.md, "Scale").

`big_book` builds a realistic, deterministic Book: 20 communities of 4–8 grids,
the example's rules, bonuses, rewards, staff roles and settings (kit/example.py),
two years of entries, appeals on about 0.5 % of the entries and redemptions that
stay affordable. `write_workbook` writes it with the template's sheets, headers
and cell conventions, in openpyxl's write-only mode.

    python bench/generate.py OUT.xlsx [--residents N] [--entries N] [--redemptions N]

Speed: everything drawn per row is a bisect over precomputed cumulative weights
or an index into a short tuple; entries are staged as one sortable int each.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import gc
import math
import random
import sys
import time
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/generate.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from kit.example import (BONUSES, CATEGORY_WEIGHTS, COMPOUND, END, GIVEN, GRID_WEIGHTS, NOTES,
                         REWARDS, RULES, SETTINGS, STAFF, START, SURNAMES, appeals)
from kit.files import save_workbook
from kit.model import (Appeal, Book, Entry, Grid, Redemption, Resident, Reward, Settings,
                       Staff)
from kit.schema import SETTINGS as SETTING_ROWS
from kit.schema import SHEETS, Column, Kind
from kit.tables import column_letter
from kit.tokens import LENGTH as TOKEN_LENGTH
from kit.template import (FORMATS, GENERAL_NOTES, HEADER_FILL, HEADER_FONT, INSTRUCTIONS, _cell,
                          _cell_value)

SEED = 7
RESIDENTS = 100_000
ENTRIES = 1_000_000
REDEMPTIONS = 50_000
APPEAL_SHARE = 0.005
CARD_GRID = 5_000  # residents of the first grid at full size: the cards benchmark
AS_OF = END  # the natural as-of date of every generated book

COMMUNITIES = (
    "幸福里社区", "和平社区", "建设社区", "光明社区", "东风社区", "新华社区", "向阳社区",
    "团结社区", "胜利社区", "友谊社区", "长青社区", "春晖社区", "阳光社区", "锦绣社区",
    "丰收社区", "育才社区", "滨河社区", "安居社区", "民主社区", "红旗社区",
)
ORDINALS = "一二三四五六七八"
QUARTERS = ("东苑", "西苑", "南苑", "北苑", "老街", "新村", "花园", "河畔")
OLD_STREET = 3  # column of CATEGORY_WEIGHTS for old streets (rarely join 环境整治)

HOURS = (6, 7, 8, 9, 14, 15, 16, 19, 20, 20, 21, 21, 22, 23, 5)  # patrols, as in the example
HOUR_QUANTITIES = (Decimal(1), Decimal("1.5"), Decimal(2), Decimal(2), Decimal(3))
COUNT_QUANTITIES = (Decimal(1), Decimal(1), Decimal(1), Decimal(2))

REDEMPTION_START = 150  # days after START before anyone redeems
REDEMPTION_WINDOW = 182  # days; lots this young have never decayed
REDEMPTION_TRIES = 40  # residents asked per redemption before one overdraws anyway
STOCK_PER_SCALE = 150  # redemptions per multiple of the example's stock


@dataclass
class _World:
    grids: list[Grid]
    grid_community: list[int]
    grid_kind: list[int]  # column of CATEGORY_WEIGHTS
    grid_size: list[float]
    staff: list[Staff]
    recorders: list[tuple[str, ...]]  # per community
    first: list[dict[str, tuple[str, ...]]]  # per community: recorder → allowed reviewer1
    second: list[dict[tuple[str, str], tuple[str, ...]]]  # (recorder, reviewer1) → reviewer2


@dataclass
class _People:
    residents: list[Resident]
    ids: list[str]
    grid: list[int]  # grid index of each resident
    cum_weight: list[float]  # cumulative activity weight, for bisect


def big_book(residents: int = RESIDENTS, entries: int = ENTRIES, redemptions: int = REDEMPTIONS,
             seed: int = SEED) -> Book:
    """A deterministic sub-district book; validates without errors as of AS_OF."""
    enabled = gc.isenabled()
    gc.disable()  # millions of new objects, no cycles: collections would only cost time
    try:
        rng = random.Random(seed)
        world = _world(rng)
        people = _residents(rng, world, residents)
        entry_rows, entry_people = _entries(rng, world, people, entries)
        appeal_rows = appeals(rng, entry_rows, round(entries * APPEAL_SHARE))
        settings = dataclasses.replace(SETTINGS, site_name="示例街道社区积分",
                                       organization="示例街道综治中心",
                                       pseudonym_secret=f"{rng.getrandbits(128):032x}")
        rewards = _rewards(redemptions)
        redemption_rows = _redemptions(rng, world, people, entry_rows, entry_people, appeal_rows,
                                       rewards, redemptions, settings)
    finally:
        if enabled:
            gc.enable()
    return Book(
        settings=settings, grids=tuple(world.grids), staff=tuple(world.staff),
        residents=tuple(people.residents), rules=RULES, bonuses=BONUSES,
        entries=tuple(entry_rows), rewards=rewards, redemptions=tuple(redemption_rows),
        appeals=tuple(appeal_rows),
    )


def _name(rng: random.Random) -> str:
    surname = rng.choice(COMPOUND) if rng.random() < 0.03 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _world(rng: random.Random) -> _World:
    grids, grid_community, grid_kind, grid_size = [], [], [], []
    staff, recorders, first, second = [], [], [], []
    for c, community in enumerate(COMMUNITIES):
        count = rng.randint(4, 8)
        for g, quarter in enumerate(rng.sample(QUARTERS, count)):
            grids.append(Grid(len(grids) + 2, f"C{c + 1:02d}G{g + 1}",
                              f"第{ORDINALS[g]}网格（{quarter}）", community))
            grid_community.append(c)
            kind = OLD_STREET if quarter == "老街" else rng.choices(range(3), GRID_WEIGHTS[:3])[0]
            grid_kind.append(kind)
            grid_size.append(rng.uniform(0.6, 1.4))
        # the example's staff roles in every community: 3 recorders, 3 reviewers, 1 admin
        members = [Staff(len(staff) + 2 + i, f"S{c + 1:02d}{s.staff_id[1:]}",
                         s.name if c == 0 else _name(rng), s.role) for i, s in enumerate(STAFF)]
        staff.extend(members)
        can_record = tuple(s.staff_id for s in members if s.role in ("recorder", "admin"))
        can_review = tuple(s.staff_id for s in members if s.can_review)
        recorders.append(can_record)
        first.append({r: tuple(s for s in can_review if s != r) for r in can_record})
        second.append({(r, a): tuple(s for s in can_review if s not in (r, a))
                       for r in can_record for a in can_review if a != r})
    return _World(grids, grid_community, grid_kind, grid_size, staff, recorders, first, second)


def _residents(rng: random.Random, world: _World, count: int) -> _People:
    """Residents in grid order, each with a card; the first grid is a big one
    (CARD_GRID residents at full size) so that `kit cards --grid` prints 5,000 cards."""
    rand, randint = rng.random, rng.randint
    grid_of = sorted(rng.choices(range(len(world.grids)), weights=world.grid_size, k=count))
    big = min(CARD_GRID, count // 20)
    grid_of[:big] = [0] * big
    width = max(4, len(str(count)))
    residents, ids, weights = [], [], []
    for number, grid in enumerate(grid_of, start=1):
        rid = f"R{number:0{width}d}"
        birth = randint(1940, 2006)
        active = rand() > 0.15
        weight = rng.lognormvariate(0, 0.9) if active else 0.0
        token = base64.b32encode(rng.randbytes(17)).decode()[:TOKEN_LENGTH]
        residents.append(Resident(
            number + 1, rid, _name(rng), world.grids[grid].grid_id, birth,
            f"13{randint(0, 9)}{randint(0, 99999999):08d}", rand() < 0.4, token,
            "moved" if rand() < 0.03 else "active",
        ))
        ids.append(rid)
        weights.append(weight)
    return _People(residents, ids, grid_of, list(accumulate(weights)))


def _day_weights(days: int) -> list[float]:
    """Slowly growing participation (0.75 → 1.25), weekends a third busier."""
    weights = []
    for offset in range(days):
        ramp = 0.75 + 0.5 * offset / max(1, days - 1)
        weekend = 1.3 if (START + dt.timedelta(days=offset)).weekday() >= 5 else 1.0
        weights.append(ramp * weekend)
    return weights


def _entries(rng: random.Random, world: _World, people: _People,
             count: int) -> tuple[list[Entry], array]:
    """The entries in row order, and the resident index of each."""
    rand = rng.random
    days = (END - START).days + 1
    dates = [START + dt.timedelta(days=d) for d in range(days)]
    times = [None] + [dt.time(m // 60, m % 60) for m in range(1440)]  # index = minute + 1
    active_rules = [r for r in RULES if r.active]
    n_rules, n_people = len(active_rules), len(people.ids)
    rule_cum = [list(accumulate(CATEGORY_WEIGHTS[r.category][kind] for r in active_rules))
                for kind in range(4)]
    person_kind = [world.grid_kind[g] for g in people.grid]
    patrol = [r.code == "XL01" for r in active_rules]

    # Stage: one int per entry that sorts by (day, time, resident) like the example.
    day_of = rng.choices(range(days), cum_weights=list(accumulate(_day_weights(days))), k=count)
    total = people.cum_weight[-1] if people.cum_weight else 0.0
    if count and total <= 0:
        raise ValueError("no active residents to give entries to")
    person_cum = people.cum_weight
    staged = []
    for day in day_of:
        person = bisect_right(person_cum, rand() * total)
        cum = rule_cum[person_kind[person]]
        rule = bisect_right(cum, rand() * cum[-1])
        if patrol[rule]:
            minute = HOURS[int(rand() * 15)] * 60 + (30 if rand() < 1 / 3 else 0)
        elif rand() < 0.2:
            minute = -1  # staff often skip the time when it does not matter
        else:
            minute = int(rand() * 11 + 8) * 60 + int(rand() * 4) * 15
        staged.append(((day * 1441 + minute + 1) * n_people + person) * n_rules + rule)
    staged.sort()

    width = max(6, len(str(count)))
    entries = []
    entry_people = array("l")
    grid_community, recorders, first, second = (world.grid_community, world.recorders,
                                                world.first, world.second)
    for number, key in enumerate(staged, start=1):
        key, rule_index = divmod(key, n_rules)
        key, person = divmod(key, n_people)
        day, minute = divmod(key, 1441)
        rule = active_rules[rule_index]
        community = grid_community[people.grid[person]]
        roll = rand()
        if (days - 1 - day < 14 and roll < 0.35) or roll < 0.02:
            status = "pending"
        else:
            status = "rejected" if roll > 0.95 else "approved"
        staff = recorders[community]
        recorder = staff[int(rand() * len(staff))]
        reviewer1 = reviewer2 = None
        if status != "pending":
            staff = first[community][recorder]
            reviewer1 = staff[int(rand() * len(staff))]
            if rule.double_review:
                staff = second[community][(recorder, reviewer1)]
                reviewer2 = staff[int(rand() * len(staff))]
        quantities = HOUR_QUANTITIES if rule.unit == "小时" else COUNT_QUANTITIES
        entries.append(Entry(
            number + 1, f"E{number:0{width}d}", dates[day], times[minute],
            people.ids[person], rule.code, quantities[int(rand() * len(quantities))],
            NOTES[int(rand() * len(NOTES))], recorder, reviewer1, reviewer2, status,
        ))
        entry_people.append(person)
    return entries, entry_people



def _rewards(redemptions: int) -> tuple[Reward, ...]:
    """The example's rewards with stock for a sub-district's redemption volume."""
    scale = max(1, math.ceil(redemptions / STOCK_PER_SCALE))
    return tuple(r if r.stock is None else dataclasses.replace(r, stock=r.stock * scale)
                 for r in REWARDS)


def _redemptions(rng: random.Random, world: _World, people: _People, entries: list[Entry],
                 entry_people: array, appeals: list[Appeal], rewards: tuple[Reward, ...], count: int,
                 settings: Settings) -> list[Redemption]:
    """Exactly count redemptions in date order, each by a resident who can afford it.

    Affordable means: the cost fits in a lower bound of what the resident earned in
    the REDEMPTION_WINDOW days before, minus what they redeemed in that window. Lots
    that young have never decayed, and older redemptions cannot have used them, so
    the ledger applies every such redemption. When REDEMPTION_TRIES residents in a
    row cannot afford anything, the last one redeems the cheapest reward anyway and
    the ledger reports an overdraft (rare at the default sizes).
    """
    days = (END - START).days + 1
    earned_days, earned_sums = _lower_bounds(entries, entry_people, appeals, len(people.ids),
                                             settings)
    stock = {r.code: r.stock for r in rewards}
    cheapest = min((r for r in rewards if r.stock is None), key=lambda r: r.cost, default=None)
    spent: dict[int, list[tuple[int, int]]] = {}
    rand = rng.random
    total = people.cum_weight[-1] if people.cum_weight else 0.0
    first_day = min(REDEMPTION_START, days - 1)
    slots = sorted(rng.randrange(first_day, days) for _ in range(count))
    width = max(5, len(str(count)))
    redemptions = []
    for day in slots:
        since = day - REDEMPTION_WINDOW
        reward = quantity = None
        for _ in range(REDEMPTION_TRIES):
            person = bisect_right(people.cum_weight, rand() * total)
            marks = earned_days[person]
            if not marks:
                continue
            sums = earned_sums[person]
            room = sums[bisect_left(marks, day)] - sums[bisect_right(marks, since)]
            room -= sum(c for d, c in spent.get(person, ()) if since < d <= day)
            choices = [r for r in rewards if r.cost <= room and (stock[r.code] is None or stock[r.code] > 0)]
            if choices:
                reward = choices[int(rand() * len(choices))]
                quantity = 2 if reward.cost * 2 <= room and rand() < 0.15 else 1
                if stock[reward.code] is not None:
                    quantity = min(quantity, stock[reward.code])
                    stock[reward.code] -= quantity
                spent.setdefault(person, []).append((day, reward.cost * quantity))
                break
        if reward is None:  # nobody asked could afford anything: an overdraft
            reward = cheapest or min(rewards, key=lambda r: r.cost)
            quantity = 1
        staff = world.recorders[world.grid_community[people.grid[person]]]
        number = len(redemptions) + 1
        redemptions.append(Redemption(number + 1, f"D{number:0{width}d}",
                                      START + dt.timedelta(days=day), people.ids[person],
                                      reward.code, quantity, staff[int(rand() * len(staff))]))
    return redemptions


def _lower_bounds(entries: list[Entry], entry_people: array, appeals: list[Appeal],
                  n_people: int, settings: Settings) -> tuple[list[list[int]], list[list[int]]]:
    """Per resident: the days of their counted entries and prefix sums of a lower
    bound of the points each will be worth (no bonus, within daily caps as the
    ledger applies them, nothing for corrected entries, nothing in a year where
    the annual cap could cut)."""
    rules = {r.code: r for r in RULES}
    top = max([Decimal(1)] + [b.multiplier for b in BONUSES])
    low = min([Decimal(1)] + [b.multiplier for b in BONUSES])
    corrected = {a.entry_id for a in appeals if a.status == "corrected"}
    first_year = START.year
    years = END.year - first_year + 1
    worth: dict[tuple[str, Decimal], tuple[int, int]] = {}
    day_total: dict[tuple[int, str], int] = {}  # upper bound of the day's awards so far
    year_total = [0] * (n_people * years)  # upper bound of each resident-year's awards
    staged: list[list[tuple[int, int, int]]] = [[] for _ in range(n_people)]
    current = day = year = None
    for entry, person in zip(entries, entry_people):
        if entry.status != "approved":
            continue
        if entry.date != current:
            current, day, year = entry.date, (entry.date - START).days, entry.date.year - first_year
            day_total.clear()
        rule = rules[entry.rule_code]
        pair = worth.get((entry.rule_code, entry.quantity))
        if pair is None:
            pair = worth[(entry.rule_code, entry.quantity)] = (
                math.floor(rule.points * entry.quantity * low),
                math.floor(rule.points * entry.quantity * top))
        lo, hi = pair
        if rule.daily_cap > 0:
            key = (person, entry.rule_code)
            before = day_total.get(key, 0)
            room = rule.daily_cap - before
            if hi > room:
                hi = max(0, room)
                lo = min(lo, hi)
            day_total[key] = before + hi
        slot = person * years + year
        year_total[slot] += hi
        if entry.entry_id not in corrected:
            staged[person].append((day, lo, slot))
    cap = settings.annual_cap
    days_of, sums_of = [], []
    for marks in staged:
        if cap > 0:
            marks = [m for m in marks if year_total[m[2]] <= cap]
        days_of.append([d for d, _, _ in marks])
        sums_of.append([0, *accumulate(p for _, p, _ in marks)])
    return days_of, sums_of


# --- writing -------------------------------------------------------------------


def write_workbook(book: Book, path: Path) -> None:
    """The book as an xlsx in the template's layout (sheets, headers, cell values),
    written in openpyxl's write-only mode: no dropdowns, inline strings."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(INSTRUCTIONS)
    ws.column_dimensions["D"].width = 70
    ws.append(["社区积分总账 使用说明"])
    for note in GENERAL_NOTES:
        ws.append([None, None, None, note])
    for sheet in SHEETS:
        ws = wb.create_sheet(sheet.zh)
        ws.freeze_panes = "A2"
        columns = list(sheet.columns)
        widths = [c.width for c in columns] + ([60] if sheet.key == "settings" else [])
        for index, width in enumerate(widths):
            ws.column_dimensions[column_letter(index)].width = width
        titles = [c.zh for c in columns] + (["说明"] if sheet.key == "settings" else [])
        ws.append([_header_cell(ws, title) for title in titles])
        if sheet.key == "settings":
            for setting in SETTING_ROWS:
                ws.append([setting.zh, _cell_value(getattr(book.settings, setting.key)), setting.help])
            continue
        converters = [_converter(ws, col) for col in columns]
        keys = [col.key for col in columns]
        append = ws.append
        for record in getattr(book, sheet.key):
            append([convert(getattr(record, key)) for convert, key in zip(converters, keys)])
    save_workbook(wb, Path(path))


def _header_cell(ws, title: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=title)
    cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    return cell


def _identity(value: object) -> object:
    return value


def _converter(ws, col: Column):
    """kit.template._cell for one column, specialised so a million rows stay fast."""
    if col.kind is Kind.TIME:
        cells: dict[dt.time, WriteOnlyCell] = {}

        def time_cell(value):
            # one styled cell per distinct time ("hh:mm" like the template); openpyxl
            # writes each yielded cell before the next, so reusing them is safe.
            if value is None:
                return None
            cell = cells.get(value)
            if cell is None:
                cell = cells[value] = WriteOnlyCell(ws, value=value)
                cell.number_format = FORMATS[Kind.TIME]
            return cell

        return time_cell
    if col.kind in (Kind.BOOL, Kind.CHOICE, Kind.DECIMAL):
        return lambda value: _cell(col, value)
    return _identity  # text, ids, ints, years, phones, dates ("yyyy-mm-dd" by default)


# --- command line --------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a sub-district scale workbook.")
    parser.add_argument("out", type=Path, help="the xlsx file to write")
    parser.add_argument("--residents", type=int, default=RESIDENTS)
    parser.add_argument("--entries", type=int, default=ENTRIES)
    parser.add_argument("--redemptions", type=int, default=REDEMPTIONS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    book = big_book(args.residents, args.entries, args.redemptions, args.seed)
    generated = time.perf_counter()
    write_workbook(book, args.out)
    written = time.perf_counter()
    size = args.out.stat().st_size
    print(f"book        {len(book.residents):,} residents, {len(book.grids)} grids, "
          f"{len(book.entries):,} entries, {len(book.redemptions):,} redemptions, "
          f"{len(book.appeals):,} appeals (as of {AS_OF})")
    print(f"generation  {generated - started:8.1f} s")
    print(f"writing     {written - generated:8.1f} s")
    print(f"file        {size / 1e6:8.1f} MB  {args.out}")


if __name__ == "__main__":
    main()
