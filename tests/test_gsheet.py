"""A Google Sheet as the shared workbook, offline.

Google's side is tests/fake_gspread.py: the kit's own code runs unchanged, only
Google's client is replaced (kit.sources.gsheet.connect), and the service-account
key files are real ones parsed by the real google-auth. A few tests run the REAL
gspread client: once with no fake at all (this machine has no route to Google),
and against the same fake books served over HTTP (requests' transport replaced),
so what the kit asks of gspread is checked against gspread itself.

No test really sleeps: retries get a sleep that records the waits.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import gspread
import openpyxl
import pytest
import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import kit.cli as kit_cli
from kit.write_back import WorkbookChanged
from kit.cli import cli
from kit.errors import MissingSheet
from kit.pipeline import validate
from kit.project import load_project, skeleton_dir
from kit.sources import CellError
from kit.sources import gsheet
from kit.sources.gsheet import REQUEST_TIMEOUT, GSheetSource, SheetSpec, SheetUnavailable, spreadsheet_key
from kit.sources.xlsx import XlsxSource
from tests.conftest import AS_OF, BASE, OPTIONAL, make_project, write_xlsx
from tests.fake_gspread import FakeGoogle, GoogleWire, api_error, from_sheets, offline, offline_token

KEY = "1Bxi9MVsn7Q2qLf0Zr4TkW8yHgPcD3aEuNoJ5vSbXm6_-Ab"
URL = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0"
TITLE = "幸福社区积分台账"
EMAIL = "points-kit@happy-community.iam.gserviceaccount.com"
AS_OF_ARG = ("--as-of", AS_OF.isoformat())
SITE_URL = "https://jf.example.cn/"
TOKEN = re.compile(r"[A-Z2-7]{26}")
SNAPSHOT = re.compile(r"\d{4}-\d{2}-\d{2}_\d{6}\.xlsx")

BUSY = "太忙"
OFFLINE = "连不上 Google"
NOT_SHARED = "没有共享给服务账号"
NOT_FOUND = f"找不到编号为“{KEY}”的 Google 表格"
NO_KEY_FILE = "找不到服务账号密钥文件"
NOT_A_KEY = "不是服务账号的 JSON 密钥文件"
UNUSABLE_KEY = "无法使用"

# --- workbooks: the same Python values go to xlsx and to the fake Google Sheet ------------



def with_optional() -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(BASE)
    sheets.update(copy.deepcopy(OPTIONAL))
    return sheets


def messy() -> dict[str, list[list[object]]]:
    """What staff really type: yes/no in many ways, full-width digits, numbers as text,
    stray spaces, a date with a time, a formula error, a blank row, a note past the headers."""
    sheets = with_optional()
    sheets["设置"][2][1] = "12"  # 积分有效期(月) typed as text
    sheets["居民"] += [
        ["R3", " 王五 ", "G1", "１９６０", "138 0000 0003", "Y", None, "在册"],
        ["R4", "赵六", "G2", 1975.0, "13800000004", True, None, "在册"],
        [" R5", "钱七", "G1", "1980", None, "否 ", None, "迁出"],
        ["R6", "孙八", "G2", 1985, "12345", "也许", None, "在册"],  # bad phone, bad yes/no
    ]
    sheets["积分规则"][1][6] = False  # 双人审核 as a real boolean
    sheets["积分记录"] += [
        ["E3", dt.datetime(2026, 3, 7, 9, 15), "20:30", "R3", "XL", "2", None, "S1", "S2", None, "通过"],
        ["E4", dt.date(2026, 3, 8), dt.time(8, 0), "R4", "XL", "#DIV/0!", None, "S1", "S2", None, "通过"],
        [None] * 11,  # a blank row inside the data
        ["E5", "2026/3/9", None, " R1 ", "XL", "２", "  ", "S1", "S2", None, "通过 "],
        ["E6", dt.date(2026, 3, 10), dt.time(7, 5, 30), "R2", "TJ", 1, None, "S1", "S2", "S3", "通过",
         None, "表外的备注"],  # a note two columns past the last header
        ["E7", "2026-02-30", "25:00", "R9", "XL", "两", None, "S1", "S2", None, "通过"],
    ]
    return sheets


def decimals() -> dict[str, list[list[object]]]:
    """Numbers with a decimal point: 1.5 hours of patrol, a ×1.5 bonus, a 12.5 yuan reward."""
    sheets = with_optional()
    sheets["积分记录"][1][5] = 1.5
    sheets["加分规则"][1][7] = 1.5
    sheets["奖品"][0].append("价值(元)")
    sheets["奖品"][1].append(12.5)
    return sheets


def problems_only() -> dict[str, list[list[object]]]:
    """Several problems, all of them plain text or numbers (no formula errors)."""
    sheets = copy.deepcopy(BASE)
    sheets["居民"].append(["R3", "王五", "G9", "五六年", "12345", "是", None, "在册"])
    sheets["积分记录"] += [
        ["E3", "2026-02-30", None, "R1", "XL", 1, None, "S1", "S2", None, "通过"],
        ["E4", dt.date(2026, 3, 9), "25:00", "R9", "XL", "两", None, "S1", "S2", None, "通过"],
        ["E5", dt.date(2026, 3, 9), None, "R2", "ZZ", 1, None, "S9", "S2", None, "通过"],
    ]
    return sheets


WORKBOOKS = {
    "base": lambda: copy.deepcopy(BASE),
    "optional sheets": with_optional,
    "messy typing": messy,
    "problems": problems_only,
}


# --- keys, projects, the CLI ---------------------------------------------------------------


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_info(email: str = EMAIL) -> dict:
    pem = rsa_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()
    return {
        "type": "service_account",
        "project_id": "happy-community",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": email,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
        "universe_domain": "googleapis.com",
    }


@pytest.fixture
def creds(tmp_path) -> Path:
    """A valid service-account key file, outside any project folder."""
    path = tmp_path / "kit-secrets" / "service-account.json"
    path.parent.mkdir()
    path.write_text(json.dumps(service_account_info()), encoding="utf-8")
    return path


@pytest.fixture
def fake() -> FakeGoogle:
    return FakeGoogle()


class Waits(list):
    """A sleep that records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits(monkeypatch) -> Waits:
    """Every GSheetSource the kit makes sleeps into this list instead of really sleeping."""
    recorded = Waits()
    monkeypatch.setattr(gsheet, "GSheetSource", functools.partial(GSheetSource, sleep=recorded))
    return recorded


