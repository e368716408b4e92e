"""账本指纹: an append-only Merkle tree over what the site has published.

Leaves are the counted entries, applied redemptions and decided appeals. Each
leaf hashes a per-resident salt (from the workbook's secret, never published)
with the record's fields, so published leaves reveal nothing, while the resident
receives their salt and proofs inside their sealed personal file.

Each build extends the tree of the last published checkpoint. If a published
record changed or vanished, the build stops and names its row; corrections go
through the 申诉 sheet, which only appends. A declared rewrite is possible for a
real emergency and is itself published.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kit import merkle
from kit.errors import KitError
from kit.keys import current_salt, earlier_salts, split_keys
from kit.calendar import add_months
from kit.ledger import Ledger, appeal_decided
from kit.model import Book
from kit.versions import Versions
from kit.wording import plain_number

PUBLISHED_DIR = "ledger"  # site/ledger/checkpoints.json and leaves.txt
FORMAT = "kit-ledger-v3"  # v3 leaves carry points; v2 leaves did not; v1 wrote hashes in plain hex
LEGACY_FORMATS = ("kit-ledger-v1", "kit-ledger-v2")  # leaves without points
# Published hashes are base16 written with the letters a–p for 0–f (as Chrome writes
# extension ids): no digits, so no stretch of a hash can look like a phone or id number.
_TO_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
_FROM_LETTERS = str.maketrans("abcdefghijklmnop", "0123456789abcdef")
_LETTERS = re.compile("[a-p]*")
PRIVATE_MAP = "ledger-rows.json"  # private/: which row made which leaf, to name changed rows
SHEET_NAMES = {"entries": "积分记录", "redemptions": "兑换记录", "appeals": "申诉"}
UPGRADE_NOTE = ("账本指纹升级：从这个账本指纹起，每条记录连同它得到的积分（兑换连同花掉的积分）一起记入，"
                "改动已公示的分值也能被发现；此前公示的 {size} 个叶子一个未改，其中的记录各补记了一个带积分的新叶子。")
TERMS_NOTE = "积分衰减设置改为：{terms}；这次改动不影响任何已经公示的积分。"
VERSION_HOW = ("要调整分值、每日上限或所需积分，不要改原来的行：在原来那一行填上“停用日期”（改动前一天），"
               "再新加一行同样的编码，填新的值和“生效日期”，已经公示的记录就保持原来的积分。")
ROTATION_NOTE = ("化名密钥已更换（第 {generation} 次）：从这个账本指纹起，排行榜化名、公示编码和新记录的加盐值都已换新；"
                 "已经公示的记录一条未改，仍可核对。")


class HistoryRewritten(KitError):
    code = "history-rewritten"
    exit_status = 1  # like any workbook error: fix the rows, the old site stays


class AsOfBeforePublished(KitError):
    """The as-of date moved back behind the published history: nothing changed, nothing is built."""

    code = "as-of-before-published"


@dataclass(frozen=True, slots=True)
class Leaf:
    hash: bytes
    resident_id: str
    sheet: str  # sheet key
    row: int
    ident: str  # entry, redemption or appeal id
    text: str  # the fields hashed, given only to the resident (inside their sealed file)
    salt: bytes = b""  # the resident's salt when the leaf was first published (kit/keys.py)
    legacy_text: str = ""  # the same record as a v1/v2 leaf hashed it (without points)
    legacy: bool = False  # this leaf is the v1/v2 form, kept from a site published before v3
    detail: str = ""  # how the points came about, for the private row map (never published)
    date: dt.date | None = None  # the record's date

@dataclass(frozen=True)
class Checkpoint:
    number: int
    date: str
    size: int
    root: str  # hash_text
    previous: dict | None  # {"size", "root"} of the checkpoint before
    consistency: tuple[str, ...]  # RFC 9162 proof from the previous checkpoint
    rewrite: dict | None  # {"reason", "replaced": {"size", "root"}} for a declared rewrite
    key_generation: int = 0  # how many times the secret had been replaced (kit rotate-secret)
    note: str | None = None  # a declared change that keeps every published record, e.g. a new secret
    terms: dict | None = None  # the decay settings balances were published under (None: before v3)


@dataclass(frozen=True)
class Published:
    checkpoints: tuple[Checkpoint, ...]
    leaves: tuple[bytes, ...]
    legacy: int = 0  # leaves[:legacy] are in the v1/v2 form (no points)


@dataclass(frozen=True)
class History:
    """What this build publishes: the leaves in tree order and every checkpoint."""

    leaves: tuple[Leaf, ...]
    tree: merkle.Tree
    checkpoints: tuple[Checkpoint, ...]
    legacy: int = 0  # leaves[:legacy] are in the v1/v2 form

    @property
    def latest(self) -> Checkpoint:
        return self.checkpoints[-1]


def current_leaves(book: Book, ledger: Ledger) -> list[Leaf]:
    """Leaves of everything published as of the ledger's date, in canonical order, each
    salted with its resident's current salt. Each leaf holds the points the record was
    worth, so re-pricing a published record by any route changes its hash."""
    residents = {r.resident_id: r for r in book.residents}
    salts: dict[str, bytes] = {}

    def leaf(resident_id: str, sheet: str, row: int, ident: str, record: str, points: str, detail: str,
             day: dt.date) -> Leaf:
        salt = salts.get(resident_id)
        if salt is None:
            salt = salts[resident_id] = current_salt(book.settings, residents[resident_id])
        text = f"{record}|{points}" if points else record
        if detail:  # the record's own checksum first: only an unchanged record can have been re-priced
            detail = f"{zlib.crc32(record.encode('utf-8')):08x}|{detail}"
        return Leaf(merkle.leaf_hash(salt + text.encode("utf-8")), resident_id, sheet, row, ident, text, salt,
                    record, False, detail, day)

    found = []
    for award in sorted(ledger.awards.values(), key=lambda a: (a.entry.date, a.entry.entry_id)):
        e, rule = award.entry, award.rule
        record = "|".join(("E", e.entry_id, e.date.isoformat(), e.time.isoformat() if e.time else "",
                           e.rule_code, plain_number(e.quantity)))
        detail = "|".join(map(str, (rule.row, rule.points, rule.daily_cap, plain_number(award.multiplier),
                                    award.base, award.awarded, award.cap or "")))
        found.append(leaf(e.resident_id, "entries", e.row, e.entry_id, record, str(award.awarded), detail, e.date))
    rewards = Versions(book.rewards)
    for r in sorted(ledger.redemptions, key=lambda r: (r.date, r.redemption_id)):
        reward = rewards.at(r.reward_code, r.date)
        record = "|".join(("D", r.redemption_id, r.date.isoformat(), r.reward_code, str(r.quantity)))
        cost = reward.cost * r.quantity
        found.append(leaf(r.resident_id, "redemptions", r.row, r.redemption_id, record, str(cost),
                          f"{reward.row}|{reward.cost}|{cost}", r.date))
    decided = [a for a in book.appeals if appeal_decided(a, ledger.as_of)]
    for a in sorted(decided, key=lambda a: (a.resolved_date, a.appeal_id)):
        record = "|".join(("A", a.appeal_id, a.entry_id, a.status,
                           "" if a.corrected_points is None else str(a.corrected_points), a.resolved_date.isoformat()))
        found.append(leaf(a.resident_id, "appeals", a.row, a.appeal_id, record, "", "", a.resolved_date))
    return found


def decay_terms(settings) -> dict:
    """The settings that change published balances without changing any record's points."""
    return {"decay_after_months": settings.decay_after_months, "decay_factor": plain_number(settings.decay_factor)}


