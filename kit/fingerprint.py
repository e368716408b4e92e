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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kit import merkle
from kit.errors import KitError
from kit.keys import current_salt, earlier_salts, split_keys
from kit.ledger import Ledger
from kit.model import Book
from kit.wording import plain_number

PUBLISHED_DIR = "ledger"  # site/ledger/checkpoints.json and leaves.txt
FORMAT = "kit-ledger-v2"  # v1 wrote hashes in plain hex
# Published hashes are base16 written with the letters a–p for 0–f (as Chrome writes
# extension ids): no digits, so no stretch of a hash can look like a phone or id number.
_TO_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
_FROM_LETTERS = str.maketrans("abcdefghijklmnop", "0123456789abcdef")
_LETTERS = re.compile("[a-p]*")
PRIVATE_MAP = "ledger-rows.json"  # private/: which row made which leaf, to name changed rows
SHEET_NAMES = {"entries": "积分记录", "redemptions": "兑换记录", "appeals": "申诉"}
ROTATION_NOTE = ("化名密钥已更换（第 {generation} 次）：从这个账本指纹起，排行榜化名、公示编码和新记录的加盐值都已换新；"
                 "已经公示的记录一条未改，仍可核对。")


class HistoryRewritten(KitError):
    code = "history-rewritten"
    exit_status = 1  # like any workbook error: fix the rows, the old site stays


@dataclass(frozen=True)
class Leaf:
    hash: bytes
    resident_id: str
    sheet: str  # sheet key
    row: int
    ident: str  # entry, redemption or appeal id
    text: str  # the fields hashed, given only to the resident (inside their sealed file)
    salt: bytes = b""  # the resident's salt when the leaf was first published (kit/keys.py)


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


@dataclass(frozen=True)
class Published:
    checkpoints: tuple[Checkpoint, ...]
    leaves: tuple[bytes, ...]


@dataclass(frozen=True)
class History:
    """What this build publishes: the leaves in tree order and every checkpoint."""

    leaves: tuple[Leaf, ...]
    tree: merkle.Tree
    checkpoints: tuple[Checkpoint, ...]

    @property
    def latest(self) -> Checkpoint:
        return self.checkpoints[-1]


def current_leaves(book: Book, ledger: Ledger) -> list[Leaf]:
    """Leaves of everything published as of the ledger's date, in canonical order, each
    salted with its resident's current salt."""
    residents = {r.resident_id: r for r in book.residents}
    salts: dict[str, bytes] = {}

    def leaf(resident_id: str, sheet: str, row: int, ident: str, text: str) -> Leaf:
        salt = salts.get(resident_id)
        if salt is None:
            salt = salts[resident_id] = current_salt(book.settings, residents[resident_id])
        return Leaf(merkle.leaf_hash(salt + text.encode("utf-8")), resident_id, sheet, row, ident, text, salt)

    found = []
    for award in sorted(ledger.awards.values(), key=lambda a: (a.entry.date, a.entry.entry_id)):
        e = award.entry
        text = "|".join(("E", e.entry_id, e.date.isoformat(), e.time.isoformat() if e.time else "",
                         e.rule_code, plain_number(e.quantity)))
        found.append(leaf(e.resident_id, "entries", e.row, e.entry_id, text))
    for r in sorted(ledger.redemptions, key=lambda r: (r.date, r.redemption_id)):
        text = "|".join(("D", r.redemption_id, r.date.isoformat(), r.reward_code, str(r.quantity)))
        found.append(leaf(r.resident_id, "redemptions", r.row, r.redemption_id, text))
    decided = [a for a in book.appeals if a.status != "open" and a.resolved_date
               and a.resolved_date <= ledger.as_of]
    for a in sorted(decided, key=lambda a: (a.resolved_date, a.appeal_id)):
        text = "|".join(("A", a.appeal_id, a.entry_id, a.status,
                         "" if a.corrected_points is None else str(a.corrected_points), a.resolved_date.isoformat()))
        found.append(leaf(a.resident_id, "appeals", a.row, a.appeal_id, text))
    return found


def extend(previous: Published | None, leaves: list[Leaf], as_of: dt.date, known_rows: dict[str, dict],
           rewrite_reason: str | None = None, book: Book | None = None) -> History:
    """The new history: the published leaves first, unchanged, then the new ones.

    A published leaf salted before a card was reissued or the secret replaced is found
    again under its earlier salt (book gives them), and keeps its place and hash."""
    generation = len(split_keys(book.settings.retired_secrets)) if book else 0
    if previous is None or not previous.checkpoints:
        return _history(leaves, (), as_of, None, generation)
    by_hash = {leaf.hash: leaf for leaf in leaves}
    missing = [h for h in previous.leaves if h not in by_hash]
    earlier: dict[bytes, Leaf] = {}
    if missing and book is not None and not rewrite_reason:
        earlier = _earlier(leaves, set(missing), book)
        by_hash |= earlier
        missing = [h for h in previous.leaves if h not in by_hash]
    if rewrite_reason:
        last = previous.checkpoints[-1]
        return _history(leaves, previous.checkpoints, as_of,
                        {"reason": rewrite_reason, "replaced": {"size": last.size, "root": last.root}}, generation)
    if missing:
        raise HistoryRewritten(_missing_message(missing, known_rows, leaves))
    old = set(previous.leaves)
    again = {(leaf.sheet, leaf.ident) for leaf in earlier.values()}  # published under an earlier salt
    ordered = [by_hash[h] for h in previous.leaves] + [
        leaf for leaf in leaves if leaf.hash not in old and (leaf.sheet, leaf.ident) not in again]
    return _history(ordered, previous.checkpoints, as_of, None, generation)