@pytest.fixture
def google(monkeypatch, fake, waits) -> FakeGoogle:
    """The kit talks to the fake Google (only Google's client is replaced)."""
    monkeypatch.setattr(gsheet, "connect", fake.service_account)
    return fake


def source(fake: FakeGoogle, creds: Path, key: str = KEY, **options) -> GSheetSource:
    options.setdefault("sleep", Waits())
    return GSheetSource(SheetSpec(key, creds), connect=fake.service_account, **options)


def google_project(root: Path, credentials: Path, sheet: str = URL) -> Path:
    """A project whose kit.toml names a Google Sheet (no local workbook at all)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "kit.toml").write_text(
        "[workbook]\n"
        f"google_sheet = {json.dumps(sheet)}\n"
        f"credentials = {json.dumps(str(credentials))}\n\n"
        "[output]\nsite = \"site\"\nprivate = \"private\"\n",
        encoding="utf-8")
    if not (root / "docs").exists():
        shutil.copytree(skeleton_dir() / "docs", root / "docs")
    shutil.copyfile(skeleton_dir() / "mkdocs.yml", root / "mkdocs.yml")
    assert not (root / "sheets").exists()
    return root


def kit(project: Path, *args: object):
    here = os.getcwd()
    os.chdir(project)
    try:
        return CliRunner().invoke(cli, [str(a) for a in args], env={"KIT_DEBUG": None, "COLUMNS": "300"})
    finally:
        os.chdir(here)


def refused(result, code: str = "google-sheet-unavailable") -> str:
    """Exit 2 with one Chinese message and nothing else; returns the message."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "Error" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("提醒：")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"无法继续（{code}）："), lines[0]
    assert result.stdout == ""
    return lines[0]


def blank_as_empty(rows: list[list[object]]) -> list[list[object]]:
    """A cell holding only spaces: Google keeps it, the xlsx path reads '' (both mean empty)."""
    return [["" if isinstance(v, str) and not v.strip() else v for v in row] for row in rows]


def summary(validated) -> list[tuple]:
    return [(p.sheet, p.row, p.column, p.code, p.severity, p.message) for p in validated.problems]


def not_sleeping(seconds: float) -> None:
    raise AssertionError(f"slept {seconds}s where nothing should have been retried")


# --- the fake behaves like gspread ----------------------------------------------------------


def test_fake_answers_like_google_values_api(fake, creds):
    fake.add(KEY, TITLE, {"居民": [["编号", "日期", "时间", "时刻", "数", "是否", None],
                                   ["R1", dt.date(2026, 3, 5), dt.time(20, 30), dt.datetime(2026, 3, 5, 20, 30),
                                    2.0, True, None, None],
                                   [None, None],
                                   ["R2", None, None, None, 1.5]],
                           "空": []})
    client = fake.service_account(creds)
    book = client.open_by_key(KEY)
    assert book.title == TITLE and [ws.title for ws in book.worksheets()] == ["居民", "空"]
    raw = book.values_batch_get(["'居民'", "'空'"], params={"valueRenderOption": "UNFORMATTED_VALUE",
                                                            "dateTimeRenderOption": "SERIAL_NUMBER"})
    shown = book.values_batch_get(["'居民'", "'空'"], params={"valueRenderOption": "FORMATTED_VALUE"})
    assert raw == {"spreadsheetId": KEY, "valueRanges": [
        {"range": "'居民'!A1:F4", "majorDimension": "ROWS", "values": [
            ["编号", "日期", "时间", "时刻", "数", "是否"],
            ["R1", 46086, 0.8541666666666666, 46086.854166666664, 2, True],
            [],
            ["R2", "", "", "", 1.5]]},
        {"range": "'空'!A1:A1", "majorDimension": "ROWS"}]}
    assert shown["valueRanges"][0]["values"][1] == ["R1", "2026-03-05", "20:30", "2026-03-05 20:30:00", "2", "TRUE"]
    assert shown["valueRanges"][0]["values"][3] == ["R2", "", "", "", "1.5"]
    # the serial numbers are Excel's (1899-12-30 is day 0)
    assert dt.date(1899, 12, 30) + dt.timedelta(days=46086) == dt.date(2026, 3, 5)
    assert fake.calls == {"open_by_key": 1, "worksheets": 1, "values_batch_get": 2}

    with pytest.raises(gspread.exceptions.APIError) as bad:
        book.values_batch_get(["'居民'"], params={"valueRenderOption": "RAW_VALUE"})
    assert bad.value.response.status_code == 400
    with pytest.raises(gspread.exceptions.APIError) as missing:
        book.values_batch_get(["'没有这张表'"])
    assert missing.value.code == 400 and "Unable to parse range" in str(missing.value)


def test_fake_writes_raw_as_text_and_refuses_other_input_options(fake, creds):
    fake.add(KEY, TITLE, {"居民": [["姓名"], ["张三"]]})
    book = fake.service_account(creds).open_by_key(KEY)
    book.values_batch_update({"valueInputOption": "RAW", "data": [
        {"range": "'居民'!B1", "values": [["=HYPERLINK(\"http://x\")"]]},
        {"range": "'居民'!B2", "values": [["+86 138"]]},
        {"range": "'居民'!C2", "values": [["2026-03-05"]]}]})
    assert fake.cell(KEY, "居民", 1, 2).value == "=HYPERLINK(\"http://x\")"
    assert fake.cell(KEY, "居民", 1, 2).formula is None
    assert fake.cell(KEY, "居民", 2, 2).value == "+86 138"
    assert fake.cell(KEY, "居民", 2, 3).value == "2026-03-05"  # RAW: a string, not a date
    book.values_batch_update({"valueInputOption": "USER_ENTERED", "data": [
        {"range": "'居民'!D1", "values": [["=1+1"]]}, {"range": "'居民'!D2", "values": [["2026-03-05"]]}]})
    assert fake.cell(KEY, "居民", 1, 4).formula == "=1+1"  # what RAW exists to prevent
    assert fake.cell(KEY, "居民", 2, 4).value == 46086
    for body in ({"valueInputOption": "INPUT_VALUE_OPTION_UNSPECIFIED", "data": []}, {"data": []}):
        with pytest.raises(gspread.exceptions.APIError) as refused_body:
            book.values_batch_update(body)
        assert refused_body.value.response.status_code == 400
    with pytest.raises(gspread.exceptions.APIError) as beyond:
        book.values_batch_update({"valueInputOption": "RAW", "data": [{"range": "'居民'!AA1", "values": [["x"]]}]})
    assert "exceeds grid limits" in beyond.value.error["message"]
    assert len(fake.updates) == 2