def extend(previous: Published | None, leaves: list[Leaf], as_of: dt.date, known_rows: Mapping[str, dict],
           rewrite_reason: str | None = None, book: Book | None = None) -> History:
    """The new history: the published leaves first, unchanged, then the new ones.

    A published leaf salted before a card was reissued or the secret replaced is found
    again under its earlier salt (book gives them), and keeps its place and hash. Leaves
    of a site published before v3 are found again in their form without points; each of
    their records then gets its v3 leaf once, appended (the upgrade)."""
    generation = len(split_keys(book.settings.retired_secrets)) if book else 0
    terms = decay_terms(book.settings) if book else None
    if previous is None or not previous.checkpoints:
        return _history(leaves, (), as_of, None, generation, terms)
    last = previous.checkpoints[-1]
    refuse_earlier_as_of(as_of, last.date, last.number)
    if rewrite_reason:
        return _history(leaves, previous.checkpoints, as_of,
                        {"reason": rewrite_reason, "replaced": {"size": last.size, "root": last.root}}, generation,
                        terms)
    by_hash = {leaf.hash: leaf for leaf in leaves}
    legacy_wanted = {h for h in previous.leaves[:previous.legacy] if h not in by_hash}
    if legacy_wanted:
        for leaf in leaves:
            salt = leaf.salt
            digest = merkle.leaf_hash(salt + leaf.legacy_text.encode("utf-8"))
            if digest in legacy_wanted:
                by_hash[digest] = dataclasses.replace(leaf, hash=digest, text=leaf.legacy_text, legacy=True)
    missing = [h for h in previous.leaves if h not in by_hash]
    earlier: dict[bytes, Leaf] = {}
    if missing and book is not None:
        earlier = _earlier(leaves, set(missing), book, legacy=previous.legacy > 0)
        by_hash |= earlier
        missing = [h for h in previous.leaves if h not in by_hash]
    if missing:
        raise HistoryRewritten(_missing_message(missing, known_rows, leaves))
    _check_terms(last, terms, leaves)
    old = set(previous.leaves)
    # records published under an earlier salt: not again under the new one (the v3 form of a
    # record found only in its legacy form is appended, once)
    again = {(leaf.sheet, leaf.ident) for leaf in earlier.values() if not leaf.legacy}
    ordered = [by_hash[h] for h in previous.leaves] + [
        leaf for leaf in leaves if leaf.hash not in old and (leaf.sheet, leaf.ident) not in again]
    return _history(ordered, previous.checkpoints, as_of, None, generation, terms, previous.legacy)


