"""账本指纹 (issue 9): the published, append-only Merkle tree of the ledger and `kit verify`.

Everything runs through the CLI in a real project (kit build / kit verify / kit cards),
each scenario in its own copy of one project built once for the module:

  base      BASE's sheets with more entries, redemptions, appeals and card tokens,
            built as of 2026-06-30 (checkpoint 1, 11 records);
  appended  base plus three entries and a redemption, built as of 2026-07-15
            (checkpoint 2, 15 records).

Expected values come from the workbook written here (ids, dates, rules, quantities)
and from kit.merkle, whose RFC 9162 conformance tests/test_merkle.py checks.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from kit import merkle
from kit.fingerprint import hash_bytes, hash_text
from kit.keys import salt_v1, salt_v2
from kit.project import DEFAULT_WORKBOOK
from kit.serve import serve
from kit.tokens import file_id, seal, unseal
from kit.verify import reader, verify_site
from tests.conftest import BASE, make_project, run_kit, write_xlsx

AS_OF = dt.date(2026, 6, 30)
LATER = dt.date(2026, 7, 15)
SECRET = "f95ecae7d31e9a2b4c6d8e0f1a3b5c79"
D, T = dt.date, dt.time

# Fixed tokens (made once with kit.tokens.new_token()) so that failures are reproducible.
TA = "OFJH3TROTL4PZCGSPPZQJLZ7HL"
TB = "O2L7GC7CEYC7QKLWO2UKWKIV4Q"
TC = "W6PLRRAG4YQDNEINWO67QDRPTF"
TOKENS = {"RFP001": TA, "RFP002": TB, "RFP003": TC}

# resident_id, name, grid, birth year, phone, consent, token, status
RESIDENTS = [
    ("RFP001", "郑秘光", "G1", 1956, "13900001111", "是", TA, "在册"),
    ("RFP002", "钱秘月", "G2", 1990, "13900002222", "否", TB, "在册"),
    ("RFP003", "孙秘星", "G1", 1972, "13900003333", "是", TC, "在册"),
    ("RFP004", "周秘辰", "G2", 1985, None, "否", None, "在册"),
]
STAFF_NAMES = [row[1] for row in BASE["工作人员"][1:]]

# eid, date, time, resident, rule, quantity, status — sheet row = index + 2
ENTRIES = [
    ("EFP01", D(2026, 3, 5), T(20, 30), "RFP001", "XL", 2, "通过"),
    ("EFP02", D(2026, 3, 6), None, "RFP002", "TJ", 1, "通过"),
    ("EFP03", D(2026, 4, 1), T(9, 0), "RFP001", "ZY", 3, "通过"),
    ("EFP04", D(2026, 4, 12), None, "RFP003", "XL", 1, "通过"),
    ("EFP05", D(2026, 5, 2), None, "RFP001", "TJ", 1, "通过"),
    ("EFP06", D(2026, 5, 20), T(14, 0), "RFP002", "XL", 1.5, "通过"),
    ("EFP07", D(2026, 6, 1), None, "RFP004", "ZY", 2, "通过"),
    ("EFP08", D(2026, 6, 10), None, "RFP001", "XL", 1, "通过"),
    ("EFP09", D(2026, 6, 15), None, "RFP003", "ZY", 2, "待审核"),  # not counted: no leaf
]
APPENDED = [
    ("EFP10", D(2026, 7, 2), None, "RFP003", "XL", 2, "通过"),
    ("EFP11", D(2026, 7, 5), T(10, 0), "RFP001", "ZY", 1, "通过"),
    ("EFP12", D(2026, 7, 8), None, "RFP004", "TJ", 1, "通过"),
]
# id, date, resident, reward, quantity — sheet row = index + 2
REDEMPTIONS = [
    ("DFP1", D(2026, 5, 25), "RFP001", "JFP1", 1),
    ("DFP2", D(2026, 6, 5), "RFP002", "JFP1", 1),
]
APPENDED_REDEMPTION = ("DFP3", D(2026, 7, 10), "RFP003", "JFP1", 1)
# id, date, resident, entry, reason, status, corrected points, resolved
APPEALS = [
    ("AFP1", D(2026, 6, 12), "RFP003", "EFP04", "申诉理由秘密甲", "受理中", None, None),
    ("AFP2", D(2026, 5, 10), "RFP001", "EFP03", "申诉理由秘密乙", "更正", 10, D(2026, 5, 15)),
]
ENTRY_HEADER = ["记录编号", "日期", "时间", "居民编号", "规则编码", "数量", "备注", "登记人", "审核人1", "审核人2", "状态"]


def entry_row(eid, day, time, rid, code, qty, status) -> list[object]:
    return [eid, day, time, rid, code, qty, None, "S1", "S2", "S3" if code == "TJ" else None, status]


def workbook(entries=ENTRIES, redemptions=REDEMPTIONS, appeals=APPEALS, tokens=None,
             retired=None) -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(BASE)
    tokens = TOKENS if tokens is None else tokens
    sheets["设置"] = [["项目", "值"], ["名称", "幸福社区积分"], ["积分有效期(月)", 12], ["化名密钥", SECRET],
                  ["网站地址", "https://jf.example.test/"]]
    sheets["居民"] = [sheets["居民"][0] + ["旧卡号"]] + [
        [rid, name, grid, born, phone, consent, tokens.get(rid), status, (retired or {}).get(rid)]
        for rid, name, grid, born, phone, consent, _t, status in RESIDENTS]
    sheets["积分规则"] = sheets["积分规则"] + [["ZY", "志愿服务", "志愿服务", 5, "小时", 20, "否", None, None, "是"]]
    sheets["积分记录"] = [ENTRY_HEADER] + [entry_row(*e) for e in entries]
    sheets["奖品"] = [["编码", "名称", "类型", "所需积分", "库存", "说明"],
                     ["JFP1", "环保购物袋", "物质", 15, 100, None], ["JFP2", "爱心鸡蛋", "物质", 30, 100, None]]
    sheets["兑换记录"] = [["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"]] + [
        [rid_, day, rid, code, qty, "S1"] for rid_, day, rid, code, qty in redemptions]
    sheets["申诉"] = [["编号", "日期", "居民编号", "记录编号", "理由", "状态", "更正分值", "处理日期"]] + [
        list(a) for a in appeals]
    return sheets


# --------------------------------------------------------------------------- helpers


TC_NEW = "QWERTYUIOPASDFGHJKLZXCVBNM"  # a valid card number nobody was given


def resident_salt(secret: str, rid: str) -> bytes:
    """The salt the kit gives the leaves of a resident whose card was never reissued."""
    return salt_v1(secret, rid)


def build(project: Path, as_of: dt.date = AS_OF, *extra: str):
    ahead = ("--future",) if as_of > dt.date.today() else ()  # a date after the clock needs saying so
    return run_kit(project, "build", "--as-of", as_of.isoformat(), *ahead, *extra)


def built(project: Path, as_of: dt.date = AS_OF, *extra: str):
    result = build(project, as_of, *extra)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def write(project: Path, sheets: dict) -> None:
    write_xlsx(project / DEFAULT_WORKBOOK, sheets)


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def tree_hashes(folder: Path) -> dict[str, str]:
    """Every file under folder → its SHA-256 (the byte-identical check)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def checkpoints(site: Path) -> list[dict]:
    return json.loads((site / "ledger" / "checkpoints.json").read_text(encoding="utf-8"))["checkpoints"]


