"""A Google Sheet laid out by the template, read with gspread, equal to a local file.

All worksheets are read in two batched requests: unformatted values (numbers,
booleans, dates as serial numbers) and the values as displayed. A number whose
displayed text looks like a date or a time becomes one, as calamine does with an
xlsx cell's format, so both paths parse the same. Rate limits and transient
server errors are retried with backoff, within a bounded total time; a missing
network fails at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, TransportError

from kit.errors import KitError
from kit.sources import CellError, RawSheet

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
RETRY_STATUS = {429, 500, 502, 503, 504}
ERROR_TEXTS = {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#ERROR!"}
_DATE_SHOWN = re.compile(r"\s*\d{1,4}[-/.年]\d{1,2}[-/.月]\d{1,4}日?(\s+\d{1,2}[:：]\d{2}([:：]\d{2})?)?\s*")
_SHEET_URL = re.compile(r"https?://docs\.google\.com/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
_TIME_SHOWN = re.compile(r"\d{1,2}[:：]\d{2}")
REQUEST_TIMEOUT = 20.0  # seconds for one request


class SheetUnavailable(KitError):
    code = "google-sheet-unavailable"


@dataclass(frozen=True)
class SheetSpec:
    key: str  # the spreadsheet id
    credentials: Path


def spreadsheet_key(text: str) -> str:
    """The id from a sheet URL, or the id itself."""
    text = text.strip()
    if "/" in text:
        match = _SHEET_URL.match(text)
        if not match:
            raise SheetUnavailable(f"“{text}”不是 Google 表格的网址，请复制浏览器地址栏里的完整网址"
                                   "（以 https://docs.google.com/spreadsheets/ 开头）。")
        return match.group(1)
    return text


def connect(credentials: Path):
    """The real client. Tests replace this with a fake that behaves like gspread."""
    client = gspread.service_account(filename=str(credentials))
    client.set_timeout(REQUEST_TIMEOUT)
    return client


class GSheetSource:
    def __init__(self, spec: SheetSpec, connect: Callable = connect, total_seconds: float = 60.0,
                 first_wait: float = 1.0, sleep: Callable[[float], None] = time.sleep):
        self.spec = spec
        self._retry = _Retry(total_seconds, first_wait, sleep)
        client = _login(spec.credentials, connect)
        self._book = self._retry(lambda: _open(client, spec.key))
        self.label = f"Google 表格“{self._book.title}”"
        self._titles = [ws.title for ws in self._retry(self._book.worksheets)]
        self._cells: dict[str, list[list[object]]] | None = None

    def sheet_names(self) -> list[str]:
        return list(self._titles)

    def read(self, name: str) -> RawSheet:
        if name not in self._titles:
            raise SheetUnavailable(f"{self.label}中没有工作表“{name}”。")
        if self._cells is None:
            self._cells = self._read_all()
        return RawSheet(name, [list(row) for row in self._cells[name]])

    def read_again(self, name: str) -> RawSheet:
        """The worksheet as it is now on Google's side (not the copy read earlier)."""
        self._cells = None
        return self.read(name)

    def _read_all(self) -> dict[str, list[list[object]]]:
        ranges = [_quoted(t) for t in self._titles]
        raw = self._retry(lambda: self._book.values_batch_get(ranges, params={
            "valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}))
        shown = self._retry(lambda: self._book.values_batch_get(ranges, params={
            "valueRenderOption": "FORMATTED_VALUE"}))
        cells = {}
        for title, values, texts in zip(self._titles, raw.get("valueRanges", []), shown.get("valueRanges", [])):
            cells[title] = _rows(values.get("values", []), texts.get("values", []))
        return cells

    def write_cells(self, sheet: str, cells: dict[tuple[int, int], str]) -> None:
        """Write text into (row, column) cells (1-based), RAW: nothing becomes a formula."""
        data = [{"range": f"{_quoted(sheet)}!{_a1(row, column)}", "values": [[text]]}
                for (row, column), text in sorted(cells.items())]
        self._retry(lambda: self._book.values_batch_update({"valueInputOption": "RAW", "data": data}))


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _a1(row: int, column: int) -> str:
    letters, index = "", column
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"


def _rows(values: list[list[object]], texts: list[list[object]]) -> list[list[object]]:
    """The API leaves out trailing empty cells and rows; calamine gives '' for each."""
    width = max((len(r) for r in values), default=0)
    rows = []
    for r, row in enumerate(values):
        shown_row = texts[r] if r < len(texts) else []
        out = []
        for c in range(width):
            value = row[c] if c < len(row) else ""
            shown = str(shown_row[c]) if c < len(shown_row) else ""
            out.append(_cell(value, shown))
        rows.append(out)
    return rows


def _cell(value: object, shown: str) -> object:
    if isinstance(value, str):
        return CellError(value) if value in ERROR_TEXTS else value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if _DATE_SHOWN.fullmatch(shown):  # a date (or date and time) cell, as its format shows it
        moment = EXCEL_EPOCH + dt.timedelta(days=float(value))
        return moment.date() if float(value).is_integer() else moment.replace(microsecond=0)
    if _TIME_SHOWN.fullmatch(shown.strip()[:5]) and 0 <= value < 1:
        seconds = round(value * 86400)
        return dt.time(seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)
    return float(value)  # calamine reads every number as a float


class _Retry:
    """Call again on rate limits and transient server errors, waiting longer each time,
    until the total time is spent."""

    def __init__(self, total_seconds: float, first_wait: float, sleep: Callable[[float], None]):
        self.total, self.first, self.sleep = total_seconds, first_wait, sleep

    def __call__(self, action: Callable):
        waited, wait = 0.0, self.first
        while True:
            try:
                return action()
            except gspread.exceptions.APIError as exc:
                status = exc.response.status_code if exc.response is not None else exc.code
                if status not in RETRY_STATUS or waited + wait > self.total:
                    raise _explain(exc) from None
                self.sleep(wait)
                waited += wait
                wait *= 2
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, TransportError):
                raise _offline() from None
            except GoogleAuthError as exc:  # e.g. invalid_grant: a revoked or made-up key
                raise SheetUnavailable(f"Google 不接受这个服务账号密钥（{exc}）。密钥可能已被删除或停用，"
                                       "请在 Google Cloud 控制台重新创建并下载。") from None


def _login(credentials: Path, connect: Callable):
    path = Path(credentials).expanduser()
    if not path.is_file():
        raise SheetUnavailable(f"找不到服务账号密钥文件“{path}”。请按 README 的“使用 Google 表格”一节下载 JSON 密钥，"
                               "并在 kit.toml 的 credentials 里写对它的位置（不要放进项目文件夹）。")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        info = None
    if not isinstance(info, dict) or info.get("type") != "service_account" or "private_key" not in info:
        raise SheetUnavailable(f"“{path}”不是服务账号的 JSON 密钥文件。请在 Google Cloud 控制台重新下载（密钥类型选 JSON）。")
    try:
        return connect(path)
    except (ValueError, GoogleAuthError) as exc:
        raise SheetUnavailable(f"服务账号密钥“{path}”无法使用（{exc}）。请重新下载密钥文件。") from None


def _open(client, key: str):
    try:
        return client.open_by_key(key)
    except gspread.exceptions.SpreadsheetNotFound:
        raise SheetUnavailable(f"找不到编号为“{key}”的 Google 表格。请核对 kit.toml 里的表格网址或编号。") from None
    except PermissionError:
        raise SheetUnavailable("这个 Google 表格没有共享给服务账号。请在表格右上角“共享”里，把密钥文件中的 "
                               "client_email 地址加为“查看者”（要写回卡号则加为“编辑者”）。") from None


def _explain(exc: gspread.exceptions.APIError) -> SheetUnavailable:
    status = exc.response.status_code if exc.response is not None else exc.code
    if status in (401, 403):
        return SheetUnavailable("服务账号没有权限访问这个 Google 表格。请把密钥文件中的 client_email 加为表格的共享者。")
    if status == 404:
        return SheetUnavailable("找不到这个 Google 表格或其中的工作表，请核对 kit.toml 里的表格网址。")
    if status in RETRY_STATUS:
        return SheetUnavailable("Google 表格服务现在太忙（请求过多或服务器暂时出错），重试多次仍未成功。请过几分钟再运行。")
    return SheetUnavailable(f"读取 Google 表格出错（{exc}）。")


def _offline() -> SheetUnavailable:
    return SheetUnavailable("连不上 Google（没有网络，或者所在网络无法访问 Google 服务）。"
                            "可以先在能上网的电脑上运行 kit pull 下载一份表格，再用本地文件生成网站。")