def test_fake_raises_what_gspread_raises(fake, creds, tmp_path):
    from google.auth.exceptions import GoogleAuthError

    fake.add(KEY, TITLE, {"居民": [["姓名"]]}, shared={"someone-else@x.iam.gserviceaccount.com": "writer"})
    client = fake.service_account(creds)
    with pytest.raises(PermissionError):
        client.open_by_key(KEY)
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        client.open_by_key("no-such-key")
    error = api_error(429)
    assert error.code == 429 and error.response.status_code == 429
    assert error.error["status"] == "RESOURCE_EXHAUSTED" and "Quota exceeded" in str(error)
    assert isinstance(offline(), requests.exceptions.ConnectionError)
    assert isinstance(offline_token(), GoogleAuthError)
    # the key file is read by the real google-auth, as gspread.service_account does
    with pytest.raises(FileNotFoundError):
        fake.service_account(tmp_path / "nowhere.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(service_account_info() | {"private_key": "-----BEGIN PRIVATE KEY-----\nabc\n"}))
    with pytest.raises(ValueError):
        fake.service_account(broken)
    with pytest.raises(ValueError):
        gspread.service_account(filename=str(broken))  # the real one agrees


# --- the same workbook through xlsx and through the Google Sheet ------------------------------


@pytest.mark.parametrize("name", list(WORKBOOKS))
def test_same_workbook_same_problems_balances_and_book(name, fake, creds, tmp_path):
    sheets = WORKBOOKS[name]()
    local = XlsxSource(write_xlsx(tmp_path / "ledger.xlsx", sheets))
    fake.add(KEY, TITLE, sheets)
    remote = source(fake, creds, sleep=not_sleeping)

    expected, got = validate(local, AS_OF), validate(remote, AS_OF)
    assert summary(got) == summary(expected)
    assert got.ledger.accounts == expected.ledger.accounts
    assert got.book == expected.book
    assert remote.sheet_names() == local.sheet_names()
    for sheet in local.sheet_names():
        assert blank_as_empty(remote.read(sheet).rows) == blank_as_empty(local.read(sheet).rows), sheet
    if name in ("messy typing", "problems"):
        assert len(expected.errors) >= 4  # the comparison is about real problems, not two empty lists
    assert any(a.balance for a in expected.ledger.accounts.values())


def test_messy_typing_reads_as_the_same_values(fake, creds, tmp_path):
    sheets = messy()
    fake.add(KEY, TITLE, sheets)
    rows = source(fake, creds).read("积分记录").rows
    assert rows[3][1] == dt.datetime(2026, 3, 7, 9, 15) and rows[3][2] == "20:30" and rows[3][5] == "2"
    assert rows[4][5] == CellError("#DIV/0!") and rows[4][2] == dt.time(8, 0)
    assert rows[5] == [""] * 13  # the blank row, as wide as the widest row
    assert rows[7][2] == dt.time(7, 5, 30) and rows[7][12] == "表外的备注"
    found = {(p.row, p.column, p.code) for p in validate(source(fake, creds), AS_OF).problems if p.sheet == "entries"}
    assert (5, "quantity", "formula-error") in found
    assert (9, "date", "bad-date") in found


@pytest.mark.parametrize("date_shown, time_shown", [
    ("2026/3/5", "20:30:00"), ("2026年3月5日", "下午8:30:00"), ("3/5/2026", "8:30:00 PM"), ("05.03.2026", "20:30")])
def test_dates_and_times_in_other_display_formats(date_shown, time_shown, fake, creds, tmp_path):
    """The sheet's locale or a custom format changes only the text shown, not the serial number."""
    fake.add(KEY, TITLE, BASE)
    entry = fake.books[KEY].sheet("积分记录").rows[1]
    entry[1].shown, entry[2].shown = date_shown, time_shown
    got = validate(source(fake, creds), AS_OF)
    expected = validate(XlsxSource(write_xlsx(tmp_path / "ledger.xlsx", BASE)), AS_OF)
    assert got.book == expected.book and summary(got) == summary(expected) == []
    assert (got.book.entries[0].date, got.book.entries[0].time) == (dt.date(2026, 3, 5), dt.time(20, 30))


def test_decimal_numbers_are_numbers_not_dates(fake, creds, tmp_path):
    """1.5 is shown "1.5" by Google: a number, not the date 1.5 days after 1899-12-30."""
    sheets = decimals()
    fake.add(KEY, TITLE, sheets)
    remote = source(fake, creds)
    assert remote.read("积分记录").rows[1][5] == 1.5
    assert remote.read("加分规则").rows[1][7] == 1.5
    assert remote.read("奖品").rows[1][6] == 12.5
    local = XlsxSource(write_xlsx(tmp_path / "ledger.xlsx", sheets))
    assert summary(validate(remote, AS_OF)) == summary(validate(local, AS_OF))
    assert validate(remote, AS_OF).ledger.accounts == validate(local, AS_OF).ledger.accounts


# --- batching --------------------------------------------------------------------------------


@pytest.mark.parametrize("sheets", [BASE, with_optional()], ids=["6 worksheets", "10 worksheets"])
def test_full_read_is_two_batched_requests(sheets, fake, creds):
    fake.add(KEY, TITLE, sheets)
    remote = source(fake, creds)
    validate(remote, AS_OF)
    for name in remote.sheet_names():
        remote.read(name)  # already read: no more requests
    assert fake.calls == {"open_by_key": 1, "worksheets": 1, "values_batch_get": 2}
    gets = [detail for method, detail in fake.requests if method == "values_batch_get"]
    assert [ranges for ranges, _ in gets] == [[f"'{n}'" for n in sheets]] * 2
    assert [params for _, params in gets] == [
        {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"},
        {"valueRenderOption": "FORMATTED_VALUE"}]


def test_worksheet_title_with_quote_is_quoted_in_ranges(fake, creds):
    sheets = copy.deepcopy(BASE)
    sheets["Tom's 备注"] = [["x"], ["y"]]
    fake.add(KEY, TITLE, sheets)
    remote = source(fake, creds)
    assert remote.read("Tom's 备注").rows == [["x"], ["y"]]
    assert "'Tom''s 备注'" in fake.requests[2][1][0]


# --- retries with backoff -------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503, 500])
def test_transient_errors_are_retried_with_doubling_waits(status, fake, creds):
    fake.add(KEY, TITLE, BASE)
    fake.fail(status, status, on="values_batch_get")
    waits = Waits()
    remote = source(fake, creds, sleep=waits)
    assert remote.read("居民").rows[1][:2] == ["R1", "张三"]
    assert waits == [1, 2]
    assert fake.calls["values_batch_get"] == 4  # two refused, then the two reads


def test_configured_first_wait_doubles(fake, creds):
    fake.add(KEY, TITLE, BASE)
    fake.fail(503, 429, 503, on="values_batch_get")
    waits = Waits()
    validate(source(fake, creds, first_wait=0.25, sleep=waits), AS_OF)
    assert waits == [0.25, 0.5, 1.0]


@pytest.mark.parametrize("method", ["open_by_key", "worksheets"])
def test_opening_is_retried_too(method, fake, creds):
    fake.add(KEY, TITLE, BASE)
    fake.fail(429, on=method)
    waits = Waits()
    assert source(fake, creds, sleep=waits).label == f"Google 表格“{TITLE}”"
    assert waits == [1] and fake.calls[method] == 2


@pytest.mark.parametrize("total, expected", [(60, [1, 2, 4, 8, 16]), (10, [1, 2, 4]), (0.5, [])])
def test_persistent_rate_limit_stops_within_total_time(total, expected, fake, creds):
    fake.add(KEY, TITLE, BASE)
    fake.fail(*[429] * 50, on="values_batch_get")
    waits = Waits()
    remote = source(fake, creds, total_seconds=total, sleep=waits)
    with pytest.raises(SheetUnavailable) as stopped:
        remote.read("居民")
    assert BUSY in stopped.value.message
    assert waits == expected
    assert sum(waits) <= total < sum(waits) + 2 ** len(waits)  # the next wait would pass the limit
    assert fake.calls["values_batch_get"] == len(expected) + 1


@pytest.mark.parametrize("status, phrase", [(403, "没有权限"), (401, "没有权限"), (404, "找不到这个 Google 表格"),
                                            (400, "读取 Google 表格出错")])
def test_other_errors_are_not_retried(status, phrase, fake, creds):
    fake.add(KEY, TITLE, BASE)
    fake.fail(status, on="values_batch_get")
    remote = source(fake, creds, sleep=not_sleeping)
    with pytest.raises(SheetUnavailable) as stopped:
        remote.read("居民")
    assert phrase in stopped.value.message
    assert fake.calls["values_batch_get"] == 1


def test_permission_and_not_found_when_opening(fake, creds):
    fake.add(KEY, TITLE, BASE, shared={"another@x.iam.gserviceaccount.com": "reader"})
    with pytest.raises(SheetUnavailable) as not_shared:
        source(fake, creds, sleep=not_sleeping)
    assert NOT_SHARED in not_shared.value.message and "client_email" in not_shared.value.message
    with pytest.raises(SheetUnavailable) as unknown:
        source(fake, creds, key="1NoSuchSheet", sleep=not_sleeping)
    assert "找不到编号为“1NoSuchSheet”的 Google 表格" in unknown.value.message
    assert fake.calls["open_by_key"] == 2


@pytest.mark.parametrize("failure, on", [(offline(), "values_batch_get"), (offline(), "open_by_key"),
                                         (offline_token(), "open_by_key"),
                                         (requests.exceptions.ReadTimeout("read timed out"), "values_batch_get")])
def test_no_network_fails_at_once(failure, on, fake, creds):
    fake.add(KEY, TITLE, BASE)
    fake.fail(failure, on=on)
    with pytest.raises(SheetUnavailable) as stopped:
        validate(source(fake, creds, sleep=not_sleeping), AS_OF)
    assert OFFLINE in stopped.value.message and "kit pull" in stopped.value.message
    assert fake.calls[on] == 1


def test_write_is_retried_once_applied_once(fake, creds):
    fake.add(KEY, TITLE, BASE)
    waits = Waits()
    remote = source(fake, creds, sleep=waits)
    fake.fail(503, on="values_batch_update")
    remote.write_cells("居民", {(2, 7): "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
    assert waits == [1]
    assert fake.calls["values_batch_update"] == 2 and len(fake.updates) == 1
    assert fake.cell(KEY, "居民", 2, 7).value == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --- the CLI in a project whose kit.toml names a Google Sheet ----------------------------------


def test_cli_validate_and_balances_match_the_xlsx_project(google, creds, tmp_path):
    sheets = messy()
    local = make_project(tmp_path / "local", sheets)
    remote = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, sheets)

    for args in (("validate", "--format", "json"), ("balances", "--format", "json")):
        expected, got = kit(local, *args, *AS_OF_ARG), kit(remote, *args, *AS_OF_ARG)
        assert got.exit_code == expected.exit_code, got.output
        assert json.loads(got.stdout) == json.loads(expected.stdout)
        assert "Traceback" not in got.output
    problems = json.loads(kit(remote, "validate", "--format", "json", *AS_OF_ARG).stdout)
    assert {"sheet": "积分记录", "row": 5, "column": "数量", "code": "formula-error", "severity": "error",
            "message": "这一格的公式算出了错误“#DIV/0!”，请改正公式或直接填写数值。"} in problems
    balances = json.loads(kit(remote, "balances", "--format", "json", *AS_OF_ARG).stdout)
    assert {b["resident_id"]: b["balance"] for b in balances}["R1"] > 0

    text = kit(remote, "validate", *AS_OF_ARG)
    assert text.exit_code == 1 and "Google 表格：" in text.stdout and "F5" in text.stdout  # cells named as in the sheet
    assert google.calls["values_batch_update"] == 0


def test_cli_build_keeps_a_snapshot_and_builds_the_site(google, creds, tmp_path):
    sheets = with_optional()
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, sheets)
    result = kit(project, "build", *AS_OF_ARG)
    assert result.exit_code == 0, result.output
    snapshots = list((project / "snapshots").iterdir())
    assert len(snapshots) == 1 and SNAPSHOT.fullmatch(snapshots[0].name)
    assert f"已保存 Google 表格快照：{snapshots[0]}" in result.stderr.replace("\n", "")
    assert (project / "site" / "index.html").is_file()
    # the site was built from that snapshot, which holds what the sheet holds
    from_snapshot = validate(XlsxSource(snapshots[0]), AS_OF)
    from_sheet = validate(source(google, creds), AS_OF)
    assert summary(from_snapshot) == summary(from_sheet)
    assert from_snapshot.book == from_sheet.book
    assert from_snapshot.ledger.accounts == from_sheet.ledger.accounts
    assert google.calls["values_batch_update"] == 0


def test_cli_pull_default_and_output(google, creds, tmp_path):
    sheets = with_optional()
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, sheets)

    result = kit(project, "pull")
    assert result.exit_code == 0, result.output
    [default] = (project / "snapshots").iterdir()
    assert SNAPSHOT.fullmatch(default.name) and f"✓ 已保存快照：{default}" in result.stdout

    result = kit(project, "pull", "-o", "copies/today.xlsx")
    assert result.exit_code == 0, result.output
    chosen = project / "copies" / "today.xlsx"
    assert chosen.is_file() and len(list((project / "snapshots").iterdir())) == 1

    for snapshot in (default, chosen):
        wb = openpyxl.load_workbook(snapshot)
        assert wb.sheetnames == list(sheets)
        assert wb["积分记录"]["B2"].value == dt.datetime(2026, 3, 5) and wb["积分记录"]["B2"].number_format == "yyyy-mm-dd"
        assert wb["积分记录"]["C2"].value == dt.time(20, 30)
        assert wb["居民"]["E2"].value == "13800000001" and wb["居民"]["E2"].data_type == "s"
        assert summary(validate(XlsxSource(snapshot), AS_OF)) == summary(validate(source(google, creds), AS_OF))


def test_pull_needs_a_google_sheet(tmp_path):
    project = make_project(tmp_path / "local", BASE)
    message = refused(kit(project, "pull"), "project-error")
    assert "google_sheet" in message


def test_snapshot_keeps_formula_errors_as_the_sheet_shows_them(google, creds, tmp_path):
    """The build validates the snapshot: a #DIV/0! cell must be the same problem there."""
    sheets = messy()
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, sheets)
    assert kit(project, "pull", "-o", "snap.xlsx").exit_code == 0
    assert openpyxl.load_workbook(project / "snap.xlsx")["积分记录"]["F5"].value == "#DIV/0!"
    assert summary(validate(XlsxSource(project / "snap.xlsx"), AS_OF)) == summary(validate(source(google, creds), AS_OF))