def published_leaves(site: Path) -> list[bytes]:
    return [hash_bytes(line) for line in (site / "ledger" / "leaves.txt").read_text(encoding="ascii").split()]


def private_rows(project: Path) -> dict[str, dict]:
    return json.loads((project / "private" / "ledger-rows.json").read_text(encoding="utf-8"))


def leaf_of(project: Path, ident: str) -> str:
    """The published leaf (hex) of the record with this id, from the private row map."""
    found = [h for h, row in private_rows(project).items() if row["id"] == ident]
    assert len(found) == 1, (ident, found)
    return found[0]


def personal(site: Path, token: str) -> dict:
    raw = (site / "me" / "d" / f"{file_id(token)}.bin").read_bytes()
    return json.loads(unseal(token, raw).decode("utf-8"))


def verify_cli(project: Path, *location: str):
    return run_kit(project, "verify", *location)


def refused(result) -> str:
    """A build that stops on rewritten history: exit 1, in words, no traceback."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "history-rewritten" in result.output, result.output
    assert "已经公示的记录被修改或删除了" in result.output, result.output
    return result.output


def named_rows(output: str) -> list[tuple[str, int, str]]:
    return [(sheet, int(row), ident) for sheet, row, ident in re.findall(r"“(.+?)”表第 (\d+) 行（(.+?)）", output)]


def crc(record: str) -> str:
    return f"{zlib.crc32(record.encode()):08x}"


def entry_text(eid, day, time, rule, qty, points) -> str:
    """A v3 entry leaf: the record and the points it was awarded."""
    return "|".join(("E", eid, day.isoformat(), time.isoformat() if time else "", rule, str(qty), str(points)))


# --------------------------------------------------------------------------- the shared projects


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("fingerprint") / "base", workbook())
    built(root)
    return root


@pytest.fixture(scope="module")
def appended(base, tmp_path_factory) -> Path:
    root = copy_project(base, tmp_path_factory.mktemp("fingerprint") / "appended")
    write(root, workbook(entries=ENTRIES + APPENDED, redemptions=REDEMPTIONS + [APPENDED_REDEMPTION]))
    built(root, LATER)
    return root


@pytest.fixture
def project(base, tmp_path) -> Path:
    """A private copy of the base project, built once (checkpoint 1)."""
    return copy_project(base, tmp_path / "project")


# --------------------------------------------------------------------------- the first checkpoint


def test_first_build_publishes_checkpoint_one(base):
    site = base / "site"
    cps = checkpoints(site)
    leaves = published_leaves(site)
    # 8 counted entries (EFP09 waits for review), 2 redemptions, 1 decided appeal
    assert len(leaves) == 11
    assert cps == [{"number": 1, "date": "2026-06-30", "size": 11, "root": hash_text(merkle.root(leaves)),
                    "previous": None, "consistency": [], "rewrite": None,
                    "terms": {"decay_after_months": 12, "decay_factor": "0.5"}}]
    data = json.loads((site / "ledger" / "checkpoints.json").read_text(encoding="utf-8"))
    assert data["format"] == "kit-ledger-v3" and "legacy_leaves" not in data
    # the private map names every leaf's row, in the canonical order: entries by date,
    # redemptions by date, decided appeals by resolved date
    rows = private_rows(base)
    assert [rows[h.hex()]["id"] for h in leaves] == [
        "EFP01", "EFP02", "EFP03", "EFP04", "EFP05", "EFP06", "EFP07", "EFP08", "DFP1", "DFP2", "AFP2"]
    # why: rule row, 分值, 每日上限, multiplier, base, awarded, cap — to name a re-priced record later
    efp01 = entry_text("EFP01", D(2026, 3, 5), T(20, 30), "XL", 2, 20).rsplit("|", 1)[0]
    assert rows[leaves[0].hex()] == {"sheet": "entries", "row": 2, "id": "EFP01", "why": f"{crc(efp01)}|2|10|40|1|20|20|"}
    assert rows[leaves[8].hex()] == {"sheet": "redemptions", "row": 2, "id": "DFP1",
                                     "why": f"{crc('D|DFP1|2026-05-25|JFP1|1')}|2|15|15"}
    assert rows[leaves[10].hex()] == {"sheet": "appeals", "row": 3, "id": "AFP2"}
    # the leaves are the salted records: the secret reproduces them (what the resident can check)
    salt = resident_salt(SECRET, "RFP001")
    assert leaves[0] == merkle.leaf_hash(salt + entry_text("EFP01", D(2026, 3, 5), T(20, 30), "XL", 2, 20).encode())
    assert leaves[10] == merkle.leaf_hash(salt + "A|AFP2|EFP03|corrected|10|2026-05-15".encode())
    assert not list(site.rglob("ledger-rows.json"))
    result = verify_cli(base)
    assert result.exit_code == 0, result.output
    assert "1 个账本指纹前后一致" in result.output


def test_fingerprint_page_shows_every_checkpoint(appended):
    page = (appended / "site" / "fingerprint" / "index.html").read_text(encoding="utf-8")
    cps = checkpoints(appended / "site")
    assert "账本指纹" in page
    for c in cps:
        assert f"第 {c['number']} 号指纹（{c['date']}）" in page
        assert c["root"] in page
        assert f"{c['root'][:8].upper()} {c['root'][8:16].upper()}" in page  # the form to copy by hand
    # newest first
    assert page.index("第 2 号指纹") < page.index("第 1 号指纹")
    assert "重写历史" not in page


# --------------------------------------------------------------------------- appending


def test_appending_rows_publishes_checkpoint_two(base, appended):
    site = appended / "site"
    cps = checkpoints(site)
    leaves = published_leaves(site)
    first = checkpoints(base / "site")[0]
    assert len(cps) == 2
    assert cps[0] == first  # the earlier checkpoint is kept as it was
    two = cps[1]
    assert (two["number"], two["date"], two["size"], two["rewrite"]) == (2, "2026-07-15", 15, None)
    assert two["previous"] == {"size": first["size"], "root": first["root"]}
    assert two["root"] == hash_text(merkle.root(leaves))
    # the old leaves come first, unchanged, then the new records
    assert leaves[:11] == published_leaves(base / "site")
    rows = private_rows(appended)
    assert [rows[h.hex()]["id"] for h in leaves[11:]] == ["EFP10", "EFP11", "EFP12", "DFP3"]
    assert rows[leaves[11].hex()] == {"sheet": "entries", "row": 11, "id": "EFP10",
                                      "why": f"{crc('E|EFP10|2026-07-02||XL|2')}|2|10|40|1|20|20|"}
    # the published consistency proof links the two checkpoints
    proof = [hash_bytes(p) for p in two["consistency"]]
    assert proof == merkle.consistency_proof(11, leaves)
    assert merkle.verify_consistency(11, 15, hash_bytes(first["root"]), hash_bytes(two["root"]), proof)
    assert not merkle.verify_consistency(11, 15, hash_bytes(first["root"]), hash_bytes(two["root"]),
                                         proof[:-1])
    # kit verify, in the project and as a library call
    result = verify_cli(appended)
    assert result.exit_code == 0, result.output
    assert "✓ 2 个账本指纹前后一致" in result.output
    assert "leaves.txt 的 15 个叶子和最新指纹一致" in result.output
    verdict = verify_site(reader(str(site)))
    assert verdict.broken is None and verdict.checkpoints == 2
    assert not any("重写" in note for note in verdict.notes)


def test_a_third_build_chains_on(appended, tmp_path):
    root = copy_project(appended, tmp_path / "project")
    write(root, workbook(entries=ENTRIES + APPENDED + [("EFP13", D(2026, 7, 20), None, "RFP002", "XL", 1, "通过")],
                         redemptions=REDEMPTIONS + [APPENDED_REDEMPTION]))
    built(root, D(2026, 7, 31))
    cps = checkpoints(root / "site")
    assert [c["number"] for c in cps] == [1, 2, 3]
    assert cps[2]["previous"] == {"size": 15, "root": cps[1]["root"]} and cps[2]["size"] == 16
    for before, after in zip(cps, cps[1:]):
        assert merkle.verify_consistency(before["size"], after["size"], hash_bytes(before["root"]),
                                         hash_bytes(after["root"]), [hash_bytes(p) for p in after["consistency"]])
    assert verify_cli(root).exit_code == 0


# --------------------------------------------------------------------------- edits are refused


def _edited(index: int, column: int, value) -> dict:
    entries = [list(e) for e in ENTRIES]
    entries[index][column] = value
    return workbook(entries=[tuple(e) for e in entries])


@pytest.mark.parametrize("index,column,value", [
    (0, 5, 3),  # EFP01 quantity 2 → 3
    (2, 1, D(2026, 4, 2)),  # EFP03 date
    (7, 3, "RFP002"),  # EFP08 resident RFP001 → RFP002
    (5, 4, "ZY"),  # EFP06 rule XL → ZY
    (0, 2, T(21, 30)),  # EFP01 time
], ids=["quantity", "date", "resident", "rule", "time"])
def test_editing_a_published_entry_is_refused_naming_the_row(project, index, column, value):
    site = project / "site"
    before_site, before_rows = tree_hashes(site), private_rows(project)
    write(project, _edited(index, column, value))
    output = refused(build(project))
    eid = ENTRIES[index][0]
    assert named_rows(output) == [("积分记录", index + 2, eid)], output
    assert f"“积分记录”表第 {index + 2} 行（{eid}）" in output
    assert "申诉" in output and "--rewrite-history" in output  # how to go on
    assert tree_hashes(site) == before_site  # the published site is untouched, byte for byte
    assert private_rows(project) == before_rows
    assert not [p for p in project.iterdir() if p.name.startswith(".kit-build-")]
    assert verify_cli(project).exit_code == 0


def test_deleting_a_published_entry_is_refused_naming_the_row(project):
    site = project / "site"
    before = tree_hashes(site)
    write(project, workbook(entries=ENTRIES[:4] + ENTRIES[5:]))  # EFP05, row 6, gone; later rows move up
    output = refused(build(project))
    assert named_rows(output) == [("积分记录", 6, "EFP05")], output
    assert tree_hashes(site) == before


def test_editing_a_published_redemption_is_refused_naming_the_row(project):
    site = project / "site"
    before = tree_hashes(site)
    changed = [REDEMPTIONS[0], ("DFP2", D(2026, 6, 5), "RFP002", "JFP1", 2)]  # quantity 1 → 2
    write(project, workbook(redemptions=changed))
    output = refused(build(project))
    assert named_rows(output) == [("兑换记录", 3, "DFP2")], output
    assert tree_hashes(site) == before


def test_editing_a_decided_appeal_is_refused_naming_the_row(project):
    site = project / "site"
    before = tree_hashes(site)
    appeals = [APPEALS[0], APPEALS[1][:6] + (15, APPEALS[1][7])]  # AFP2 corrected to 15, not 10
    write(project, workbook(appeals=appeals))
    output = refused(build(project))
    assert named_rows(output) == [("申诉", 3, "AFP2")], output
    assert tree_hashes(site) == before


def test_two_edits_are_both_named(project):
    entries = [list(e) for e in ENTRIES]
    entries[0][5] = 4
    entries[6][1] = D(2026, 6, 2)
    write(project, workbook(entries=[tuple(e) for e in entries]))
    output = refused(build(project))
    assert sorted(named_rows(output)) == [("积分记录", 2, "EFP01"), ("积分记录", 8, "EFP07")], output


def test_an_edit_is_refused_even_alongside_new_rows(project):
    """Appending does not hide an edit: the build still stops, and names only the edited row."""
    entries = [list(e) for e in ENTRIES + APPENDED]
    entries[3][5] = 2  # EFP04 quantity 1 → 2
    write(project, workbook(entries=[tuple(e) for e in entries]))
    before = tree_hashes(project / "site")
    output = refused(build(project, LATER))
    assert named_rows(output) == [("积分记录", 5, "EFP04")], output
    assert tree_hashes(project / "site") == before


# --------------------------------------------------------------------------- corrections by appeal


def test_a_correction_through_an_appeal_publishes(project):
    site = project / "site"
    old_leaves = published_leaves(site)
    efp06 = leaf_of(project, "EFP06")
    appeals = APPEALS + [("AFP3", D(2026, 6, 20), "RFP002", "EFP06", "数量登记错了", "更正", 10, D(2026, 6, 25))]
    write(project, workbook(appeals=appeals))
    built(project)
    cps = checkpoints(site)
    leaves = published_leaves(site)
    assert [c["number"] for c in cps] == [1, 2]
    assert cps[1]["size"] == 12 and cps[1]["previous"] == {"size": 11, "root": cps[0]["root"]}
    assert leaves[:11] == old_leaves
    assert leaf_of(project, "EFP06") == efp06 and leaves.index(bytes.fromhex(efp06)) == 5  # unchanged, in place
    assert private_rows(project)[leaves[11].hex()] == {"sheet": "appeals", "row": 4, "id": "AFP3"}
    salt = resident_salt(SECRET, "RFP002")
    assert leaves[11] == merkle.leaf_hash(salt + "A|AFP3|EFP06|corrected|10|2026-06-25".encode())
    result = verify_cli(project)
    assert result.exit_code == 0, result.output
    assert verify_site(reader(str(site))).broken is None

    # the open appeal is then decided in its own row: that record was never published, so it appends
    decided = [APPEALS[0][:5] + ("维持", None, D(2026, 6, 29))] + appeals[1:]
    write(project, workbook(appeals=decided))
    built(project)
    cps = checkpoints(site)
    assert [c["number"] for c in cps] == [1, 2, 3] and cps[2]["size"] == 13
    assert published_leaves(site)[:12] == leaves
    assert private_rows(project)[published_leaves(site)[12].hex()]["id"] == "AFP1"
    assert verify_cli(project).exit_code == 0


# --------------------------------------------------------------------------- the declared rewrite


REASON = "误录了不该公开的内容，经社区两委会议同意重写"


def test_a_declared_rewrite_publishes_and_is_recorded(project):
    site = project / "site"
    first = checkpoints(site)[0]
    write(project, _edited(0, 5, 3))
    refused(build(project))
    result = built(project, AS_OF, "--rewrite-history", REASON, "--yes")
    cps = checkpoints(site)
    assert [c["number"] for c in cps] == [1, 2]
    assert cps[0] == first
    two = cps[1]
    assert two["rewrite"] == {"reason": REASON, "replaced": {"size": first["size"], "root": first["root"]}}
    assert two["size"] == 11 and two["root"] != first["root"]
    assert two["root"] == hash_text(merkle.root(published_leaves(site)))
    page = (site / "fingerprint" / "index.html").read_text(encoding="utf-8")
    assert f"本次更新声明重写了历史：{REASON}" in page
    assert "kit-rewrite" in page
    # verify passes but says so
    result = verify_cli(project)
    assert result.exit_code == 0, result.output
    assert f"第 2 号指纹（2026-06-30）声明重写了历史：{REASON}" in result.output
    verdict = verify_site(reader(str(site)))
    assert verdict.broken is None
    assert any(REASON in note for note in verdict.notes)
    # the following builds extend the rewritten history as usual
    write(project, workbook(entries=[tuple(e) for e in _entries_with(0, 5, 3)] + APPENDED,
                            redemptions=REDEMPTIONS + [APPENDED_REDEMPTION]))
    built(project, LATER)
    cps = checkpoints(site)
    assert [c["number"] for c in cps] == [1, 2, 3]
    assert cps[2]["rewrite"] is None and cps[2]["previous"] == {"size": 11, "root": two["root"]}
    assert verify_cli(project).exit_code == 0


def _entries_with(index: int, column: int, value) -> list[list]:
    entries = [list(e) for e in ENTRIES]
    entries[index][column] = value
    return entries


# --------------------------------------------------------------------------- kit verify on forgeries


def _forge(site: Path, change) -> None:
    path = site / "ledger" / "checkpoints.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data["checkpoints"])
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _rewritten_history(site: Path) -> None:
    """What someone quietly editing record 0 would publish: a real tree over the edited
    leaves, a consistency proof from the edited tree, leaves.txt to match, and the
    true previous checkpoint left in place. Only the link to checkpoint 1 breaks."""
    leaves = published_leaves(site)
    leaves[0] = merkle.leaf_hash(b"an edited record")

    def change(cps):
        cps[1]["root"] = hash_text(merkle.root(leaves))
        cps[1]["consistency"] = [hash_text(p) for p in merkle.consistency_proof(cps[0]["size"], leaves)]

    _forge(site, change)
    (site / "ledger" / "leaves.txt").write_text("".join(hash_text(h) + "\n" for h in leaves), encoding="ascii")


def test_verify_names_a_checkpoint_that_is_not_an_extension(appended, tmp_path):
    root = copy_project(appended, tmp_path / "project")
    _rewritten_history(root / "site")
    result = verify_cli(root)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "第 2 号指纹（2026-07-15）不是第 1 号指纹的延续" in result.output, result.output
    verdict = verify_site(reader(str(root / "site")))
    assert verdict.broken is not None and "第 2 号指纹" in verdict.broken


def test_verify_reports_the_first_break(appended, tmp_path):
    root = copy_project(appended, tmp_path / "project")
    write(root, workbook(entries=ENTRIES + APPENDED + [("EFP13", D(2026, 7, 20), None, "RFP002", "XL", 1, "通过")],
                         redemptions=REDEMPTIONS + [APPENDED_REDEMPTION]))
    built(root, D(2026, 7, 31))
    site = root / "site"
    pristine = (site / "ledger" / "checkpoints.json").read_bytes()

    def break_three(cps):  # the newest checkpoint claims a root its proof does not lead to
        cps[2]["root"] = hash_text(hashlib.sha256(b"forged").digest())

    _forge(site, break_three)
    result = verify_cli(root)
    assert result.exit_code == 1
    assert "第 3 号指纹（2026-07-31）不是第 2 号指纹的延续" in result.output, result.output
    assert "第 2 号指纹（" not in result.output.replace("第 2 号指纹的延续", "")

    (site / "ledger" / "checkpoints.json").write_bytes(pristine)

    def break_two_and_three(cps):  # a changed consistency proof in 2, a forged root in 3
        proof = cps[1]["consistency"]
        proof[0] = hash_text(hashlib.sha256(hash_bytes(proof[0])).digest())
        cps[2]["root"] = hash_text(hashlib.sha256(b"forged").digest())

    _forge(site, break_two_and_three)
    result = verify_cli(root)
    assert result.exit_code == 1
    assert "第 2 号指纹（2026-07-15）不是第 1 号指纹的延续" in result.output, result.output
    assert "第 3 号" not in result.output


@pytest.mark.parametrize("forgery", ["previous", "swapped-proof", "undeclared-smaller", "false-rewrite"])
def test_verify_rejects_other_forgeries(appended, tmp_path, forgery):
    root = copy_project(appended, tmp_path / "project")
    site = root / "site"

    def change(cps):
        two = cps[1]
        if forgery == "previous":  # checkpoint 2 names a previous checkpoint that was never published
            two["previous"] = {"size": 10, "root": hash_text(hashlib.sha256(b"x").digest())}
        elif forgery == "swapped-proof":
            assert len(two["consistency"]) >= 2
            two["consistency"][0], two["consistency"][1] = two["consistency"][1], two["consistency"][0]
        elif forgery == "undeclared-smaller":  # history shrank back to checkpoint 1's size, undeclared
            two["size"], two["consistency"] = 10, []
        else:  # declares a rewrite, but of a checkpoint that is not the one before
            two["rewrite"] = {"reason": "假的", "replaced": {"size": 3, "root": cps[0]["root"]}}

    _forge(site, change)
    result = verify_cli(root)
    assert result.exit_code == 1, result.output
    assert "✗ 第 2 号指纹（2026-07-15）" in result.output, result.output
    assert verify_site(reader(str(site))).broken.startswith("第 2 号指纹")


def test_verify_rejects_a_history_whose_earlier_checkpoints_were_removed(appended, tmp_path):
    """The site must keep every earlier checkpoint (issue 9, point 2). A checkpoints.json
    reduced to checkpoint 2, which still names checkpoint 1 as its previous, has lost that
    history: kit verify must not call it consistent."""
    root = copy_project(appended, tmp_path / "project")
    _forge(root / "site", lambda cps: cps.pop(0))
    assert [c["number"] for c in checkpoints(root / "site")] == [2]
    result = verify_cli(root)
    assert result.exit_code == 1, result.output
    assert "第 2 号指纹" in result.output, result.output


@pytest.mark.parametrize("how", ["changed", "dropped", "added"])
def test_verify_reports_tampered_leaves(appended, tmp_path, how):
    root = copy_project(appended, tmp_path / "project")
    path = root / "site" / "ledger" / "leaves.txt"
    lines = path.read_text(encoding="ascii").split()
    if how == "changed":
        lines[3] = lines[3][:-1] + ("0" if lines[3][-1] != "0" else "1")
    elif how == "dropped":
        del lines[7]
    else:
        lines.append(hash_text(hashlib.sha256(b"extra").digest()))
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    result = verify_cli(root)
    assert result.exit_code == 1, result.output
    assert "leaves.txt 里的叶子算不出最新的指纹" in result.output, result.output


def test_verify_over_http(appended, tmp_path):
    good = appended / "site"
    bad_root = copy_project(appended, tmp_path / "project")
    _rewritten_history(bad_root / "site")
    with serve(good, "127.0.0.1", 0) as url:
        result = verify_cli(appended, url)
        assert result.exit_code == 0, result.output
        assert "✓ 2 个账本指纹前后一致" in result.output
        verdict = verify_site(reader(url.rstrip("/")))
        assert verdict.broken is None and verdict.checkpoints == 2
    with serve(bad_root / "site", "127.0.0.1", 0) as url:
        result = verify_cli(appended, url)
        assert result.exit_code == 1, result.output
        assert "第 2 号指纹（2026-07-15）不是第 1 号指纹的延续" in result.output
    with serve(tmp_path, "127.0.0.1", 0) as url:  # a site without a fingerprint
        result = verify_cli(appended, url)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "没有账本指纹" in result.output


# --------------------------------------------------------------------------- unchanged rebuilds


def test_rebuilding_unchanged_data_adds_no_checkpoint(project, tmp_path):
    ledger = project / "site" / "ledger"
    before = {p.name: p.read_bytes() for p in ledger.iterdir()}
    rows = private_rows(project)
    built(project)
    assert {p.name: p.read_bytes() for p in ledger.iterdir()} == before
    assert [c["number"] for c in checkpoints(project / "site")] == [1]
    assert private_rows(project) == rows
    # a later statistics date with no new rows (points expire, nothing is edited) is no rewrite either
    built(project, D(2027, 9, 30))
    assert {p.name: p.read_bytes() for p in ledger.iterdir()} == before
    # another project built from the same workbook publishes the same bytes
    twin = make_project(tmp_path / "twin", workbook())
    built(twin)
    assert {p.name: p.read_bytes() for p in (twin / "site" / "ledger").iterdir()} == before


# --------------------------------------------------------------------------- inclusion proofs in Python


def _own_records(rid: str, entries=ENTRIES, redemptions=REDEMPTIONS, appeals=APPEALS) -> int:
    return (sum(1 for e in entries if e[3] == rid and e[6] == "通过")
            + sum(1 for r in redemptions if r[2] == rid)
            + sum(1 for a in appeals if a[2] == rid and a[5] != "受理中"))


def test_inclusion_proofs_verify_in_python(base, appended):
    expected_texts = {  # the newest three records of each resident, in tree order
        "RFP001": ["E|EFP08|2026-06-10||XL|1|10", "D|DFP1|2026-05-25|JFP1|1|15",
                   "A|AFP2|EFP03|corrected|10|2026-05-15"],
        "RFP002": ["E|EFP02|2026-03-06||TJ|1|20", "E|EFP06|2026-05-20|14:00:00|XL|1.5|15",
                   "D|DFP2|2026-06-05|JFP1|1|15"],
        "RFP003": ["E|EFP04|2026-04-12||XL|1|10"],
    }
    for root, extra in ((base, False), (appended, True)):
        site = root / "site"
        latest = checkpoints(site)[-1]
        leaves = published_leaves(site)
        salts = set()
        for rid, token in TOKENS.items():
            fp = personal(site, token)["fingerprint"]
            assert fp["checkpoint"] == {k: latest[k] for k in ("number", "date", "size", "root")}
            salt = base64.b64decode(fp["salt"])
            assert salt == resident_salt(SECRET, rid) and len(salt) == 32
            salts.add(salt)
            if extra:
                assert fp["records"] == _own_records(rid, ENTRIES + APPENDED, REDEMPTIONS + [APPENDED_REDEMPTION])
            else:
                assert fp["records"] == _own_records(rid)
                assert [leaf["text"] for leaf in fp["leaves"]] == expected_texts[rid]
            assert len(fp["leaves"]) == min(3, fp["records"])
            indexes = [leaf["index"] for leaf in fp["leaves"]]
            assert indexes == sorted(indexes)
            for leaf in fp["leaves"]:
                hashed = merkle.leaf_hash(salt + leaf["text"].encode("utf-8"))
                assert leaves[leaf["index"]] == hashed
                proof = [base64.b64decode(p) for p in leaf["proof"]]
                assert merkle.verify_inclusion(hashed, leaf["index"], latest["size"], proof,
                                               hash_bytes(latest["root"])), (rid, leaf)
        assert len(salts) == 3  # one salt per resident
    # after the append, RFP001's newest record is the new entry, proven against checkpoint 2
    fp = personal(appended / "site", TA)["fingerprint"]
    assert fp["leaves"][-1]["text"] == "E|EFP11|2026-07-05|10:00:00|ZY|1|5"
    assert fp["checkpoint"]["number"] == 2


def test_tampered_inclusion_proofs_fail_in_python(base):
    site = base / "site"
    latest = checkpoints(site)[-1]
    root, size = hash_bytes(latest["root"]), latest["size"]
    fp = personal(site, TA)["fingerprint"]
    salt = base64.b64decode(fp["salt"])
    other_salt = base64.b64decode(personal(site, TB)["fingerprint"]["salt"])
    checked = 0
    for leaf in fp["leaves"]:
        proof = [base64.b64decode(p) for p in leaf["proof"]]
        hashed = merkle.leaf_hash(salt + leaf["text"].encode())
        assert merkle.verify_inclusion(hashed, leaf["index"], size, proof, root)
        for i in range(len(proof)):  # flip a byte of one path element
            changed = proof[:i] + [bytes([proof[i][0] ^ 0x80]) + proof[i][1:]] + proof[i + 1:]
            assert not merkle.verify_inclusion(hashed, leaf["index"], size, changed, root)
            checked += 1
        for text in (leaf["text"].replace("|1", "|2"), leaf["text"] + " ", leaf["text"].replace("2026", "2025")):
            assert text != leaf["text"]
            assert not merkle.verify_inclusion(merkle.leaf_hash(salt + text.encode()), leaf["index"], size, proof, root)
        assert not merkle.verify_inclusion(merkle.leaf_hash(other_salt + leaf["text"].encode()),
                                           leaf["index"], size, proof, root)
        assert not merkle.verify_inclusion(hashed, leaf["index"], size, proof[:-1], root)
        assert not merkle.verify_inclusion(hashed, (leaf["index"] + 1) % size, size, proof, root)
    assert checked >= 3 * 3


# --------------------------------------------------------------------------- inclusion proofs in the browser

CHROMIUM = Path("/usr/bin/chromium")
LOCAL_HOST = "kit.test"  # mapped to 127.0.0.1 inside chromium only: not a secure context (no crypto.subtle)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--disable-sync", f"--host-resolver-rules=MAP {LOCAL_HOST} 127.0.0.1"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
RESULT = "#kit-me .kit-me-fingerprint.kit-me-ok, #kit-me .kit-me-fingerprint.kit-me-bad"


@contextlib.contextmanager
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def fingerprint_line(page) -> tuple[str, str]:
    """(ok|bad, text) once the page has checked the fingerprint."""
    page.wait_for_selector(RESULT, timeout=15_000)
    line = page.locator("#kit-me .kit-me-fingerprint")
    assert line.count() == 1
    classes = line.get_attribute("class").split()
    return ("ok" if "kit-me-ok" in classes else "bad"), line.inner_text()


def _reseal_with_flipped_proof(site: Path, token: str) -> None:
    path = site / "me" / "d" / f"{file_id(token)}.bin"
    data = json.loads(unseal(token, path.read_bytes()).decode("utf-8"))
    element = bytearray(base64.b64decode(data["fingerprint"]["leaves"][0]["proof"][0]))
    element[0] ^= 0x01
    data["fingerprint"]["leaves"][0]["proof"][0] = base64.b64encode(bytes(element)).decode()
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 512)
    path.write_bytes(seal(token, raw))


@needs_chromium
def test_inclusion_proofs_verify_in_the_browser_and_tampering_fails(appended, tmp_path):
    root = copy_project(appended, tmp_path / "project")
    site = root / "site"
    checkpoints_file = site / "ledger" / "checkpoints.json"
    pristine = checkpoints_file.read_bytes()
    records = {rid: personal(site, token)["fingerprint"]["records"] for rid, token in TOKENS.items()}
    with serve(site, "127.0.0.1", 0) as url, browser() as chromium:
        lan = url.replace("127.0.0.1", LOCAL_HOST)
        context = chromium.new_context()
        errors: list[str] = []

        def open_card(address: str):
            page = context.new_page()  # a fresh document for every card
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(address, wait_until="networkidle")
            return page

        for rid, token in TOKENS.items():
            page = open_card(f"{lan}me/#{token}")
            assert page.evaluate("window.isSecureContext") is False
            state, text = fingerprint_line(page)
            assert state == "ok", (rid, text)
            assert "2026-07-15 的第 2 号账本指纹" in text, text
            assert f"最近的 {min(3, records[rid])} 条记录（共 {records[rid]} 条）" in text, text
            assert page.locator("#kit-me .kit-me-ok").is_visible()
            page.close()

        # the published root is changed on the server: the same card now fails the check
        page = open_card(f"{lan}me/#{TA}")
        assert fingerprint_line(page)[0] == "ok"
        data = json.loads(pristine)
        latest = data["checkpoints"][-1]
        latest["root"] = ("0" if latest["root"][0] != "0" else "1") + latest["root"][1:]
        checkpoints_file.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        page.close()  # (a reload would not do: the page took the card number out of its address)
        page = open_card(f"{lan}me/#{TA}")
        state, text = fingerprint_line(page)
        assert state == "bad", text
        assert "核对没有通过" in text
        assert page.locator("#kit-me .kit-me-bad").is_visible()
        assert page.locator("#kit-me .kit-me-ok").count() == 0
        page.close()

        # restored, it passes again; then one proof inside the sealed file is tampered with
        checkpoints_file.write_bytes(pristine)
        page = open_card(f"{lan}me/#{TA}")
        assert fingerprint_line(page)[0] == "ok"
        _reseal_with_flipped_proof(site, TA)
        page.close()
        page = open_card(f"{lan}me/#{TA}")
        assert page.locator("#kit-me .kit-me-hello").count() == 1  # the file still opens with the card
        state, text = fingerprint_line(page)
        assert state == "bad", text
        page.close()
        # the secure context (crypto.subtle present) checks the same way
        page = open_card(f"{url}me/#{TB}")
        assert page.evaluate("window.isSecureContext") is True
        assert fingerprint_line(page)[0] == "ok"
        assert not errors, errors
        context.close()


# --------------------------------------------------------------------------- the leaves give nothing away


def _guessable_texts() -> Iterator[tuple[str, str]]:
    """(resident id, record text) for every resident id × date × time × rule × quantity (× record
    id) combination of the workbook, in the kit's own record format and in simpler ones."""
    entries = ENTRIES + APPENDED
    redemptions = REDEMPTIONS + [APPENDED_REDEMPTION]
    rids = [r[0] for r in RESIDENTS]
    dates = sorted({e[1] for e in entries} | {r[1] for r in redemptions} | {a[1] for a in APPEALS}
                   | {a[7] for a in APPEALS if a[7]})
    clock = [e[2] for e in entries if e[2]]
    times = [""] + sorted({t.isoformat() for t in clock})
    rules = sorted({"XL", "TJ", "ZY"})
    quantities = sorted({str(e[5]) for e in entries})  # 1, 1.5, 2, 3
    ids = [e[0] for e in entries] + [r[0] for r in redemptions] + [a[0] for a in APPEALS]
    awarded = ["", "|5", "|10", "|15", "|20"]  # what the records were awarded (v3 leaves carry it)
    for rid in rids:
        for day, time, rule, qty in itertools.product(dates, times, rules, quantities):
            fields = (day.isoformat(), time, rule, qty)
            for eid in ids:
                for p in awarded:
                    yield rid, "|".join(("E", eid) + fields) + p
            for text in ("|".join(("E", rid) + fields), "|".join((rid,) + fields), "|".join(("E",) + fields)):
                yield rid, text
        for rid_, _day, _r, reward, qty in redemptions:
            for day in dates:
                for cost in ("", "|15", "|30"):
                    yield rid, f"D|{rid_}|{day.isoformat()}|{reward}|{qty}{cost}"
                    yield rid, f"D|{rid}|{day.isoformat()}|{reward}|{qty}{cost}"
        for aid, _d, _r, eid, _reason, _s, points, resolved in APPEALS:
            for status, day in itertools.product(("corrected", "upheld", "open", "更正", "维持"), dates):
                yield rid, f"A|{aid}|{eid}|{status}|{'' if points is None else points}|{day.isoformat()}"


