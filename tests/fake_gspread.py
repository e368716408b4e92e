"""A fake of the part of gspread 6 the kit uses, behaving like the real client.

What it imitates, and where in gspread (6.2) or Google's API that behaviour comes from:

* ``FakeGoogle.service_account(filename)`` stands for ``gspread.service_account``: the
  key file is parsed by the real google-auth (``Credentials.from_service_account_file``),
  so a missing file raises FileNotFoundError, a file that is not JSON raises
  json.JSONDecodeError, missing fields or a broken private key raise ValueError, all
  exactly as with the real client. No token is fetched (gspread fetches it on the
  first request, not when the client is made).
* ``open_by_key`` fetches the spreadsheet's metadata, as ``Spreadsheet.__init__`` does; an
  API error there is turned into ``SpreadsheetNotFound`` (404) or ``PermissionError``
  (403) and anything else re-raised, as in ``gspread.client.Client.open_by_key``.
  A spreadsheet not shared with the service account's client_email answers 403, an
  unknown key 404, as Google does.
* ``worksheets()`` fetches the metadata again (one request), as ``Spreadsheet.worksheets``.
* ``values_batch_get(ranges, params)`` answers like ``spreadsheets.values.batchGet``:
  one valueRange per requested range, trailing empty cells of each row and trailing
  empty rows left out (an empty row inside the data is ``[]``, an empty sheet has no
  "values" key), numbers decoded from JSON (2.0 arrives as 2), dates and times as
  serial numbers for UNFORMATTED_VALUE + SERIAL_NUMBER, as displayed text for
  FORMATTED_VALUE (the default), unknown options refused with a 400.
* ``values_batch_update(body)`` answers like ``spreadsheets.values.batchUpdate``: RAW
  stores strings as strings (even "=SUM(A1)"), USER_ENTERED parses them as a person
  typing would (formulas, numbers, TRUE/FALSE, dates), any other or a missing
  valueInputOption is refused with a 400, a range beyond the grid with a 400, a
  spreadsheet shared read-only with a 403.
* Errors are ``gspread.exceptions.APIError(response)`` built from a real
  ``requests.Response`` whose JSON body is Google's ``{"error": {...}}``, so ``.code``,
  ``.error`` and ``.response.status_code`` are what gspread gives; no network is
  ``requests.exceptions.ConnectionError`` (or google-auth's TransportError when the
  token cannot be fetched).

Test controls: ``fail(...)`` queues failures for the next calls, ``calls`` counts the
API requests per method, ``updates`` keeps every batchUpdate body, ``hooks`` run after
each successful request (to change the sheet between two reads), ``set_cell`` edits a
cell as a person would.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import gspread
import requests
from google.auth.exceptions import TransportError
from google.oauth2.service_account import Credentials

EPOCH = dt.datetime(1899, 12, 30)
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26  # a new Google Sheet's grid
SCOPES = gspread.auth.DEFAULT_SCOPES

STATUS_TEXT = {
    400: ("INVALID_ARGUMENT", "Bad Request"),
    403: ("PERMISSION_DENIED", "Forbidden"),
    404: ("NOT_FOUND", "Not Found"),
    429: ("RESOURCE_EXHAUSTED", "Too Many Requests"),
    500: ("INTERNAL", "Internal Server Error"),
    502: ("UNAVAILABLE", "Bad Gateway"),
    503: ("UNAVAILABLE", "Service Unavailable"),
    504: ("DEADLINE_EXCEEDED", "Gateway Timeout"),
}
MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: ("Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' "
          "of service 'sheets.googleapis.com' for consumer 'project_number:123456789'."),
    500: "Internal error encountered.",
    502: "Bad Gateway",
    503: "The service is currently unavailable.",
    504: "The service is currently unavailable.",
}


# --- errors, as the real client raises them ---------------------------------


def google_response(status: int, message: str | None = None, url: str = "https://sheets.googleapis.com/v4/spreadsheets/x"
                    ) -> requests.Response:
    """A real requests.Response carrying Google's JSON error body."""
    state, reason = STATUS_TEXT.get(status, ("UNKNOWN", "Error"))
    body = {"error": {"code": status, "message": message or MESSAGES.get(status, "Error"), "status": state}}
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response.url = url
    response.encoding = "utf-8"
    response.headers["Content-Type"] = "application/json; charset=UTF-8"
    response._content = json.dumps(body).encode("utf-8")
    return response


