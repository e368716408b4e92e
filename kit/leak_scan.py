"""The last check before a site is published: no personal data in any output file.

Every file the build wrote is read as a reader or a search engine would read it
(gzip opened, JSON strings decoded, HTML entities resolved, the zero-width spaces of
Chinese search segmentation removed) and searched for what the workbook holds
about people: residents' and staff names, resident and staff ids, phones, notes,
appeal reasons, card numbers and the pseudonym secret. One hit and nothing is
published. Text that is itself public in the workbook (a note that only repeats a
rule's name) and words the project declares public (kit.toml [privacy]) are not hits.
"""

from __future__ import annotations

import gzip
import os
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from kit.errors import KitError
from kit.keys import retired_tokens, split_keys
from kit.model import Book

ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
SPACES = re.compile(r"\s+")
# copied from the theme or the kit: code, not data (and the sealed files are ciphertext)
SKIPPED = re.compile(r"^(assets/javascripts/|assets/stylesheets/|me/d/[0-9a-f]+\.bin$)")
LEAVES = "ledger/leaves.txt"
_LEAF_LINES = re.compile(r"(?:[a-p]{64}\n)*")  # kit/fingerprint.py hash_text, one per line
MIN_FREE_TEXT = 6  # notes and reasons shorter than this are ordinary words
MIN_DIGIT_ID = 6  # a shorter all-digit id cannot be told from any number on a page
PHONE_TAIL = 8  # the last 8 digits of a phone identify it
_DIGIT_RUN = re.compile(r"\d(?:[\s\-.]?\d){6,}")
_BASE32_RUN = re.compile(r"[A-Z2-7](?:[- ]?[A-Z2-7]){25,}")  # grouped by dashes or spaces, as typed
_TAG = re.compile(r"<[^<>]*>")
_INLINE_TAG = re.compile(r"</?(?:a|abbr|b|bdi|bdo|cite|code|data|dfn|em|i|kbd|mark|q|s|samp|small|span|strong|sub|sup|"
                         r"time|u|var|wbr)\b[^<>]*>", re.I)
_WORD = re.compile(r"[A-Za-z0-9]")


class PersonalDataOnSite(KitError):
    code = "personal-data-on-site"
    exit_status = 1  # like a workbook error: remove it and build again


@dataclass(frozen=True)
class Secret:
    what: str  # 居民姓名, 手机, …
    where: str  # “居民”表第 12 行
    bounded: bool = False  # an id: not part of a longer word


@dataclass(frozen=True)
class Leak:
    file: str  # relative to the site
    what: str
    where: str


def _text(value: str | None) -> str:
    return unicodedata.normalize("NFKC", SPACES.sub("", value or ""))


def personal_data(book: Book, public_words: Iterable[str] = (), kit_text: str = "") -> tuple[
        dict[str, Secret], dict[str, Secret], dict[str, Secret]]:
    """(substrings, phone tails, card tokens) to look for, each with what it is and where it came from.

    kit_text: the kit's own page texts; an id or phrase they use as an example (R0001,
    不是本人参加的活动) tells nothing about the resident who has it too."""
    public = {_text(w) for w in public_words}
    vocabulary = _Vocabulary("\n".join([*(_text(t) for t in _public_texts(book)), _text(kit_text)]))
    strings: dict[str, Secret | None] = {}  # None: seen, not a secret

    def add(text: str | None, what: str, where: str, minimum: int = 2, bounded: bool = False) -> None:
        if text and text not in strings:  # a million notes repeat a few phrases: each is looked at once
            clean = _text(text)
            if len(clean) >= minimum and clean not in public and clean not in vocabulary:
                strings.setdefault(clean, Secret(what, where, bounded))
            strings.setdefault(text, None)

    def add_id(value: str, what: str, where: str) -> None:
        add(value, what, where, MIN_DIGIT_ID if value.isdigit() else 2, bounded=True)

    phones: dict[str, Secret] = {}
    tokens: dict[str, Secret] = {}
    for r in book.residents:
        where = f"“居民”表第 {r.row} 行"
        add(r.name, "居民姓名", where)
        add_id(r.resident_id, "居民编号", where)
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", r.phone or ""))
        if len(digits) >= PHONE_TAIL:
            phones.setdefault(digits[-PHONE_TAIL:], Secret("居民手机号码", where))
        for token in (r.card_token, *retired_tokens(r)):
            if token:
                tokens.setdefault(token.upper(), Secret("积分卡卡号", where))
    for s in book.staff:
        where = f"“工作人员”表第 {s.row} 行"
        add(s.name, "工作人员姓名", where)
        add_id(s.staff_id, "工作人员工号", where)
    for e in book.entries:
        add(e.note, "积分记录的备注", f"“积分记录”表第 {e.row} 行", MIN_FREE_TEXT)
    for a in book.appeals:
        add(a.reason, "申诉理由", f"“申诉”表第 {a.row} 行", MIN_FREE_TEXT)
    for secret in (book.settings.pseudonym_secret, *split_keys(book.settings.retired_secrets)):
        if secret:
            strings[secret] = Secret("化名密钥", "“设置”表")
    return {k: v for k, v in strings.items() if v is not None}, phones, tokens