def test_two_snapshots_in_the_same_second_do_not_overwrite_each_other(google, creds, tmp_path, monkeypatch):
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, BASE)

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 7, 1, 9, 30, 0)

    clock = types.SimpleNamespace(**{name: getattr(dt, name) for name in dir(dt) if not name.startswith("__")})
    clock.datetime = Frozen
    monkeypatch.setattr(kit_cli, "dt", clock)
    assert kit(project, "pull").exit_code == 0
    google.set_cell(KEY, "居民", 2, 2, "张三丰")  # the sheet changes, and a second copy is taken the same second
    assert kit(project, "pull").exit_code == 0
    snapshots = sorted((project / "snapshots").iterdir())
    names = sorted(openpyxl.load_workbook(s)["居民"]["B2"].value for s in snapshots)
    assert names == ["张三", "张三丰"], [s.name for s in snapshots]


def test_cli_annotate_writes_a_local_xlsx(google, creds, tmp_path):
    sheets = problems_only()
    local = make_project(tmp_path / "local", sheets)
    remote = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, sheets)
    expected = kit(local, "validate", "--format", "json", "--annotate", "marked.xlsx", *AS_OF_ARG)
    got = kit(remote, "validate", "--format", "json", "--annotate", "marked.xlsx", *AS_OF_ARG)
    assert got.exit_code == expected.exit_code == 1, got.output
    assert json.loads(got.stdout) == json.loads(expected.stdout)
    assert "已另存批注副本：marked.xlsx" in got.stderr
    assert marks(remote / "marked.xlsx") == marks(local / "marked.xlsx")
    assert ("积分记录", "B4") in marks(remote / "marked.xlsx")
    wb = openpyxl.load_workbook(remote / "marked.xlsx")
    assert wb.sheetnames == list(sheets) and wb["积分记录"]["B2"].value == dt.datetime(2026, 3, 5)
    assert google.calls["values_batch_update"] == 0