def refuse_earlier_as_of(as_of: dt.date, published: str | None, number: int = 0) -> None:
    """Checkpoints only move forward: an as-of before the last published one builds nothing
    (the published history is not touched, and no record is reported as rewritten)."""
    if published is None or as_of.isoformat() >= published:
        return
    which = f"（第 {number} 号账本指纹）" if number else ""
    raise AsOfBeforePublished(
        f"统计日 {as_of} 早于网站上次发布的日期 {published}{which}。网站只能往后更新，"
        f"这次没有生成，网站保持不变，已公示的记录也都没有动。请去掉 --as-of，或用不早于 {published} 的日期；"
        f"只想看 {as_of} 那天的积分，可以用 kit balances --as-of {as_of}（不发布）。")


def last_published(site_dir: Path) -> tuple[str, int] | None:
    """(date, number) of the site's latest checkpoint, from checkpoints.json alone (cheap)."""
    try:
        data = json.loads((Path(site_dir) / PUBLISHED_DIR / "checkpoints.json").read_text(encoding="utf-8"))
        last = data["checkpoints"][-1]
        return str(last["date"]), int(last["number"])
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # none yet, or damaged: read_published says so when the build reads it


def _earlier(leaves: list[Leaf], wanted: set[bytes], book: Book, legacy: bool = False) -> dict[bytes, Leaf]:
    """Published hashes found under a resident's earlier salts → the leaf as first published."""
    residents = {r.resident_id: r for r in book.residents}
    salts: dict[str, list[bytes]] = {}
    found: dict[bytes, Leaf] = {}
    for leaf in leaves:
        if leaf.resident_id not in salts:
            salts[leaf.resident_id] = earlier_salts(book.settings, residents[leaf.resident_id])
        forms = [(leaf.text, False)] + ([(leaf.legacy_text, True)] if legacy and leaf.legacy_text != leaf.text else [])
        for text, is_legacy in forms:
            data = text.encode("utf-8")
            for salt in salts[leaf.resident_id]:
                digest = merkle.leaf_hash(salt + data)
                if digest in wanted:
                    found[digest] = dataclasses.replace(leaf, hash=digest, salt=salt, text=text, legacy=is_legacy)
                    break
    return found


def _check_terms(last: Checkpoint, terms: dict | None, leaves: list[Leaf]) -> None:
    """A decay setting changed since the last checkpoint: refused when, under the old or the
    new setting, the oldest published points could already have decayed by then."""
    if terms is None or last.terms is None or terms == last.terms:
        return
    published = dt.date.fromisoformat(last.date)
    dates = [leaf.date for leaf in leaves if leaf.sheet == "entries" and leaf.date and leaf.date <= published]
    if not dates:
        return
    oldest = min(dates)

    def first_decay(t: dict) -> dt.date | None:
        months, factor = int(t["decay_after_months"]), t["decay_factor"]
        return add_months(oldest, months) if months > 0 and factor not in ("1", "1.0") else None

    hit = [d for d in (first_decay(last.terms), first_decay(terms)) if d is not None and d <= published]
    if not hit:
        return
    raise HistoryRewritten(
        f"“设置”表的积分衰减设置改过了（公示时：{_terms_words(last.terms)}；现在：{_terms_words(terms)}）。"
        f"最早公示的积分是 {oldest} 得的，到上次发布的 {last.date} 已经按旧设置算过衰减，"
        "改动会让已经公示的余额变掉，所以这次没有发布，网站保持不变。请把“积分有效期(月)”和“衰减比例”改回原来的值。"
        "确实需要改（例如原来填错了）时，可以用 kit build --rewrite-history \"原因\"，这次改动和原因会公开记录在“账本指纹”页面。")