def _unsalted(rid: str, text: str) -> Iterator[bytes]:
    """Leaf hashes of text computed without the secret: bare, with the resident id, or salted
    with the id or hashes of it."""
    data, raw = text.encode(), rid.encode()
    yield merkle.leaf_hash(data)
    yield hashlib.sha256(data).digest()
    yield merkle.leaf_hash(data + b"|" + raw)
    for salt in (b"", raw, raw + b"|", hashlib.sha256(raw).digest(), hashlib.sha256(raw).hexdigest().encode(),
                 hashlib.md5(raw).digest(), resident_salt("", rid), hmac.new(raw, b"", hashlib.sha256).digest()):
        yield merkle.leaf_hash(salt + data)


def test_published_leaves_cannot_be_brute_forced(appended):
    published = set(published_leaves(appended / "site"))
    assert len(published) == 15
    tried, found = 0, []
    for rid, text in _guessable_texts():
        for candidate in _unsalted(rid, text):
            tried += 1
            if candidate in published:
                found.append((rid, text))
    assert tried > 500_000
    assert not found, found
    # the same guesses with the secret salt find every published leaf: the guesses covered the
    # records in the kit's format, only the salt was missing
    with_secret = {merkle.leaf_hash(resident_salt(SECRET, rid) + text.encode()) for rid, text in _guessable_texts()}
    assert published <= with_secret