def test_cli_annotate_a_sheet_with_a_formula_error(google, creds, tmp_path):
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, messy())
    result = kit(project, "validate", "--annotate", "marked.xlsx", *AS_OF_ARG)
    assert result.exit_code == 1, result.output
    cell = openpyxl.load_workbook(project / "marked.xlsx")["积分记录"]["F5"]
    assert cell.value == "#DIV/0!" and cell.comment is not None and "formula-error" in cell.comment.text


def marks(path: Path) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    found = {}
    for ws in openpyxl.load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.comment is not None or cell.fill.fill_type is not None:
                    found[(ws.title, cell.coordinate)] = (cell.fill.fgColor.rgb, cell.comment and cell.comment.text)
    return found


# --- failures: exit 2 and one Chinese message ----------------------------------------------------


def test_cli_persistent_rate_limit(google, waits, creds, tmp_path):
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, BASE)
    google.fail(*[429] * 50, on="values_batch_get")
    started = time.monotonic()
    message = refused(kit(project, "validate"))
    assert BUSY in message and time.monotonic() - started < 5
    assert waits == [1, 2, 4, 8, 16]  # 31 s of the 60 s allowed; the next wait (32 s) would pass it


def test_cli_two_rate_limits_then_success(google, waits, creds, tmp_path):
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, BASE)
    google.fail(429, 429)
    result = kit(project, "balances", "--format", "json", *AS_OF_ARG)
    assert result.exit_code == 0, result.output
    assert waits == [1, 2]


def test_cli_credentials_missing(google, tmp_path):
    project = google_project(tmp_path / "remote", tmp_path / "kit-secrets" / "nowhere.json")
    google.add(KEY, TITLE, BASE)
    message = refused(kit(project, "validate"))
    assert NO_KEY_FILE in message and "nowhere.json" in message
    assert sum(google.calls.values()) == 0


