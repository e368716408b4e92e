"""A community project: the folder holding kit.toml, the workbook and the pages."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kit.errors import OutputError, ProjectError
from kit.limits import KEYS as LIMIT_KEYS
from kit.limits import ReadLimits, limits_from_config
from kit.sources.gsheet import SheetSpec, spreadsheet_key

CONFIG_NAME = "kit.toml"
DEFAULT_WORKBOOK = "sheets/ledger.xlsx"

KNOWN_KEYS = {"workbook": {"path", "google_sheet", "credentials", "demo"}, "output": {"site", "private", "snapshots"},
              "limits": set(LIMIT_KEYS), "privacy": {"public_words"}}

CONFIG_TEXT = """\
# 积分工具包项目配置。改完保存即可，不需要重启任何东西。

[workbook]
# 积分总账表格的位置（相对于本文件所在的文件夹）
path = "{workbook}"
# 改用 Google 表格时，去掉下面两行开头的 # 并填好（见 README“使用 Google 表格”）：
# google_sheet = "https://docs.google.com/spreadsheets/d/表格编号/edit"
# credentials = "~/kit-secrets/service-account.json"

[output]
# 公开网站生成到这里
site = "site"
# 积分卡、报表等含个人信息的文件放在这里，绝不会放进网站
private = "private"
"""

# the workbook (and its backups in 备份/), snapshots and the cache hold personal data and the secret
GITIGNORE = "/site/\n/private/\n/sheets/\n备份/\n/snapshots/\n/.kit-cache/\n/.kit-build.lock\n"


@dataclass(frozen=True)
class Project:
    root: Path
    workbook: Path
    site_dir: Path
    private_dir: Path
    warnings: tuple[str, ...] = ()
    sheet: SheetSpec | None = None  # a Google Sheet, used instead of the local workbook
    snapshots_dir: Path | None = None  # local copies of the Google Sheet, one per pull or build
    limits: ReadLimits = ReadLimits()  # [limits]: how large a workbook may be read (kit/limits.py)
    public_words: tuple[str, ...] = ()  # [privacy]: words that may be on the site though a person has that name
    demo: bool = False  # [workbook] demo = true: the kit's own demo, whose secret is public

    def check_secret(self, secret: str, what: str) -> None:
        """The demo's public secret is refused everywhere but in the demo itself."""
        from kit.keys import PUBLIC_SECRETS

        if secret in PUBLIC_SECRETS and not self.demo:
            raise ProjectError(f"“化名密钥”是积分工具包演示表格里的公开密钥，任何人都能用它算出化名对应的居民，"
                               f"所以不能用它{what}。请先运行 kit rotate-secret 换成新的密钥。")

    @property
    def source(self) -> Path | SheetSpec:
        return self.sheet or self.workbook

    def private_output(self, path: Path, what: str) -> Path:
        """path, if a file with personal data may be written there: never into the site
        or into docs/, which the next build publishes."""
        path = Path(path).resolve()
        for folder, why in ((self.site_dir, "公开网站的文件夹"), (self.root / "docs", "网站页面的来源，下次生成网站时会公开")):
            if path == folder.resolve() or path.is_relative_to(folder.resolve()):
                raise OutputError(f"{what}含有居民的个人信息，不能放进 {folder}（{why}）。"
                                  f"请换一个位置，默认是 {self.private_dir}。")
        return path