def test_published_ledger_files_name_nobody(appended):
    site = appended / "site"
    files = {
        "leaves.txt": (site / "ledger" / "leaves.txt").read_text(encoding="utf-8"),
        "checkpoints.json": (site / "ledger" / "checkpoints.json").read_text(encoding="utf-8"),
        "账本指纹": (site / "fingerprint" / "index.html").read_text(encoding="utf-8"),
    }
    secrets = {SECRET: "化名密钥", **{t: "card token" for t in TOKENS.values()}}
    for rid, name, _g, _b, phone, *_ in RESIDENTS:
        secrets[rid] = "resident id"
        secrets[name] = "name"
        if phone:
            secrets[phone] = "phone"
    for record in ENTRIES + APPENDED + REDEMPTIONS + [APPENDED_REDEMPTION] + APPEALS:
        secrets[record[0]] = "record id"
    for appeal in APPEALS:
        secrets[appeal[4]] = "appeal reason"
    for name in STAFF_NAMES:
        secrets[name] = "staff name"
    leaks = [f"{what} {value!r} in {where}" for where, text in files.items()
             for value, what in secrets.items() if value in text or value.lower() in text.lower()]
    assert not leaks, leaks
    # leaves.txt is hashes and nothing else, written without digits: no stretch of a hash
    # can look like a phone or id number to anyone scanning the site
    assert all(re.fullmatch(r"[a-p]{64}", line) for line in files["leaves.txt"].splitlines())
    roots = re.findall(r'"root": "([^"]*)"', files["checkpoints.json"])
    assert roots and all(re.fullmatch(r"[a-p]{64}", root) for root in roots)