@pytest.mark.parametrize("content", [
    '{"installed": {"client_id": "1.apps.googleusercontent.com", "client_secret": "x"}}',  # an OAuth client
    "not json at all",
    b"\xff\xfe\x00binary",
    '["service_account"]',
], ids=["oauth-client", "text", "binary", "list"])
def test_cli_credentials_not_a_service_account_key(content, google, tmp_path):
    path = tmp_path / "kit-secrets" / "key.json"
    path.parent.mkdir()
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    project = google_project(tmp_path / "remote", path)
    google.add(KEY, TITLE, BASE)
    assert NOT_A_KEY in refused(kit(project, "validate"))


@pytest.mark.parametrize("change", [{"private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"},
                                    {"client_email": None}], ids=["broken-key", "no-client-email"])
def test_cli_credentials_unusable(change, google, tmp_path):
    info = {k: v for k, v in (service_account_info() | change).items() if v is not None}
    path = tmp_path / "kit-secrets" / "key.json"
    path.parent.mkdir()
    path.write_text(json.dumps(info))
    project = google_project(tmp_path / "remote", path)
    google.add(KEY, TITLE, BASE)
    message = refused(kit(project, "validate"))
    assert UNUSABLE_KEY in message and "重新下载" in message


def test_cli_sheet_not_shared(google, creds, tmp_path):
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, BASE, shared={"someone@other.iam.gserviceaccount.com": "writer"})
    assert NOT_SHARED in refused(kit(project, "validate"))


def test_cli_unknown_key(google, creds, tmp_path):
    project = google_project(tmp_path / "remote", creds)
    google.add("1SomeOtherSheet", TITLE, BASE)
    assert NOT_FOUND in refused(kit(project, "balances"))


def test_cli_missing_worksheet(google, creds, tmp_path):
    sheets = copy.deepcopy(BASE)
    del sheets["积分记录"]
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, sheets)
    message = refused(kit(project, "validate"), MissingSheet.code)
    assert f"“Google 表格“{TITLE}”” 缺少工作表 “积分记录”".replace(" ", "") in message.replace(" ", "")


@pytest.mark.parametrize("failure", [offline(), offline_token()], ids=["requests", "google-auth"])
def test_cli_no_network(failure, google, creds, tmp_path):
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, BASE)
    google.fail(failure)
    assert OFFLINE in refused(kit(project, "build"))
    assert not (project / "site").exists() and not (project / "snapshots").exists()


def test_cli_bad_sheet_address_in_kit_toml(tmp_path, creds):
    project = google_project(tmp_path / "remote", creds, sheet="https://example.com/some/page")
    message = refused(kit(project, "validate"))
    assert "不是 Google 表格的网址" in message


def test_real_gspread_without_network_fails_fast(tmp_path, creds):
    """No fake at all: the real gspread client, a made-up key. This machine has no route
    to Google; where there is one, Google refuses the made-up key. Either way: exit 2,
    one message, in seconds."""
    project = google_project(tmp_path / "remote", creds)
    env = {k: v for k, v in os.environ.items() if k != "KIT_DEBUG"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "kit", "validate"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert elapsed < 15, elapsed
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("无法继续（google-sheet-unavailable）："), done.stderr
    assert any(phrase in lines[0] for phrase in (OFFLINE, "服务账号密钥", NOT_FOUND, NOT_SHARED)), lines[0]


# --- the real gspread client against the same fake books over HTTP ---------------------------------


@pytest.fixture
def wire(fake, monkeypatch, waits) -> GoogleWire:
    wire = GoogleWire(fake, accounts={EMAIL: rsa_key().public_key()})
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send",
                        lambda adapter, request, **options: wire.send(adapter, request, **options))
    return wire


def test_real_gspread_reads_like_the_fake(wire, fake, creds, tmp_path):
    sheets = messy()
    fake.add(KEY, TITLE, sheets)
    real = GSheetSource(SheetSpec(KEY, creds), connect=gsheet.connect, sleep=not_sleeping)
    local = XlsxSource(write_xlsx(tmp_path / "ledger.xlsx", sheets))
    assert summary(validate(real, AS_OF)) == summary(validate(local, AS_OF))
    for sheet in local.sheet_names():
        assert blank_as_empty(real.read(sheet).rows) == blank_as_empty(local.read(sheet).rows)
    hosts = [(method, url.split("?")[0]) for method, url, _ in wire.sent]
    assert hosts == [("POST", "https://oauth2.googleapis.com/token"),
                     ("GET", f"https://sheets.googleapis.com/v4/spreadsheets/{KEY}"),
                     ("GET", f"https://sheets.googleapis.com/v4/spreadsheets/{KEY}"),
                     ("GET", f"https://sheets.googleapis.com/v4/spreadsheets/{KEY}/values:batchGet"),
                     ("GET", f"https://sheets.googleapis.com/v4/spreadsheets/{KEY}/values:batchGet")]
    assert {timeout for _, _, timeout in wire.sent} == {REQUEST_TIMEOUT}  # nothing can hang for long


def test_real_gspread_retries_and_writes_raw(wire, fake, creds):
    fake.add(KEY, TITLE, BASE)
    fake.fail(429, 503, on="values_batch_get")
    waits = Waits()
    real = GSheetSource(SheetSpec(KEY, creds), connect=gsheet.connect, sleep=waits)
    assert real.read("居民").rows[2][:2] == ["R2", "李四"]
    assert waits == [1, 2]
    real.write_cells("居民", {(3, 2): "=HYPERLINK(\"http://x\")"})
    assert fake.updates == [{"valueInputOption": "RAW",
                             "data": [{"range": "'居民'!B3", "values": [["=HYPERLINK(\"http://x\")"]]}]}]
    assert fake.cell(KEY, "居民", 3, 2).formula is None


def test_real_gspread_not_found_and_not_shared(wire, fake, creds, tmp_path):
    fake.add("1Other", TITLE, BASE)
    fake.add("1Private", TITLE, BASE, shared={"boss@x.iam.gserviceaccount.com": "writer"})
    project = google_project(tmp_path / "remote", creds)
    assert NOT_FOUND in refused(kit(project, "validate"))
    project = google_project(tmp_path / "private", creds, sheet="1Private")
    assert NOT_SHARED in refused(kit(project, "validate"))