def api_error(status: int, message: str | None = None) -> gspread.exceptions.APIError:
    """What gspread's HTTPClient.request raises for a non-2xx answer."""
    return gspread.exceptions.APIError(google_response(status, message))


def offline() -> requests.exceptions.ConnectionError:
    """What requests raises when there is no route to Google."""
    return requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='sheets.googleapis.com', port=443): Max retries exceeded with url: "
        "/v4/spreadsheets/x (Caused by NameResolutionError(\"Failed to resolve 'sheets.googleapis.com' "
        "([Errno -2] Name or service not known)\"))")


def offline_token() -> TransportError:
    """What google-auth raises when the access token cannot be fetched (no network)."""
    return TransportError("HTTPSConnectionPool(host='oauth2.googleapis.com', port=443): Max retries exceeded "
                          "with url: /token (Caused by NameResolutionError(...))")


# --- cells ---------------------------------------------------------------------


@dataclass
class Cell:
    value: object  # as UNFORMATTED_VALUE gives it (a serial number for dates)
    shown: str  # as FORMATTED_VALUE gives it
    is_datetime: bool = False  # a date/time format: FORMATTED_STRING gives the shown text
    formula: str | None = None  # the formula typed (only USER_ENTERED makes one)


def serial(value: dt.date | dt.datetime | dt.time) -> int | float:
    if isinstance(value, dt.datetime):
        delta = value - EPOCH
        return delta.days + delta.seconds / 86400
    if isinstance(value, dt.date):
        return (value - EPOCH.date()).days
    return (value.hour * 3600 + value.minute * 60 + value.second) / 86400


def number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def to_cell(value: object) -> Cell | None:
    """A Python value as tests write it to xlsx, as the same cell in a Google Sheet."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return Cell(value, "TRUE" if value else "FALSE")
    if isinstance(value, dt.datetime):
        return Cell(serial(value), f"{value:%Y-%m-%d %H:%M:%S}", is_datetime=True)
    if isinstance(value, dt.date):
        return Cell(serial(value), value.isoformat(), is_datetime=True)
    if isinstance(value, dt.time):
        shown = f"{value:%H:%M}" if not value.second else f"{value:%H:%M:%S}"
        return Cell(serial(value), shown, is_datetime=True)
    if isinstance(value, (int, float)):
        return Cell(value, number_text(value))
    if isinstance(value, str):
        return Cell(value, value)
    raise TypeError(f"the fake has no Google Sheets cell for {value!r}")


def from_sheets(sheets: dict[str, list[list[object]]]) -> dict[str, list[list[Cell | None]]]:
    """Worksheets (in order) built from the same Python values tests write to xlsx."""
    return {name: [[to_cell(v) for v in row] for row in rows] for name, rows in sheets.items()}


def _user_entered(value: object) -> Cell | None:
    """A value typed into the sheet (valueInputOption USER_ENTERED)."""
    if not isinstance(value, str):
        return _raw(value)
    text = value
    if text.startswith("'"):
        return Cell(text[1:], text[1:])
    if text.startswith("="):
        return Cell("#NAME?", "#NAME?", formula=text)  # the fake does not compute formulas
    if text.upper() in ("TRUE", "FALSE"):
        return Cell(text.upper() == "TRUE", text.upper())
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", text.strip()):
        number = float(text)
        return Cell(int(number) if number.is_integer() else number, text.strip())
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        return Cell(text, text) if text else None
    return to_cell(day)


def _raw(value: object) -> Cell | None:
    """A value stored as given (valueInputOption RAW): strings stay strings."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return Cell(value, "TRUE" if value else "FALSE")
    if isinstance(value, (int, float)):
        return Cell(value, number_text(value))
    return Cell(str(value), str(value))