# --------------------------------------------------------------------------- card reissue


def _token_in_workbook(project: Path, rid: str) -> str | None:
    wb = openpyxl.load_workbook(project / DEFAULT_WORKBOOK, read_only=True)
    rows = list(wb["居民"].iter_rows(values_only=True))
    column = rows[0].index("卡号")
    return next(row[column] for row in rows[1:] if row[0] == rid)


def _retired_in_workbook(project: Path, rid: str) -> str | None:
    wb = openpyxl.load_workbook(project / DEFAULT_WORKBOOK, read_only=True)
    rows = list(wb["居民"].iter_rows(values_only=True))
    column = rows[0].index("旧卡号")
    return next(row[column] for row in rows[1:] if row[0] == rid)


def test_a_card_number_changed_by_hand_after_a_reissue_is_refused_with_the_way_out(project, tmp_path):
    """After a reissue the salt follows the card: a number then changed by hand (not through
    kit cards --reissue, so 旧卡号 lacks the previous one) would orphan the records published
    under it. The build refuses (never silently), names the resident and says what to fill in."""
    root = copy_project(project, tmp_path / "by-hand")
    assert run_kit(root, "cards", "--reissue", "RFP001").exit_code == 0
    reissued = _token_in_workbook(root, "RFP001")
    sheets = workbook(entries=ENTRIES + APPENDED, tokens=TOKENS | {"RFP001": reissued}, retired={"RFP001": TA})
    write(root, sheets)
    assert build(root, LATER).exit_code == 0  # new records under the reissued card's salt
    before = tree_hashes(root / "site")
    write(root, workbook(entries=ENTRIES + APPENDED, tokens=TOKENS | {"RFP001": TC_NEW}, retired={"RFP001": TA}))
    result = build(root, LATER)
    assert result.exit_code == 1
    assert "history-rewritten" in result.output and "RFP001" in result.output and "旧卡号" in result.output
    assert tree_hashes(root / "site") == before
    write(root, workbook(entries=ENTRIES + APPENDED, tokens=TOKENS | {"RFP001": TC_NEW},
                         retired={"RFP001": f"{TA} {reissued}"}))
    assert build(root, LATER).exit_code == 0