def test_real_gspread_key_rejected_by_google(wire, fake, tmp_path):
    """Where Google is reachable, a made-up or revoked key is refused at the token
    endpoint (400 invalid_grant): one clear message, exit 2, not an internal error."""
    path = tmp_path / "kit-secrets" / "revoked.json"
    path.parent.mkdir()
    path.write_text(json.dumps(service_account_info("revoked@happy-community.iam.gserviceaccount.com")))
    fake.add(KEY, TITLE, BASE)
    project = google_project(tmp_path / "remote", path)
    message = refused(kit(project, "validate"))
    assert "服务账号" in message


# --- the sheet's address ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    URL,
    f"https://docs.google.com/spreadsheets/d/{KEY}",
    f"https://docs.google.com/spreadsheets/d/{KEY}/edit?usp=sharing",
    f"  https://docs.google.com/spreadsheets/d/{KEY}/edit?gid=0#gid=0  ",
    KEY,
    f"  {KEY}\n",
])
def test_spreadsheet_key_from_url_or_key(text):
    assert spreadsheet_key(text) == KEY


def test_spreadsheet_key_from_the_address_bar_of_a_second_google_account():
    """Signed in to two Google accounts, the browser shows /spreadsheets/u/1/d/<key>/."""
    assert spreadsheet_key(f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/edit#gid=0") == KEY


@pytest.mark.parametrize("text", ["https://example.com/sheets/abc", "https://drive.google.com/file/d/1abc/view",
                                  "ledger.xlsx/"])
def test_spreadsheet_key_refuses_other_addresses(text):
    with pytest.raises(SheetUnavailable) as refused_text:
        spreadsheet_key(text)
    assert "不是 Google 表格的网址" in refused_text.value.message and text.strip() in refused_text.value.message


def test_spreadsheet_key_refuses_a_lookalike_address_on_another_host():
    with pytest.raises(SheetUnavailable) as refused_text:
        spreadsheet_key("https://sheets.example.com/spreadsheets/d/abc123/edit")
    assert "不是 Google 表格的网址" in refused_text.value.message


# --- writing card tokens into the Google Sheet ----------------------------------------------------

HEADER = ["居民编号", "姓名", "网格", "出生年份", "手机", "同意公开姓名", "卡号", "状态"]
HELD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def card_sheets(card_column: bool = True) -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(BASE)
    sheets["设置"].append(["网站地址", SITE_URL])
    sheets["居民"] = [
        HEADER,
        ["R1", "张三", "G1", 1956, "13800000001", "是", None, "在册"],  # row 2: gets a token
        ["R2", "李四", "G2", 1990, None, "否", None, "在册"],  # row 3: gets a token
        ["R3", "王五", "G1", 1960, None, "否", HELD, "在册"],  # row 4: keeps its token
        ["R4", "赵六", "G9", 1970, None, "否", None, "在册"],  # row 5: unknown grid, an error row
        ["R5", "=HYPERLINK(\"http://x\")", "G1", 1980, None, "否", None, "在册"],  # row 6: gets a token
        ["R6", "+86 138", "G2", 1985, None, "否", None, "在册"],  # row 7: gets a token
    ]
    if not card_column:
        sheets["居民"] = [row[:6] + row[7:] for row in sheets["居民"]]
    return sheets


@pytest.fixture
def card_project(google, creds, tmp_path) -> Path:
    return google_project(tmp_path / "remote", creds)


def test_cards_write_tokens_raw_into_card_cells_only(card_project, google):
    sheets = card_sheets()
    google.add(KEY, TITLE, sheets)
    snapshots_at_write = []
    google.hooks.append(lambda method, n: method == "values_batch_update" and snapshots_at_write.append(
        sorted((card_project / "snapshots").iterdir())))

    result = kit(card_project, "cards")
    assert result.exit_code == 0, result.output
    [body] = google.updates
    assert body["valueInputOption"] == "RAW"
    assert [item["range"] for item in body["data"]] == ["'居民'!G2", "'居民'!G3", "'居民'!G6", "'居民'!G7"]
    tokens = [item["values"] for item in body["data"]]
    assert all(len(v) == 1 and len(v[0]) == 1 and TOKEN.fullmatch(v[0][0]) for v in tokens), tokens
    assert len({v[0][0] for v in tokens}) == 4

    # the sheet now holds them, as text; nothing else changed
    typed = from_sheets({"居民": sheets["居民"]})["居民"]
    for r in range(1, 8):
        for c in range(1, 9):
            cell = google.cell(KEY, "居民", r, c)
            if (r, c) in {(2, 7), (3, 7), (6, 7), (7, 7)}:
                assert cell.value == cell.shown and TOKEN.fullmatch(cell.value) and cell.formula is None
            else:
                assert cell == typed[r - 1][c - 1], (r, c)
    assert google.cell(KEY, "居民", 4, 7).value == HELD
    assert google.cell(KEY, "居民", 5, 7) is None  # the error row got none
    assert "已写入表格 Google 表格：4 位居民生成了新卡号" in result.stdout

    # the snapshot was kept before writing, and holds the sheet as it was
    [[snapshot]] = snapshots_at_write
    assert SNAPSHOT.fullmatch(snapshot.name) and f"改动前的表格备份在 {snapshot}" in result.stdout.replace("\n", "")
    ws = openpyxl.load_workbook(snapshot)["居民"]
    assert [ws.cell(r, 7).value for r in range(2, 8)] == [None, None, HELD, None, None, None]
    assert [ws.cell(r, 2).value for r in range(2, 8)] == [row[1] for row in sheets["居民"][1:]]

    # the tokens read back are the ones written; the PDF was made
    book = validate(source(google, key_file(card_project)), AS_OF).book
    assert {r.resident_id: r.card_token for r in book.residents} == {
        "R1": tokens[0][0][0], "R2": tokens[1][0][0], "R3": HELD, "R5": tokens[2][0][0], "R6": tokens[3][0][0]}
    assert len(list((card_project / "private").glob("积分卡-全部-*.pdf"))) == 1


def key_file(project: Path) -> Path:
    return load_project(project).sheet.credentials


def test_cards_add_the_card_column_when_missing(card_project, google):
    google.add(KEY, TITLE, card_sheets(card_column=False))
    result = kit(card_project, "cards")
    assert result.exit_code == 0, result.output
    [body] = google.updates
    assert body["valueInputOption"] == "RAW"
    # without the column, R3's token went with it: R3 gets a new one too
    assert [item["range"] for item in body["data"]] == ["'居民'!H1", "'居民'!H2", "'居民'!H3", "'居民'!H4",
                                                        "'居民'!H6", "'居民'!H7"]
    assert body["data"][0]["values"] == [["卡号"]]
    assert google.cell(KEY, "居民", 1, 7).value == "状态"  # the last header is untouched
    residents = validate(source(google, key_file(card_project)), AS_OF).book.residents
    assert all(TOKEN.fullmatch(r.card_token) for r in residents)


def test_cards_refuse_when_the_sheet_changed_after_reading(card_project, google):
    google.add(KEY, TITLE, card_sheets())

    def someone_edits(method: str, count: int) -> None:
        if method == "values_batch_get" and count == 2:  # the first full read is done
            google.set_cell(KEY, "居民", 3, 5, "13900000002")

    google.hooks.append(someone_edits)
    result = kit(card_project, "cards")
    message = refused(result, WorkbookChanged.code)
    assert "被修改过" in message and "没有写入卡号" in message
    assert google.calls["values_batch_update"] == 0 and google.updates == []
    assert google.calls["values_batch_get"] == 4  # read, then read again to compare
    assert all(google.cell(KEY, "居民", r, 7) is None for r in (2, 3, 6, 7))
    assert google.cell(KEY, "居民", 3, 5).value == "13900000002"  # the other person's edit stays
    assert not list((card_project / "private").glob("*.pdf"))


def test_cards_read_only_share_refused_without_traceback(card_project, google):
    google.add(KEY, TITLE, card_sheets(), shared={EMAIL: "reader"})
    message = refused(kit(card_project, "cards"))
    assert "client_email" in message
    assert google.updates == [] and google.cell(KEY, "居民", 2, 7) is None


FORMULA_LIKE = ["=HYPERLINK(\"http://x\")", "+86 138", "-1+1", "@SUM(A1)", "=1+1"]


def sheet_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()
                if name.startswith("xl/worksheets/sheet")}