def _terms_words(terms: dict) -> str:
    months = int(terms["decay_after_months"])
    if months <= 0:
        return "不衰减"
    return f"有效期 {months} 个月，到期乘以 {terms['decay_factor']}"


def _history(ordered: list[Leaf], earlier: tuple[Checkpoint, ...], as_of: dt.date, rewrite: dict | None,
             generation: int = 0, terms: dict | None = None, legacy: int = 0) -> History:
    tree = merkle.Tree([leaf.hash for leaf in ordered])
    last = earlier[-1] if earlier else None
    if rewrite is not None:
        legacy = 0  # a rewrite publishes the current leaves only
    rotated = last is not None and generation > last.key_generation
    upgraded = last is not None and rewrite is None and legacy and last.terms is None
    retermed = last is not None and rewrite is None and last.terms is not None and terms != last.terms
    if (last is not None and rewrite is None and last.size == len(ordered) and not rotated
            and not upgraded and not retermed):
        return History(tuple(ordered), tree, earlier, legacy)  # nothing new: no new checkpoint
    hashes = [leaf.hash for leaf in ordered]
    consistency = () if (last is None or rewrite) else tuple(
        hash_text(p) for p in merkle.consistency_proof(last.size, hashes))
    notes = []
    if rotated:
        notes.append(ROTATION_NOTE.format(generation=generation))
    if upgraded:
        notes.append(UPGRADE_NOTE.format(size=legacy))
    elif retermed:
        notes.append(TERMS_NOTE.format(terms=_terms_words(terms)))
    checkpoint = Checkpoint(
        number=len(earlier) + 1, date=as_of.isoformat(), size=len(ordered), root=hash_text(tree.root),
        previous=None if last is None else {"size": last.size, "root": last.root},
        consistency=consistency, rewrite=rewrite, key_generation=generation,
        note="".join(notes) or None, terms=terms)
    return History(tuple(ordered), tree, earlier + (checkpoint,), legacy)


def _missing_message(missing: list[bytes], known_rows: Mapping[str, dict], leaves: list[Leaf] = ()) -> str:
    current = {(leaf.sheet, leaf.ident): leaf.resident_id for leaf in leaves}
    details = {(leaf.sheet, leaf.ident): leaf for leaf in leaves if leaf.detail}
    causes: dict[str, None] = {}
    unexplained = []
    for h in missing:
        cause = _cause(known_rows.get(h.hex()), details)
        if cause:
            causes[cause] = None
        else:
            unexplained.append(h)
    parts = []
    if causes:
        listed = list(causes)
        parts.append("已经公示的积分变了：" + "；".join(listed[:5]) + (f" 等 {len(listed)} 处" if len(listed) > 5 else "")
                     + "。公示过的积分不能悄悄改动，这次没有发布，网站保持不变。" + VERSION_HOW
                     + "请先把改动恢复原样（改动前的表格在 备份/ 文件夹里）。")
    if unexplained:
        named = []
        for h in unexplained[:20]:
            row = known_rows.get(h.hex())
            named.append(f"“{SHEET_NAMES.get(row['sheet'], row['sheet'])}”表第 {row['row']} 行（{row['id']}）"
                         if row else "一条无法确定位置的记录")
        more = f" 等 {len(unexplained)} 条" if len(unexplained) > 20 else ""
        # records still in the workbook, unchanged in the row map's eyes: their salt changed, i.e. the card did
        owners = sorted({current[(row["sheet"], row["id"])]
                         for row in map(known_rows.get, (h.hex() for h in unexplained))
                         if row and (row["sheet"], row["id"]) in current})
        card = (f"如果 {'、'.join(owners[:5])} 的卡号是手工改过的，请把原来的卡号填进“居民”表的“旧卡号”一列"
                "（补办请用 kit cards --reissue，它会自动填写），再运行 kit build。") if owners else ""
        parts.append("已经公示的记录被修改或删除了：" + "、".join(named) + more + "。" + card + "公示过的记录和积分不能直接改动："
                     "请把这些行恢复原样，需要更正时在“申诉”表登记更正结果（只增加新行）；如果改的是“积分规则”的分值、"
                     "每日上限，“加分规则”或“奖品”的所需积分，" + VERSION_HOW +
                     "如果刚补办过积分卡或更换过化名密钥，请检查“居民”表的“旧卡号”和“设置”表的“旧化名密钥”有没有被删改"
                     "（改动前的表格在 备份/ 文件夹里）。")
    return "".join(parts) + ("确实需要重写历史（例如录入了不该公开的内容）时，可以用 kit build --rewrite-history \"原因\"，"
                             "这次重写和原因会公开记录在“账本指纹”页面。")