def test_a_reissued_card_gives_new_records_a_new_salt(project):
    """Whoever finds a lost card can open its sealed file and so knows its salt: after the
    reissue, the resident's later records are salted anew, and the old card's salt
    recognises none of them among the public leaves; the old records keep their salt
    (found again through 旧卡号) and stay verifiable."""
    site = project / "site"
    old = personal(site, TA)["fingerprint"]
    old_salt = base64.b64decode(old["salt"])
    result = run_kit(project, "cards", "--reissue", "RFP001")
    assert result.exit_code == 0, result.output
    new_token = _token_in_workbook(project, "RFP001")
    assert new_token and new_token != TA
    assert _retired_in_workbook(project, "RFP001") == TA  # 旧卡号 keeps the lost card's number
    before = {p.name: p.read_bytes() for p in (site / "ledger").iterdir()}
    built(project)  # still an extension: every published leaf is found under its earlier salt
    assert {p.name: p.read_bytes() for p in (site / "ledger").iterdir()} == before
    assert not (site / "me" / "d" / f"{file_id(TA)}.bin").exists()
    new = personal(site, new_token)["fingerprint"]
    assert base64.b64decode(new["salt"]) != old_salt
    assert [(leaf["index"], leaf["text"], leaf["salt"]) for leaf in new["leaves"]] == [
        (leaf["index"], leaf["text"], old["salt"]) for leaf in old["leaves"]]  # old records: old salt
    # the next build with new rows: RFP001's new records are salted with the new card's salt
    sheets = workbook(entries=ENTRIES + APPENDED, redemptions=REDEMPTIONS + [APPENDED_REDEMPTION],
                      tokens=TOKENS | {"RFP001": new_token}, retired={"RFP001": TA})
    write(project, sheets)
    built(project, LATER)
    assert [c["number"] for c in checkpoints(site)] == [1, 2]
    fp = personal(site, new_token)["fingerprint"]
    new_salt = base64.b64decode(fp["salt"])
    assert new_salt == salt_v2(SECRET, "RFP001", new_token)
    published = set((site / "ledger" / "leaves.txt").read_text().split())
    latest = checkpoints(site)[-1]
    fresh = [leaf for leaf in fp["leaves"] if leaf["salt"] == fp["salt"]]
    assert fresh, "RFP001 has records published after the reissue"
    for leaf in fp["leaves"]:
        salt = base64.b64decode(leaf["salt"])
        assert merkle.verify_inclusion(merkle.leaf_hash(salt + leaf["text"].encode()), leaf["index"], latest["size"],
                                       [base64.b64decode(p) for p in leaf["proof"]], hash_bytes(latest["root"]))
    for leaf in fresh:  # the lost card's salt finds none of the new records
        assert hash_text(merkle.leaf_hash(old_salt + leaf["text"].encode())) not in published
        assert hash_text(merkle.leaf_hash(new_salt + leaf["text"].encode())) in published
    assert verify_cli(project).exit_code == 0