def assert_text_cells(path: Path, sheet: str, column: str, rows_values: dict[int, str]) -> None:
    """No formula anywhere in the file, and the cells are strings holding the text."""
    xml = sheet_xml(path)
    assert xml and not any(re.search(r"<(\w+:)?f[ >/]", text) for text in xml.values()), "a formula was written"
    wb = openpyxl.load_workbook(path)
    index = wb.sheetnames.index(sheet) + 1
    root = ElementTree.fromstring(xml[f"xl/worksheets/sheet{index}.xml"])
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    for row, text in rows_values.items():
        [c] = root.findall(f".//m:c[@r='{column}{row}']", ns)
        assert c.get("t") in ("s", "inlineStr"), (row, c.attrib)
        assert wb[sheet][f"{column}{row}"].value == text


def test_formula_like_names_stay_text_in_the_snapshot(card_project, google):
    sheets = card_sheets()
    for offset, name in enumerate(FORMULA_LIKE):
        sheets["居民"].append([f"R{10 + offset}", name, "G1", 1980, None, "否", None, "在册"])
    google.add(KEY, TITLE, sheets)
    result = kit(card_project, "cards")
    assert result.exit_code == 0, result.output
    [snapshot] = (card_project / "snapshots").iterdir()
    expected = {6: FORMULA_LIKE[0], 7: "+86 138"} | {8 + i: name for i, name in enumerate(FORMULA_LIKE)}
    assert_text_cells(snapshot, "居民", "B", expected)
    [body] = google.updates
    assert body["valueInputOption"] == "RAW"
    assert all(google.cell(KEY, "居民", r, 2).formula is None for r in range(2, 13))
    assert all(google.cell(KEY, "居民", r, 2).value == v for r, v in expected.items())


def formula_like_project(google: FakeGoogle, creds: Path, root: Path) -> tuple[Path, dict[int, str]]:
    sheets = card_sheets()
    for offset, name in enumerate(FORMULA_LIKE):
        sheets["居民"].append([f"R{10 + offset}", name, "G1", 1980, None, "否", None, "在册"])
    google.add(KEY, TITLE, sheets)
    return google_project(root, creds), {6: FORMULA_LIKE[0], 7: "+86 138"} | {8 + i: n for i, n in enumerate(FORMULA_LIKE)}


def test_formula_like_names_stay_text_in_pull(google, creds, tmp_path):
    project, expected = formula_like_project(google, creds, tmp_path / "remote")
    assert kit(project, "pull", "-o", "snap.xlsx").exit_code == 0
    assert_text_cells(project / "snap.xlsx", "居民", "B", expected)


def test_formula_like_names_stay_text_in_the_annotated_copy(google, creds, tmp_path):
    project, expected = formula_like_project(google, creds, tmp_path / "remote")
    result = kit(project, "validate", "--annotate", "marked.xlsx", *AS_OF_ARG)
    assert result.exit_code == 1, result.output  # R4's unknown grid
    assert_text_cells(project / "marked.xlsx", "居民", "B", expected)


# --- kit.toml -------------------------------------------------------------------------------------

INSIDE = "服务账号密钥文件在项目文件夹里"


def test_warns_when_credentials_are_inside_the_project(google, tmp_path):
    project = google_project(tmp_path / "remote", Path("secrets") / "sa.json")
    (project / "secrets").mkdir()
    (project / "secrets" / "sa.json").write_text(json.dumps(service_account_info()))
    google.add(KEY, TITLE, BASE)
    loaded = load_project(project)
    assert loaded.sheet == SheetSpec(KEY, (project / "secrets" / "sa.json").resolve())
    assert any(INSIDE in w for w in loaded.warnings)
    result = kit(project, "validate", *AS_OF_ARG)
    assert result.exit_code == 0, result.output
    assert f"提醒：{INSIDE}" in result.stderr


def test_no_warning_when_credentials_are_outside(google, creds, tmp_path):
    project = google_project(tmp_path / "remote", creds)
    google.add(KEY, TITLE, BASE)
    assert load_project(project).warnings == ()
    assert load_project(project).snapshots_dir == (project / "snapshots").resolve()
    result = kit(project, "validate", *AS_OF_ARG)
    assert result.exit_code == 0 and "提醒：服务账号" not in result.stderr and "项目文件夹里" not in result.stderr, \
        result.output


def test_google_sheet_needs_credentials(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "kit.toml").write_text(f'[workbook]\ngoogle_sheet = "{URL}"\n', encoding="utf-8")
    assert "credentials" in refused(kit(project, "validate"), "project-error")