def find_project(start: Path) -> Project | None:
    """The project whose kit.toml is in start or a folder above it."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return load_project(folder)
    return None


def load_project(root: Path) -> Project:
    path = Path(root) / CONFIG_NAME
    text = _read_config(path)
    config = _parse_config(text)
    warnings = []
    for section, value in config.items():
        if section not in KNOWN_KEYS or not isinstance(value, dict):
            warnings.append(f"kit.toml 中的“{section}”不是已知的配置项，已忽略。")
            continue
        for key in value:
            if key not in KNOWN_KEYS[section]:
                warnings.append(f"kit.toml 中的“{section}.{key}”不是已知的配置项，已忽略。")

    def path_value(section: str, key: str, default: str) -> str:
        value = config.get(section, {}).get(key, default) if isinstance(config.get(section), dict) else default
        if not isinstance(value, str) or not _path_text(value):
            raise ProjectError(f"{_where(text, f'{section}.{key}')}应为一个路径（文字，两边加英文双引号，"
                               f"如 {key} = \"{default or '文件位置'}\"），现在是“{_shown(value)}”。")
        return _path_text(value)

    def setting(section: str, key: str, default: str) -> Path:
        return (path.parent / path_value(section, key, default)).resolve()

    workbook = config.get("workbook") if isinstance(config.get("workbook"), dict) else {}
    sheet = None
    if workbook.get("google_sheet"):
        if workbook.get("credentials") is None or str(workbook["credentials"]).strip() == "":
            raise ProjectError("kit.toml 里填了 google_sheet，还要填 credentials（服务账号 JSON 密钥文件的位置）。")
        credentials = (path.parent / Path(path_value("workbook", "credentials", "")).expanduser()).resolve()
        if credentials.is_relative_to(path.parent.resolve()):
            warnings.append("服务账号密钥文件在项目文件夹里，容易被一起复制或上传，建议移到项目文件夹之外。")
        sheet = SheetSpec(spreadsheet_key(str(workbook["google_sheet"])), credentials)
    try:
        limits = limits_from_config(config.get("limits"))
        public_words = _public_words(config.get("privacy"))
    except ProjectError as exc:
        raise _with_line(exc, text) from None
    return Project(
        root=path.parent.resolve(),
        workbook=setting("workbook", "path", DEFAULT_WORKBOOK),
        site_dir=setting("output", "site", "site"),
        private_dir=setting("output", "private", "private"),
        warnings=tuple(warnings),
        sheet=sheet,
        snapshots_dir=setting("output", "snapshots", "snapshots"),
        limits=limits,
        public_words=public_words,
        demo=workbook.get("demo") is True,
    )


# --- reading kit.toml as office staff save it ------------------------------------------------
# Notepad writes UTF-8 with a BOM, "ANSI" (GBK on a Chinese Windows) or "Unicode" (UTF-16);
# staff write Windows paths with single backslashes and type = and quotes with a Chinese IME.

# keys whose values are file or folder locations: their backslashes are path separators
PATH_KEYS = frozenset({"workbook.path", "workbook.credentials", "output.site", "output.private", "output.snapshots"})

_UTF16_BOMS = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=")
_PATH_LINE = re.compile(r'^(\s*[A-Za-z0-9_.\- ]+?\s*=\s*)"([^"]*)"(\s*(?:#.*)?)$')
_SIMPLE_ESCAPES = frozenset('btnfr"\\')
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_HEX8 = re.compile(r"[0-9A-Fa-f]{8}")
_LINE_END_ESCAPE = re.compile(r"[ \t]*\r?\n")
_SAVE_AS_UTF8 = "请用记事本打开它，选“文件 → 另存为”，编码选“UTF-8”后保存，再运行。"


def _read_config(path: Path) -> str:
    """kit.toml's text: UTF-8 (with or without BOM), UTF-16 with a BOM, or GBK/GB18030."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProjectError(f"无法读取项目配置“{path}”：{exc}") from None
    for bom, encoding in _UTF16_BOMS:
        if data.startswith(bom):
            try:
                return _clean_text(data[len(bom):].decode(encoding))
            except UnicodeDecodeError:
                raise ProjectError(f"项目配置“{path}”像是“Unicode”编码保存的，但内容不完整，无法读取。"
                                   f"{_SAVE_AS_UTF8}") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return _clean_text(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise ProjectError(f"项目配置“{path}”的文字编码无法识别（既不是 UTF-8，也不是 GBK），读不出来。{_SAVE_AS_UTF8}")


def _clean_text(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text  # a BOM left by gb18030 or a doubled one


def _parse_config(text: str) -> dict:
    try:
        return tomllib.loads(_tolerant_toml(text))
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text) from None


def _tolerant_toml(text: str) -> str:
    """text with staff's Windows paths made valid TOML; never changes the meaning of valid TOML
    except for path keys, whose backslashes are always separators ("sheets\\new.xlsx" is no newline).
    Keeps every line where it was, so the parser's line numbers are the file's."""
    lines = text.split("\n")
    for index, (name, _kind) in _statements(lines):
        if name not in PATH_KEYS:
            continue
        line = lines[index]
        cr = "\r" if line.endswith("\r") else ""
        match = _PATH_LINE.match(line[: len(line) - len(cr)])
        if match is None or "\\" not in match.group(2) or _only_escaped_backslashes(match.group(2)):
            continue
        head, value, tail = match.groups()
        if "'" not in value:
            lines[index] = f"{head}'{value}'{tail}{cr}"
        else:
            lines[index] = f'{head}"{value.replace(chr(92), chr(92) * 2)}"{tail}{cr}'
    return _escape_stray_backslashes("\n".join(lines))


def _only_escaped_backslashes(value: str) -> bool:
    r"""Every backslash doubled ("D:\\积分\\台账.xlsx"): correct TOML already, left to the parser."""
    return not re.search(r"\\", value.replace("\\\\", ""))


def _statements(lines: list[str]):
    """(line index, (dotted name, "key" or "table")) of the lines that set a key or open a table."""
    table = ""
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if line.lstrip().startswith("["):
            table = re.sub(r"\s*\.\s*", ".", header.group(1)) if header else "?"
            yield index, (table, "table")
            continue
        key = _KEY.match(line)
        if key:
            name = re.sub(r"\s*\.\s*", ".", key.group(1))
            yield index, (f"{table}.{name}" if table else name, "key")


def _escape_stray_backslashes(text: str) -> str:
    """A backslash in a "basic string" that starts no valid TOML escape is meant literally
    ("C:\\积分\\台账.xlsx"): double it. Text that parses already is returned unchanged."""
    out: list[str] = []
    state = ""  # "", "#", '"', '"""', "'", "'''"
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if state == "":
            for opener in ('"""', "'''", '"', "'", "#"):
                if text.startswith(opener, i):
                    state = opener
                    out.append(opener)
                    i += len(opener)
                    break
            else:
                out.append(c)
                i += 1
            continue
        if state == "#" or state == "'" or state == '"':
            if c == "\n" or (c == state and state != "#"):
                state = ""
            elif c == "\\" and state == '"':
                i = _escape(text, i, out, multiline=False)
                continue
            out.append(c)
            i += 1
            continue
        quote = state[0]  # a multi-line string: closed by three (to five) quotes
        if c == quote and text.startswith(state, i):
            run = len(text[i:i + 5]) - len(text[i:i + 5].lstrip(quote))
            out.append(text[i:i + run])
            i += run
            state = ""
            continue
        if c == "\\" and quote == '"':
            i = _escape(text, i, out, multiline=True)
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _escape(text: str, i: int, out: list[str], multiline: bool) -> int:
    """Copy the escape at text[i] (a backslash) to out; the index after it."""
    nxt = text[i + 1:i + 2]
    if nxt and nxt in _SIMPLE_ESCAPES:
        out.append(text[i:i + 2])
        return i + 2
    for letter, digits, length in (("u", _HEX4, 4), ("U", _HEX8, 8)):
        if nxt == letter and digits.fullmatch(text, i + 2, i + 2 + length):
            out.append(text[i:i + 2 + length])
            return i + 2 + length
    if multiline and _LINE_END_ESCAPE.match(text, i + 1):
        out.append("\\")
        return i + 1
    out.append("\\\\")
    return i + 1


def _path_text(value: str) -> str:
    """A path as written in kit.toml, with / for every \\ so that it works on Linux too;
    D:/积分/台账.xlsx stays absolute on Windows, //server/share stays a network path."""
    value = value.strip().replace("\\", "/")
    head, rest = ("//", value[2:].lstrip("/")) if value.startswith("//") else ("", value)
    return head + re.sub("/{2,}", "/", rest)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _line_of(text: str, name: str) -> int | None:
    """The 1-based line where the key or table name (e.g. "limits.max_file_mb") is set."""
    lines = text.split("\n")
    for index, (found, _kind) in _statements(lines):
        if found == name:
            return index + 1
    return None


def _where(text: str, name: str) -> str:
    line = _line_of(text, name)
    return f"kit.toml 第 {line} 行的“{name}”" if line else f"kit.toml 中的“{name}”"


def _with_line(exc: ProjectError, text: str) -> ProjectError:
    """exc's message (kit.toml 中的“limits.x”…) with the line of that setting, where it is known."""
    match = re.search(r"“((?:limits|privacy)\.\w+)”", exc.message) or re.search(r"\[(limits|privacy)\]", exc.message)
    line = _line_of(text, match.group(1)) if match else None
    if line is None:
        return exc
    if "kit.toml 中的" in exc.message:
        return ProjectError(exc.message.replace("kit.toml 中的", f"kit.toml 第 {line} 行的", 1))
    return ProjectError(f"{exc.message}（kit.toml 第 {line} 行）")


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> ProjectError:
    """kit.toml 第 N 行格式有误：<the line>。<a hint>, never the parser's English."""
    message = getattr(exc, "msg", None) or str(exc)
    lines = [line.rstrip("\r") for line in text.split("\n")]
    lineno = getattr(exc, "lineno", None)  # Python 3.14+
    if not isinstance(lineno, int):
        match = re.search(r"at line (\d+)", str(exc))
        lineno = int(match.group(1)) if match else None
    if lineno is None or not 1 <= lineno <= len(lines):  # "at end of document": the last line written
        lineno = max((i + 1 for i, line in enumerate(lines) if line.strip()), default=1)
    line = lines[lineno - 1].strip() if lineno <= len(lines) else ""
    shown = line if len(line) <= 80 else line[:80] + "…"
    return ProjectError(f"kit.toml 第 {lineno} 行格式有误：{shown or '（空行）'}。{_hint(message, line)}")


def _outside_strings(line: str) -> str:
    """line without its quoted texts and its comment: where a stray full-width mark is a mistake."""
    out, quote, i = [], "", 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _hint(message: str, line: str) -> str:
    code = _outside_strings(line)
    key = _KEY.match(line)
    if "＝" in code:
        return "这一行的等号“＝”是全角的（中文输入法打出来的），请切换到英文输入法，改成半角的 =。"
    if any(q in code for q in "“”‘’") or (line.count('"') % 2 and any(q in line for q in "“”")):
        return "这一行的引号是全角的中文引号（“ ”），请切换到英文输入法，改成半角的英文双引号 \"。"
    if any(b in code for b in "［］【】"):
        return "这一行的方括号是全角的，请切换到英文输入法，写成半角的 [ ]，如 [workbook]。"
    if "twice" in message or "Cannot redefine" in message or ("[" in code and "Cannot" in message):
        return "这一节在 kit.toml 里写了两次，请把两处的设置合并到同一节里，删掉多出来的节名。"
    if "Cannot overwrite" in message or "Duplicate" in message or "Cannot mutate" in message:
        name = f"“{key.group(1)}”" if key else "这个设置"
        return f"{name}在同一节里写了两次，只能保留一个：请删掉多余的那一行。"
    if line.lstrip().startswith("[") and not code.rstrip().endswith("]"):
        return "节名两边都要有半角方括号，如 [workbook]。"
    if "Expected '='" in message or ("=" not in code and "Invalid statement" in message):
        return "这一行缺少等号 =，设置要写成 名称 = 值，如 path = \"sheets/ledger.xlsx\"。"
    if "Unterminated string" in message or line.count('"') % 2 or line.count("'") % 2:
        return "这一行的引号没有配对：文字两边各要有一个英文双引号 \"，请检查是否少了一个。"
    if "Invalid value" in message:
        return ("等号右边的值写法不对：文字要用英文双引号括起来（如 site = \"site\"），"
                "数字直接写（如 max_file_mb = 300），是和否写 true、false。")
    if "Expected newline" in message:
        return "一行只能写一项设置；值后面如果要写说明，请以 # 开头。"
    if "character" in message:
        return "这一行有看不见的特殊字符，请删掉这一行，用英文输入法重新输入。"
    return "请对照 kit init 生成的 kit.toml 检查这一行：文字用英文双引号括起来，等号和引号都用半角。"


def _public_words(section: object) -> tuple[str, ...]:
    words = section.get("public_words", []) if isinstance(section, dict) else []
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ProjectError("kit.toml 中的“privacy.public_words”应是一组文字，如 public_words = [\"高明\", \"文明\"]。")
    return tuple(w.strip() for w in words if w.strip())


def skeleton_dir() -> Path:
    """Pages and site config copied into new projects (packaged, or this checkout)."""
    packaged = Path(__file__).parent / "_skeleton"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent


def init_project(root: Path, example: bool) -> list[Path]:
    """Create a project in root; refuses to overwrite anything that exists."""
    from kit.example import example_book
    from kit.keys import new_secret
    from kit.model import Book
    from kit.template import write_book
    from kit.tokens import new_token

    root = Path(root)
    skeleton = skeleton_dir()
    planned = [root / CONFIG_NAME, root / DEFAULT_WORKBOOK, root / "mkdocs.yml", root / "docs"]
    existing = [p for p in planned if p.exists()]
    if existing:
        names = "、".join(str(p) for p in existing)
        raise ProjectError(f"{names} 已经存在。为了不覆盖已有的资料，kit init 已停止；请换一个空文件夹。")
    root.mkdir(parents=True, exist_ok=True)
    book = example_book() if example else Book()
    # never the demo's secret or card tokens: those are public in the kit's own repository
    fresh = dataclasses.replace(book.settings, pseudonym_secret=new_secret())
    residents = tuple(dataclasses.replace(r, card_token=new_token() if r.card_token else None)
                      for r in book.residents)
    write_book(root / DEFAULT_WORKBOOK, dataclasses.replace(book, settings=fresh, residents=residents))
    (root / CONFIG_NAME).write_text(CONFIG_TEXT.format(workbook=DEFAULT_WORKBOOK), encoding="utf-8")
    shutil.copyfile(skeleton / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(skeleton / "docs", root / "docs")
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(GITIGNORE, encoding="utf-8")
    return planned