# --- A1 ranges -------------------------------------------------------------------

_RANGE = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))(?:!([A-Z]+)?(\d+)?(?::([A-Z]+)?(\d+)?)?)?$")


def column_number(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


@dataclass
class Worksheet:
    title: str
    rows: list[list[Cell | None]]
    id: int = 0
    index: int = 0
    row_count: int = DEFAULT_ROWS
    col_count: int = DEFAULT_COLUMNS

    def cell(self, row: int, column: int) -> Cell | None:
        """1-based, as in the sheet."""
        if row <= len(self.rows) and column <= len(self.rows[row - 1]):
            return self.rows[row - 1][column - 1]
        return None

    def put(self, row: int, column: int, cell: Cell | None) -> None:
        while len(self.rows) < row:
            self.rows.append([])
        line = self.rows[row - 1]
        while len(line) < column:
            line.append(None)
        line[column - 1] = cell

    def extent(self) -> tuple[int, int]:
        """(rows, columns) holding any value."""
        last_row, last_column = 0, 0
        for r, line in enumerate(self.rows, start=1):
            used = [c for c, cell in enumerate(line, start=1) if cell is not None]
            if used:
                last_row, last_column = r, max(last_column, used[-1])
        return last_row, last_column


@dataclass
class Book:
    key: str
    title: str
    worksheets: list[Worksheet]
    shared: dict[str, str] | None  # client_email → "reader" / "writer"; None: anyone may write

    def sheet(self, title: str) -> Worksheet:
        return next(ws for ws in self.worksheets if ws.title == title)


# --- the fake Google ---------------------------------------------------------------


class FakeGoogle:
    """Google's side: spreadsheets by key, and the requests made to them."""

    def __init__(self) -> None:
        self.books: dict[str, Book] = {}
        self.calls: collections.Counter[str] = collections.Counter()  # every request, failed ones too
        self.updates: list[dict] = []  # every batchUpdate body that was applied
        self.requests: list[tuple[str, object]] = []  # (method, ranges/body) in order
        self.hooks: list[Callable[[str, int], None]] = []  # run after each successful request
        self.clients: list[FakeClient] = []
        self._failures: collections.deque = collections.deque()  # (method or None, exception)

    # setting up
    def add(self, key: str, title: str, sheets: dict[str, list[list[object]]],
            shared: dict[str, str] | None = None) -> Book:
        worksheets = []
        for index, (name, rows) in enumerate(from_sheets(sheets).items()):
            ws = Worksheet(name, rows, id=index * 1000, index=index)
            rows_used, columns_used = ws.extent()
            ws.row_count, ws.col_count = max(DEFAULT_ROWS, rows_used), max(DEFAULT_COLUMNS, columns_used)
            worksheets.append(ws)
        self.books[key] = Book(key, title, worksheets, shared)
        return self.books[key]

    def set_cell(self, key: str, sheet: str, row: int, column: int, value: object) -> None:
        """As if someone typed value into the cell (1-based row and column)."""
        self.books[key].sheet(sheet).put(row, column, to_cell(value))

    def cell(self, key: str, sheet: str, row: int, column: int) -> Cell | None:
        return self.books[key].sheet(sheet).cell(row, column)

    def fail(self, *failures: int | BaseException, on: str | None = None) -> None:
        """Queue failures for the next requests (of method `on`, or of any method).

        An int is an HTTP status answered by Google (an APIError); an exception is raised as is."""
        for failure in failures:
            self._failures.append((on, api_error(failure) if isinstance(failure, int) else failure))

    @property
    def pending_failures(self) -> int:
        return len(self._failures)

    # gspread.service_account
    def service_account(self, filename: str | Path = "~/.config/gspread/service_account.json",
                        scopes: Iterable[str] = SCOPES, http_client: object = None) -> FakeClient:
        creds = Credentials.from_service_account_file(str(filename), scopes=list(scopes))
        client = FakeClient(self, creds.service_account_email)
        self.clients.append(client)
        return client

    # one request to Google
    def request(self, method: str, detail: object = None) -> None:
        self.calls[method] += 1
        self.requests.append((method, detail))
        for index, (on, failure) in enumerate(self._failures):
            if on is None or on == method:
                del self._failures[index]
                raise failure

    def done(self, method: str) -> None:
        for hook in list(self.hooks):
            hook(method, self.calls[method])


class FakeClient:
    """gspread.Client: what gspread.service_account returns."""

    def __init__(self, google: FakeGoogle, email: str):
        self.google, self.email = google, email
        self.timeout: float | tuple[float, float] | None = None

    def set_timeout(self, timeout: float | tuple[float, float] | None = None) -> None:
        self.timeout = timeout

    def open_by_key(self, key: str) -> FakeSpreadsheet:
        try:
            book = self._metadata("open_by_key", key)
        except gspread.exceptions.APIError as ex:  # as gspread.client.Client.open_by_key
            if ex.response.status_code == 404:
                raise gspread.exceptions.SpreadsheetNotFound(ex.response) from ex
            if ex.response.status_code == 403:
                raise PermissionError from ex
            raise ex
        return FakeSpreadsheet(self, book)

    def _metadata(self, method: str, key: str) -> Book:
        """GET spreadsheets/<key>: the spreadsheet if this account may see it."""
        self.google.request(method, key)
        book = self.google.books.get(key)
        if book is None:
            raise api_error(404)
        if book.shared is not None and self.email not in book.shared:
            raise api_error(403)
        self.google.done(method)
        return book


class FakeSpreadsheet:
    """gspread.Spreadsheet."""

    def __init__(self, client: FakeClient, book: Book):
        self.client, self._book = client, book
        self.id = book.key
        self.title = book.title  # as on open: a later rename is not seen (like gspread's _properties)
        self.url = f"https://docs.google.com/spreadsheets/d/{book.key}"

    def worksheets(self, exclude_hidden: bool = False) -> list[FakeWorksheet]:
        book = self.client._metadata("worksheets", self.id)
        return [FakeWorksheet(ws.title, ws.id, ws.index, ws.row_count, ws.col_count) for ws in book.worksheets]

    def values_batch_get(self, ranges: list[str], params: dict | None = None) -> dict:
        google = self.client.google
        params = dict(params or {})
        google.request("values_batch_get", (list(ranges), params))
        book = self._allowed("reader")
        render = params.get("valueRenderOption", "FORMATTED_VALUE")
        dates = params.get("dateTimeRenderOption", "SERIAL_NUMBER")
        if render not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
            raise api_error(400, f"Invalid value at 'value_render_option' ({render})")
        if dates not in ("SERIAL_NUMBER", "FORMATTED_STRING"):
            raise api_error(400, f"Invalid value at 'date_time_render_option' ({dates})")
        if params.get("majorDimension", "ROWS") != "ROWS":
            raise NotImplementedError("the fake answers ROWS only")
        out = []
        for text in ranges:
            ws, top, left, bottom, right = _area(book, text)
            out.append(_value_range(ws, top, left, bottom, right, render, dates))
        google.done("values_batch_get")
        return json.loads(json.dumps({"spreadsheetId": self.id, "valueRanges": out}))

    def values_batch_update(self, body: dict | None = None) -> dict:
        google = self.client.google
        body = json.loads(json.dumps(body or {}))  # what goes over the wire
        google.request("values_batch_update", body)
        book = self._allowed("writer")
        option = body.get("valueInputOption")
        if option not in ("RAW", "USER_ENTERED"):
            raise api_error(400, f"Invalid valueInputOption: {option!r}" if option else
                            "'valueInputOption' is required but not specified")
        planned = []
        responses = []
        for item in body.get("data", []):
            ws, top, left, _, _ = _area(book, item["range"])
            values = item.get("values", [])
            if item.get("majorDimension", "ROWS") != "ROWS":
                raise NotImplementedError("the fake writes ROWS only")
            for r, line in enumerate(values):
                for c, value in enumerate(line):
                    row, column = top + r, left + c
                    if row > ws.row_count or column > ws.col_count:
                        raise api_error(400, f"Range ({quoted(ws.title)}!{column_letters(column)}{row}) exceeds "
                                             f"grid limits. Max rows: {ws.row_count}, max columns: {ws.col_count}")
                    if value is None:
                        continue  # null leaves the cell as it is
                    planned.append((ws, row, column, _raw(value) if option == "RAW" else _user_entered(value)))
            width = max((len(line) for line in values), default=0)
            responses.append({"spreadsheetId": self.id, "updatedRange": item["range"], "updatedRows": len(values),
                              "updatedColumns": width, "updatedCells": sum(len(line) for line in values)})
        for ws, row, column, cell in planned:  # all or nothing, as one API request
            ws.put(row, column, cell)
        google.updates.append(body)
        google.done("values_batch_update")
        return {"spreadsheetId": self.id, "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
                "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
                "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
                "totalUpdatedSheets": len({r["updatedRange"].split("!")[0] for r in responses}),
                "responses": responses}

    def _allowed(self, role: str) -> Book:
        book = self.client.google.books.get(self.id)
        if book is None:
            raise api_error(404)
        if book.shared is not None:
            granted = book.shared.get(self.client.email)
            if granted is None or (role == "writer" and granted != "writer"):
                raise api_error(403)
        return book


@dataclass
class FakeWorksheet:
    title: str
    id: int
    index: int
    row_count: int
    col_count: int


def _area(book: Book, text: str) -> tuple[Worksheet, int, int, int | None, int | None]:
    """The worksheet and (top, left, bottom, right) of an A1 range; None: to the end."""
    match = _RANGE.match(text)
    title = None
    if match:
        title = match.group(1).replace("''", "'") if match.group(1) is not None else match.group(2)
    ws = next((w for w in book.worksheets if w.title == title), None)
    if ws is None:
        raise api_error(400, f"Unable to parse range: {text}")
    left = column_number(match.group(3)) if match.group(3) else 1
    top = int(match.group(4)) if match.group(4) else 1
    if match.group(5) is None and match.group(6) is None:
        if match.group(3) or match.group(4):  # one cell
            return ws, top, left, top, left
        return ws, 1, 1, None, None
    right = column_number(match.group(5)) if match.group(5) else None
    bottom = int(match.group(6)) if match.group(6) else None
    return ws, top, left, bottom, right


def _value_range(ws: Worksheet, top: int, left: int, bottom: int | None, right: int | None,
                 render: str, dates: str) -> dict:
    rows_used, columns_used = ws.extent()
    bottom = min(bottom or ws.row_count, rows_used)
    right = min(right or ws.col_count, columns_used)
    values = []
    for row in range(top, bottom + 1):
        line = []
        for column in range(left, right + 1):
            line.append(_render(ws.cell(row, column), render, dates))
        while line and line[-1] == "":
            line.pop()  # trailing empty cells are left out
        values.append(line)
    while values and not values[-1]:
        values.pop()  # and trailing empty rows
    shown_bottom = max(top, bottom)
    shown_right = max(left, right)
    answer = {"range": f"{quoted(ws.title)}!{column_letters(left)}{top}:{column_letters(shown_right)}{shown_bottom}",
              "majorDimension": "ROWS"}
    if values:
        answer["values"] = values
    return answer


def _render(cell: Cell | None, render: str, dates: str) -> object:
    if cell is None:
        return ""
    if render == "FORMATTED_VALUE":
        return cell.shown
    if render == "FORMULA" and cell.formula:
        return cell.formula
    if cell.is_datetime and dates == "FORMATTED_STRING":
        return cell.shown
    value = cell.value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON has one kind of number: 2.0 arrives as 2
    return value


# --- the same Google over HTTP, for the REAL gspread client ------------------------


class GoogleWire:
    """Google's token endpoint and Sheets API v4 answering over requests' transport.

    Installed as ``requests.adapters.HTTPAdapter.send``, it lets the real gspread and
    google-auth run unchanged against the books of a FakeGoogle: the token request
    carries a JWT signed with the service account's key (checked against the public
    keys registered here, as Google does: an unknown or made-up key gets
    ``invalid_grant``), then each Sheets request carries the access token."""

    def __init__(self, google: FakeGoogle, accounts: dict[str, object] | None = None):
        self.google = google
        self.accounts = dict(accounts or {})  # client_email → RSA public key
        self.tokens: dict[str, str] = {}  # access token → client_email
        self.sent: list[tuple[str, str, object]] = []  # (method, url, timeout)

    def send(self, adapter, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        from urllib.parse import parse_qs, unquote, urlsplit

        self.sent.append((request.method, request.url, timeout))
        parts = urlsplit(request.url)
        if parts.netloc == "oauth2.googleapis.com" and parts.path == "/token":
            return self._token(request)
        if parts.netloc != "sheets.googleapis.com" or not parts.path.startswith("/v4/spreadsheets/"):
            raise requests.exceptions.ConnectionError(f"the fake Google has no host {parts.netloc}")
        auth = request.headers.get("Authorization", "")
        email = self.tokens.get(auth.removeprefix("Bearer "))
        if email is None:
            return _answer(request, 401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                    "message": "Request is missing required authentication credential."}})
        client = FakeClient(self.google, email)
        rest = unquote(parts.path[len("/v4/spreadsheets/"):])
        key, _, action = rest.partition("/")
        query = parse_qs(parts.query)
        try:
            if request.method == "GET" and not action:
                book = client._metadata("fetch_sheet_metadata", key)
                return _answer(request, 200, _metadata(book))
            book = self.google.books.get(key)
            if book is None:
                self.google.request(action, key)
                raise api_error(404)
            sheet = FakeSpreadsheet(client, book)
            if request.method == "GET" and action == "values:batchGet":
                params = {k: v[0] for k, v in query.items() if k != "ranges"}
                return _answer(request, 200, sheet.values_batch_get(query.get("ranges", []), params))
            if request.method == "POST" and action == "values:batchUpdate":
                return _answer(request, 200, sheet.values_batch_update(json.loads(request.body)))
        except gspread.exceptions.APIError as exc:
            return _answer(request, exc.response.status_code, exc.response.json())
        return _answer(request, 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "Not Found"}})

    def _token(self, request):
        import base64
        import secrets
        from urllib.parse import parse_qs

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def decode(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        header, payload, signature = form["assertion"][0].split(".")
        email = json.loads(decode(payload))["iss"]
        key = self.accounts.get(email)
        try:
            if key is None:
                raise InvalidSignature
            key.verify(decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return _answer(request, 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        token = "ya29." + secrets.token_urlsafe(16)
        self.tokens[token] = email
        return _answer(request, 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


def _metadata(book: Book) -> dict:
    return {
        "spreadsheetId": book.key,
        "properties": {"title": book.title, "locale": "zh_CN", "timeZone": "Asia/Shanghai"},
        "sheets": [{"properties": {"sheetId": ws.id, "title": ws.title, "index": ws.index, "sheetType": "GRID",
                                   "gridProperties": {"rowCount": ws.row_count, "columnCount": ws.col_count}}}
                   for ws in book.worksheets],
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.key}/edit",
    }


def _answer(request, status: int, body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = STATUS_TEXT.get(status, ("", "OK" if status == 200 else "Error"))[1]
    response.url = request.url
    response.request = request
    response.encoding = "utf-8"
    response.headers["Content-Type"] = "application/json; charset=UTF-8"
    response._content = json.dumps(body).encode("utf-8")
    return response