class _Vocabulary:
    """`x in vocabulary`: is x part of the public text; short x (names, ids) by set lookup."""

    SHORT = 8

    def __init__(self, text: str):
        self.text = text
        self.short = {text[i:i + n] for n in range(2, self.SHORT + 1) for i in range(len(text) - n + 1)}

    def __contains__(self, item: str) -> bool:
        return item in self.short if len(item) <= self.SHORT else item in self.text


def _public_texts(book: Book) -> Iterator[str]:
    s = book.settings
    yield from (s.site_name, s.organization, s.site_url)
    for g in book.grids:
        yield from (g.grid_name, g.community or "")
    for r in book.rules:
        yield from (r.name, r.category, r.unit, r.audience or "", r.description or "")
    for b in book.bonuses:
        yield from (b.name, b.category or "")
    for w in book.rewards:
        yield from (w.name, w.description or "")


def readable_text(name: str, data: bytes) -> str:
    """A file's text as a reader or a search engine would see it."""
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            pass
    text = data.decode("utf-8", errors="replace")
    parts = [text]
    if name.endswith((".json", ".json.gz")):
        try:
            parts += _json_strings(json.loads(text))
        except ValueError:
            pass
    joined = "\n".join(parts)
    joined += "\n" + html.unescape(joined)
    if name.endswith((".html", ".xml", ".svg", ".json")):  # 张<strong>宝</strong>三 reads 张宝三; cells stay apart
        joined += "\n" + _TAG.sub(" ", _INLINE_TAG.sub("", joined))
    return ZERO_WIDTH.sub("", joined)


def _json_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _json_strings(k) + _json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    return []


class Scanner:
    def __init__(self, book: Book, public_words: Iterable[str] = (), kit_text: str = ""):
        self.strings, self.phones, self.tokens = personal_data(book, public_words, kit_text)
        self.automaton = ahocorasick.Automaton()
        for text, secret in self.strings.items():
            self.automaton.add_word(text, (len(text), secret))
        if self.strings:
            self.automaton.make_automaton()

    def scan_text(self, text: str) -> list[Secret]:
        text = unicodedata.normalize("NFKC", text)  # full-width digits and letters read as ASCII
        found: list[Secret] = []
        if self.strings:
            for end, (length, secret) in self.automaton.iter(text):
                start = end - length + 1
                if secret.bounded and (start > 0 and _WORD.match(text[start - 1])
                                       or end + 1 < len(text) and _WORD.match(text[end + 1])):
                    continue
                found.append(secret)
        if self.phones:
            for run in _DIGIT_RUN.findall(text):
                digits = re.sub(r"\D", "", run)
                found += [self.phones[digits[i:i + PHONE_TAIL]] for i in range(len(digits) - PHONE_TAIL + 1)
                          if digits[i:i + PHONE_TAIL] in self.phones]
        if self.tokens:
            tokens = self.tokens
            for run in _BASE32_RUN.findall(text.upper()):
                compact = re.sub(r"[- ]", "", run)
                for i in range(len(compact) - 25):
                    if (secret := tokens.get(compact[i:i + 26])) is not None:
                        found.append(secret)
        return found

    def scan_site(self, site: Path) -> list[Leak]:
        leaks: list[Leak] = []
        for name in _files(Path(site)):
            path = Path(site) / name
            if SKIPPED.match(name):
                continue
            if name == LEAVES:  # a million hashes: checked for their shape, which leaves room for nothing else
                if not _LEAF_LINES.fullmatch(path.read_text(encoding="ascii", errors="replace")):
                    leaks.append(Leak(name, "不是哈希的内容", "账本指纹"))
                continue
            for secret in dict.fromkeys(self.scan_text(readable_text(name, path.read_bytes()))):
                leaks.append(Leak(name, secret.what, secret.where))
        return leaks


def _files(site: Path) -> list[str]:
    """Every file under site as a relative posix path, sorted (as strings: 100,000 sealed
    files make pathlib's sorting the slowest part of the scan)."""
    found = []
    for folder, _, names in os.walk(site):
        relative = os.path.relpath(folder, site).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        found += [prefix + n for n in names]
    return sorted(found)


def leak_message(leaks: list[Leak]) -> str:
    shown = "；".join(f"{leak.what}（{leak.where}）出现在 {leak.file}" for leak in leaks[:10])
    more = f" 等 {len(leaks)} 处" if len(leaks) > 10 else ""
    return (f"生成的网站里发现了个人信息，所以没有发布（原来的网站保持不变）：{shown}{more}。"
            "请从 docs/ 里的页面、放进 docs/ 的文件或表格里会公开的栏目（规则、奖品、网格的名称和说明）中删除它们，"
            "再运行 kit build。如果只是和某位居民同名的普通词语，可以在 kit.toml 里加一节 [privacy]，"
            "写 public_words = [\"这个词\"]，说明它可以公开。")


_LONG_NUMBER = re.compile(r"\d(?:[\s\-]?\d){6,}")  # 7 digits or more: a phone, an id card, a card


def reason_faults(reason: str, book: Book, public_words: Iterable[str] = ()) -> list[str]:
    """What in a --rewrite-history reason must not be published (it stays public forever)."""
    text = unicodedata.normalize("NFKC", reason)
    faults = [f"{secret.what}（{secret.where}）" for secret in dict.fromkeys(Scanner(book, public_words).scan_text(text))]
    if _LONG_NUMBER.search(text):
        faults.append("一长串数字（像电话、身份证或卡号）")
    if len(reason) > 200:
        faults.append("超过 200 个字")
    return faults