def _cause(row: dict | None, current: Mapping[tuple[str, str], Leaf]) -> str | None:
    """Why a published record's points differ now, from the detail kept in the private row map."""
    if not row or not row.get("why"):
        return None
    leaf = current.get((row["sheet"], row["id"]))
    if leaf is None or leaf.detail == row["why"]:
        return None
    old, new = row["why"].split("|"), leaf.detail.split("|")
    if old[0] != new[0]:
        return None  # the record itself changed
    old, new = old[1:], new[1:]
    where = f"“{SHEET_NAMES[row['sheet']]}”表第 {leaf.row} 行（{row['id']}）"
    if row["sheet"] == "redemptions" and len(old) == len(new) == 3:
        return (f"{where}公示时花了 {old[2]} 分，现在算出 {new[2]} 分："
                + (f"“奖品”表第 {new[0]} 行的所需积分从 {old[1]} 改成了 {new[1]}" if old[0] == new[0] else
                   f"现在管这一天的是“奖品”表第 {new[0]} 行，公示时是第 {old[0]} 行"))
    if row["sheet"] != "entries" or len(old) != 7 or len(new) != 7:
        return None
    (o_row, o_points, o_cap, o_mult, _, o_awarded, o_kind), (n_row, n_points, n_cap, n_mult, _, n_awarded, n_kind) = \
        old, new
    said = f"{where}公示时计 {o_awarded} 分，现在算出 {n_awarded} 分："
    if o_row != n_row:
        return said + f"现在管这一天的是“积分规则”表第 {n_row} 行，公示时是第 {o_row} 行（版本的日期改过了）"
    if o_points != n_points:
        return said + f"“积分规则”表第 {n_row} 行的分值从 {o_points} 改成了 {n_points}"
    if o_mult != n_mult:
        return said + f"“加分规则”表改过了，倍数从 ×{o_mult} 变成 ×{n_mult}"
    if o_cap != n_cap:
        return said + f"“积分规则”表第 {n_row} 行的每日上限从 {o_cap} 改成了 {n_cap}"
    if "annual" in (o_kind, n_kind):
        return said + "“设置”表的“年度上限”改过了，或者之后补登了日期更早的记录，占用了年度上限"
    if "daily" in (o_kind, n_kind):
        return said + "之后补登或插入了同一天的记录，占用了每日上限"
    return None


# --- reading and writing the published and private state --------------------------


def hash_text(digest: bytes) -> str:
    """A hash as published: base16 in the letters a–p."""
    return digest.hex().translate(_TO_LETTERS)


def hash_bytes(text: str, format: str = FORMAT) -> bytes:
    """A published hash back to bytes (ValueError if it is not one); v1 files are hex."""
    if format == "kit-ledger-v1":
        return bytes.fromhex(text)
    if not _LETTERS.fullmatch(text):
        raise ValueError(f"not a hash: {text[:70]!r}")
    return bytes.fromhex(text.translate(_FROM_LETTERS))


def read_published(site_dir: Path) -> Published | None:
    folder = Path(site_dir) / PUBLISHED_DIR
    checkpoints_file, leaves_file = folder / "checkpoints.json", folder / "leaves.txt"
    if not checkpoints_file.is_file():
        return None
    try:
        data = json.loads(checkpoints_file.read_text(encoding="utf-8"))
        written = data.get("format", FORMAT)
        checkpoints = tuple(_checkpoint(c, written) for c in data["checkpoints"])
        leaves = tuple(hash_bytes(line, written) for line in leaves_file.read_text(encoding="utf-8").split())
        legacy = len(leaves) if written in LEGACY_FORMATS else int(data.get("legacy_leaves", 0))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KitError(f"已发布网站的账本指纹文件 {folder} 损坏，无法核对（{exc}）。") from None
    return Published(checkpoints, leaves, min(legacy, len(leaves)))