def _earlier(leaves: list[Leaf], wanted: set[bytes], book: Book) -> dict[bytes, Leaf]:
    """Published hashes found under a resident's earlier salts → the leaf as first published."""
    residents = {r.resident_id: r for r in book.residents}
    salts: dict[str, list[bytes]] = {}
    found: dict[bytes, Leaf] = {}
    for leaf in leaves:
        if leaf.resident_id not in salts:
            salts[leaf.resident_id] = earlier_salts(book.settings, residents[leaf.resident_id])
        data = leaf.text.encode("utf-8")
        for salt in salts[leaf.resident_id]:
            digest = merkle.leaf_hash(salt + data)
            if digest in wanted:
                found[digest] = dataclasses.replace(leaf, hash=digest, salt=salt)
                break
    return found


def _history(ordered: list[Leaf], earlier: tuple[Checkpoint, ...], as_of: dt.date, rewrite: dict | None,
             generation: int = 0) -> History:
    tree = merkle.Tree([leaf.hash for leaf in ordered])
    last = earlier[-1] if earlier else None
    rotated = last is not None and generation > last.key_generation
    if last is not None and rewrite is None and last.size == len(ordered) and not rotated:
        return History(tuple(ordered), tree, earlier)  # nothing new: no new checkpoint
    hashes = [leaf.hash for leaf in ordered]
    consistency = () if (last is None or rewrite) else tuple(
        hash_text(p) for p in merkle.consistency_proof(last.size, hashes))
    checkpoint = Checkpoint(
        number=len(earlier) + 1, date=as_of.isoformat(), size=len(ordered), root=hash_text(tree.root),
        previous=None if last is None else {"size": last.size, "root": last.root},
        consistency=consistency, rewrite=rewrite, key_generation=generation,
        note=ROTATION_NOTE.format(generation=generation) if rotated else None)
    return History(tuple(ordered), tree, earlier + (checkpoint,))


def _missing_message(missing: list[bytes], known_rows: Mapping[str, dict], leaves: list[Leaf] = ()) -> str:
    named = []
    for h in missing[:20]:
        row = known_rows.get(h.hex())
        named.append(f"“{SHEET_NAMES.get(row['sheet'], row['sheet'])}”表第 {row['row']} 行（{row['id']}）"
                     if row else "一条无法确定位置的记录")
    more = f" 等 {len(missing)} 条" if len(missing) > 20 else ""
    # records still in the workbook, unchanged in the row map's eyes: their salt changed, i.e. the card did
    current = {(leaf.sheet, leaf.ident): leaf.resident_id for leaf in leaves}
    owners = sorted({current[(row["sheet"], row["id"])] for row in map(known_rows.get, (h.hex() for h in missing))
                     if row and (row["sheet"], row["id"]) in current})
    card = (f"如果 {'、'.join(owners[:5])} 的卡号是手工改过的，请把原来的卡号填进“居民”表的“旧卡号”一列"
            "（补办请用 kit cards --reissue，它会自动填写），再运行 kit build。") if owners else ""
    return ("已经公示的记录被修改或删除了：" + "、".join(named) + more + "。" + card + "公示过的积分不能直接改动："
            "请把这些行恢复原样，需要更正时在“申诉”表登记更正结果（只增加新行）。"
            "如果刚补办过积分卡或更换过化名密钥，请检查“居民”表的“旧卡号”和“设置”表的“旧化名密钥”有没有被删改"
            "（改动前的表格在 备份/ 文件夹里）。"
            "确实需要重写历史（例如录入了不该公开的内容）时，可以用 kit build --rewrite-history \"原因\"，"
            "这次重写和原因会公开记录在“账本指纹”页面。")


# --- reading and writing the published and private state --------------------------


def hash_text(digest: bytes) -> str:
    """A hash as published: base16 in the letters a–p."""
    return digest.hex().translate(_TO_LETTERS)


def hash_bytes(text: str, format: str = FORMAT) -> bytes:
    """A published hash back to bytes (ValueError if it is not one); v1 files are hex."""
    if format != FORMAT:
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
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KitError(f"已发布网站的账本指纹文件 {folder} 损坏，无法核对（{exc}）。") from None
    return Published(checkpoints, leaves)


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
                      int(data.get("key_generation", 0)), data.get("note"))


def published_files(history: History) -> dict[str, str]:
    """site/ledger/: the checkpoints and the leaf hashes (salted: they reveal nothing)."""
    checkpoints = {"format": FORMAT, "hash": "SHA-256, RFC 9162 (0x00 leaf, 0x01 node); "
                   "hashes in base16 with the letters a-p for 0-f",
                   "checkpoints": [_checkpoint_data(c) for c in history.checkpoints]}
    return {
        "checkpoints.json": json.dumps(checkpoints, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
        "leaves.txt": "".join(hash_text(leaf.hash) + "\n" for leaf in history.leaves),
    }


def _checkpoint_data(c: Checkpoint) -> dict:
    data = c.__dict__ | {"consistency": list(c.consistency)}
    if not c.key_generation and c.note is None:  # as checkpoints were written before rotation existed
        del data["key_generation"], data["note"]
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