def _checkpoint(data: dict, written: str) -> Checkpoint:
    """A checkpoint as read, its hashes in this format (a v1 site is carried over)."""
    def text(value: str) -> str:
        return hash_text(hash_bytes(str(value), written))

    def moved(side: dict | None) -> dict | None:
        return None if side is None else side | {"root": text(side["root"])}

    rewrite = data.get("rewrite")
    if rewrite:
        rewrite = rewrite | {"replaced": moved(rewrite["replaced"])}
    return Checkpoint(int(data["number"]), str(data["date"]), int(data["size"]), text(data["root"]),
                      moved(data.get("previous")), tuple(text(p) for p in data.get("consistency") or ()), rewrite,
                      int(data.get("key_generation", 0)), data.get("note"), data.get("terms"))


def published_files(history: History) -> dict[str, str]:
    """site/ledger/: the checkpoints and the leaf hashes (salted: they reveal nothing)."""
    checkpoints = {"format": FORMAT, "hash": "SHA-256, RFC 9162 (0x00 leaf, 0x01 node); "
                   "hashes in base16 with the letters a-p for 0-f",
                   "checkpoints": [_checkpoint_data(c) for c in history.checkpoints]}
    if history.legacy:
        checkpoints["legacy_leaves"] = history.legacy  # the first this many leaves are in the v2 form
    return {
        "checkpoints.json": json.dumps(checkpoints, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
        "leaves.txt": "".join(hash_text(leaf.hash) + "\n" for leaf in history.leaves),
    }


def _checkpoint_data(c: Checkpoint) -> dict:
    data = c.__dict__ | {"consistency": list(c.consistency)}
    if not c.key_generation and c.note is None:  # as checkpoints were written before rotation existed
        del data["key_generation"], data["note"]
    if c.terms is None:  # as checkpoints were written before v3
        del data["terms"]
    return data


def read_private_rows(private_dir: Path) -> dict[str, dict]:
    path = Path(private_dir) / PRIVATE_MAP
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class PrivateRows(Mapping):
    """private/ledger-rows.json read on first use: only a refusal or a declared rewrite
    names rows, and at a million leaves the map costs seconds and hundreds of MB."""

    def __init__(self, private_dir: Path):
        self._private_dir = Path(private_dir)
        self._rows: dict[str, dict] | None = None

    def _loaded(self) -> dict[str, dict]:
        if self._rows is None:
            self._rows = read_private_rows(self._private_dir)
        return self._rows

    def __getitem__(self, key: str) -> dict:
        return self._loaded()[key]

    def __iter__(self):
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def leaf_positions(history: History) -> dict[str, list[int]]:
    """resident_id → the indexes of their leaves."""
    positions: dict[str, list[int]] = {}
    for index, leaf in enumerate(history.leaves):
        if not leaf.legacy:  # the same record has its v3 leaf further on
            positions.setdefault(leaf.resident_id, []).append(index)
    return positions


@functools.lru_cache(maxsize=1 << 16)
def _b64(node: bytes) -> str:
    """The upper nodes are in every resident's proofs: encode each once."""
    return base64.b64encode(node).decode()


PROVEN_PER_RESIDENT = 3  # the newest records; older ones stay included by append-only consistency


def resident_proofs(history: History, indexes: list[int], salt: bytes) -> dict:
    """What a resident's sealed file carries to check, in the browser, that their newest
    records are in the latest checkpoint. Earlier records were checked against earlier
    checkpoints, and every checkpoint extends the one before (kit verify)."""
    latest = history.latest
    newest = indexes[-PROVEN_PER_RESIDENT:]
    return {
        "checkpoint": {"number": latest.number, "date": latest.date, "size": latest.size, "root": latest.root},
        "salt": base64.b64encode(salt).decode(),  # of new records
        "records": len(indexes),
        "leaves": [{"index": i, "text": history.leaves[i].text, "salt": _b64(history.leaves[i].salt or salt),
                    "proof": [_b64(p) for p in history.tree.path(i)]} for i in newest],
    }
