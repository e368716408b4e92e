"""The public site: render pages into a staging folder, run mkdocs, swap into place.

Nothing touches the published folder until the whole build has succeeded, so a
failed or interrupted build leaves the previous site exactly as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import yaml
from markupsafe import Markup

from kit import charts
from kit.csp import policies_in_place, secure_pages
from kit.images import IMAGES, clean_image
from kit.leak_scan import PersonalDataOnSite, Scanner, leak_message
from kit.errors import BuildRunning, KitError
from kit.problems import visible
from kit.ledger import Ledger
from kit.lock import Busy, exclusive
from kit.model import Book
from kit.project import Project, skeleton_dir
from kit.docs_pages import fill_pages, placeholders_page, render_quizzes
from kit.fingerprint import (PRIVATE_MAP, PUBLISHED_DIR, History, PrivateRows, Published, current_leaves,
                             extend, published_files, read_published)
from kit.opendata import datasets
from kit.opendata import files as opendata_files
from kit.personal import PersonalView, iter_personal_views
from kit.tables import Tables
from kit.training import Facts, training_facts
from kit.tokens import FILE_INFO, KEY_INFO, file_id, seal
from kit.views import SiteView, config_text, site_context, site_view

# Generated pages, in navigation order: (file, nav title, template).
PAGES = (
    ("index.md", "首页", "home.md.j2"),
    ("menu.md", "积分菜单", "menu.md.j2"),
    ("rewards.md", "兑换目录", "rewards.md.j2"),
    ("ranking.md", "排行榜", "ranking.md.j2"),
    ("notice.md", "积分公示", "notice.md.j2"),
    ("dashboard.md", "数据看板", "dashboard.md.j2"),
    ("me.md", "我的积分", "me.md.j2"),
    ("data.md", "开放数据", "data.md.j2"),
    ("fingerprint.md", "账本指纹", "fingerprint.md.j2"),
)
# Hand-written pages from docs/ that have a fixed place; other docs pages follow them.
HAND_WRITTEN = (("privacy.md", "隐私说明"),)
ASSETS = ("kit.css", "kit-crypto.js", "me.js", "quiz.js")
DOCS_TEXT = (".md", ".quiz.yml")  # what may be published from docs/, besides pictures (kit/images.py)
MAX_PAGE_BYTES = 1024 * 1024
OS_LITTER = {"thumbs.db", "desktop.ini"}  # written by Windows Explorer, never published
SECTIONS = {"training": "培训中心"}  # docs/ folders shown as a section of the navigation
PLACEHOLDERS_PAGE = "training/placeholders.md"
PERSONAL_DIR = ("me", "d")  # sealed personal files: site/me/d/<file id>.bin
PAGE_ROWS = 200  # notice lines on one page
PAGE_GRIDS = 10  # grids' ranking boards on one page
MIN_SEALED = 4096  # sealed files come in sizes 4, 8, 16, 32 … KB (sealed_size)
SEAL_OVERHEAD = 28  # nonce and tag (kit/tokens.py seal)
# Beside the site folder: the build lock, and one staging folder per running build.
LOCK_FILE = ".kit-build.lock"
STAGE_PREFIX = ".kit-build-"
OLD_SITES = "old"  # <stage>/old/<site name>: the previous site, moved aside during a two-step swap


class BuildError(KitError):
    code = "build-failed"


@dataclass(frozen=True)
class Built:
    site_dir: Path
    files: int
    bytes: int
    warnings: tuple[str, ...]  # what mkdocs warned about


Progress = Callable[[str], None]


def build_site(project: Project, book: Book, ledger: Ledger, tables: Tables | None = None,
               progress: Progress = lambda step: None, rewrite_reason: str | None = None) -> Built:
    """Build the site for book/ledger and publish it into project.site_dir atomically.

    tables (where each sheet and column sits in the file) lets training pages use
    the sheet and column names exactly as this community's workbook writes them.

    One build at a time per folder holding the site: the lock covers reading the
    published fingerprint, building and the swap, so two builds never interleave.
    A killed build leaves at most a staging folder, cleaned up by the next one."""
    project.check_secret(book.settings.pseudonym_secret, "发布网站")
    site_dir = project.site_dir
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive(site_dir.parent / LOCK_FILE):
            _recover(site_dir.parent)
            return _build(project, book, ledger, tables, progress, rewrite_reason)
    except Busy:
        # Refuse at once rather than wait: a build can take minutes, a silent wait
        # looks like a hang, and the waiting run may hold older data than the
        # running one; staff simply run it again when the other one has finished.
        raise BuildRunning(f"另一个 kit build 正在生成这个网站（{site_dir}），可能在另一个窗口或计划任务里。"
                           "为了不让两次生成互相覆盖，这一次没有运行，网站保持不变。请等那一次结束后再运行 kit build。"
                           ) from None


def _build(project: Project, book: Book, ledger: Ledger, tables: Tables | None, progress: Progress,
           rewrite_reason: str | None) -> Built:
    site_dir = project.site_dir
    progress(f"核对账本指纹（{len(ledger.awards):,} 条计分记录）")
    published = read_published(site_dir)
    known_rows = PrivateRows(project.private_dir)
    history = extend(published, current_leaves(book, ledger), ledger.as_of, known_rows, rewrite_reason, book)
    stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=site_dir.parent))
    try:
        progress("生成页面")
        docs = stage / "docs"
        context = site_context(book, ledger)
        view = site_view(book, ledger, context)
        _copy_hand_written(project.root / "docs", docs)
        _training(project.root, docs, training_facts(book, tables, ledger.as_of))
        _render_pages(project.root, docs, view, history)
        config = _mkdocs_config(project.root, stage, book, docs)
        progress("mkdocs 构建网站")
        warnings = _run_mkdocs(config, ledger.as_of)
        secure_pages(stage / "site")
        progress(f"加密个人积分（{sum(1 for r in book.residents if r.card_token):,} 张积分卡）")
        _write_personal(stage / "site", iter_personal_views(context, view.home.site_name, history))
        _write_robots(stage / "site", book.settings.site_url)
        ledger_dir = stage / "site" / PUBLISHED_DIR
        ledger_dir.mkdir()
        for name, text in published_files(history).items():
            (ledger_dir / name).write_text(text, encoding="utf-8")
        _check_published(stage / "site", book, project.public_words, progress)
        progress("发布（替换旧网站）")
        files, size = _measure(stage / "site")
        # Before the swap, and naming the rows of both the published and the new
        # leaves: wherever a kill lands, the map covers the site then in place.
        # (Without a rewrite every published leaf is in history already.)
        kept = _still_published(published, known_rows) if rewrite_reason else {}
        same_leaves = (not rewrite_reason and published is not None and len(history.leaves) == len(published.leaves)
                       and (project.private_dir / PRIVATE_MAP).is_file())
        if not same_leaves:  # else the map from the build that published them is still whole
            _write_private_rows(project.private_dir, history, kept)
        _swap(stage / "site", site_dir, stage)
        return Built(site_dir, files, size, tuple(warnings))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _check_published(site: Path, book: Book, public_words: tuple[str, ...], progress: Progress) -> None:
    """The product's own last line of defence, on the finished folder, before it replaces the site."""
    progress("检查网站里有没有个人信息")
    wrong = policies_in_place(site)
    if wrong:
        raise BuildError("网站页面缺少安全设置（Content-Security-Policy），没有发布：" + "；".join(wrong[:5]))
    leaks = Scanner(book, public_words, _kit_text()).scan_site(site)
    if leaks:
        raise PersonalDataOnSite(leak_message(leaks))


@functools.cache
def _kit_text() -> str:
    """The texts the kit ships (pages it generates, training it copies into projects)."""
    skeleton = skeleton_dir()
    files = [*sorted((skeleton / "docs").rglob("*")), *sorted((skeleton / "templates" / "pages").glob("*.j2"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in files if p.is_file() and p.suffix in (".md", ".yml", ".j2"))


def _templates(root: Path) -> jinja2.Environment:
    """The project's templates/ overrides the kit's own, file by file."""
    folders = [root / "templates", skeleton_dir() / "templates"]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders if f.is_dir()]),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, finalize=_shown,
    )


def _shown(value: object) -> object:
    """Workbook text never brings control or bidi characters onto a page (a U+202E in a
    name would show it reversed); they print as �."""
    if isinstance(value, str) and not isinstance(value, Markup):  # Markup is the kit's own
        return visible(value)
    return value


def _copy_hand_written(source: Path, docs: Path) -> None:
    """Only what belongs on a public site leaves docs/: pages, quizzes and pictures (cleaned).

    Anything else there (a copied workbook, a PDF of cards, a shortcut to a private
    folder) stops the build and is named, rather than being published or silently left out."""
    docs.mkdir(parents=True)
    if not source.is_dir():
        return
    refused = []
    if source.is_symlink():
        refused.append("docs/ 本身是快捷方式（符号链接）")
    for folder, folders, names in os.walk(source) if not refused else ():
        here = Path(folder)
        for name in list(folders):
            if name.startswith(".") or (here / name).is_symlink():
                folders.remove(name)
                if not name.startswith("."):
                    refused.append(f"{_docs_name(source, here / name)}/ 是快捷方式（符号链接）")
        for name in sorted(names):
            path = here / name
            where = _docs_name(source, path)
            if name.startswith((".", "~$")) or name.lower() in OS_LITTER:
                continue
            if path.is_symlink():
                refused.append(f"{where} 是快捷方式（符号链接）")
                continue
            lower = name.lower()
            if not lower.endswith(DOCS_TEXT + IMAGES):
                refused.append(f"{where} 不是网页、测验或图片")
                continue
            data = path.read_bytes()
            target = docs / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if lower.endswith(DOCS_TEXT):
                if len(data) > MAX_PAGE_BYTES:
                    refused.append(f"{where} 超过 {MAX_PAGE_BYTES // 1024 // 1024} MB")
                    continue
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    raise BuildError(f"{where} 不是 UTF-8 编码，请用记事本“另存为”时"
                                     "把编码选为 UTF-8 后再试。") from None
            else:
                data = clean_image(data, path.suffix, where)
            target.write_bytes(data)
    if refused:
        raise BuildError("docs/ 里只能放网页（.md）、测验（.quiz.yml）和图片（png、jpg、webp、svg），它们会全部公开。"
                         f"这些不能发布：{'；'.join(refused)}。请把它们移到 docs/ 以外的文件夹"
                         "（表格放在 sheets/，积分卡等含个人信息的文件放在 private/）后再运行 kit build。"
                         "原来的网站没有改动。")
    for name, _, _ in PAGES:
        if (docs / name).exists():
            raise BuildError(f"docs/{name} 与自动生成的页面重名，请把它改个名字（例如 docs/关于我们.md）。")


def _docs_name(source: Path, path: Path) -> str:
    return "docs/" + path.relative_to(source).as_posix()


def _training(root: Path, docs: Path, facts: Facts) -> None:
    """Hand-written pages with this community's numbers; quizzes; the placeholder list."""
    fill_pages(docs, facts)
    render_quizzes(docs, facts, _templates(root))
    if (docs / PLACEHOLDERS_PAGE).parent.is_dir():
        (docs / PLACEHOLDERS_PAGE).write_text(placeholders_page(facts), encoding="utf-8")


def _write_private_rows(private_dir: Path, history: History, published: dict[str, dict]) -> None:
    """Which row made which leaf, to name rows if a published one changes (never published).

    published: the rows of leaves the site in place publishes now (they differ from
    history's only after a declared rewrite). Written whole or not at all."""
    private_dir.mkdir(parents=True, exist_ok=True)
    target = private_dir / PRIVATE_MAP
    tmp = target.with_name(f".{target.name}.part")
    rows = {key: (row["sheet"], row["row"], row["id"], row.get("why", "")) for key, row in published.items()}
    rows.update((leaf.hash.hex(), (leaf.sheet, leaf.row, leaf.ident, leaf.detail)) for leaf in history.leaves)
    quote = json.encoder.encode_basestring_ascii  # C; tuples, not a million dicts and one huge string
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write("{")
        for n, key in enumerate(sorted(rows)):
            sheet, row, ident, why = rows[key]
            # why: how the points came about (kit/fingerprint.py Leaf.detail), to name a re-priced record
            fh.write(f'{", " if n else ""}"{key}": {{"id": {quote(ident)}, "row": {row}, "sheet": {quote(sheet)}'
                     + (f', "why": {quote(why)}}}' if why else "}"))
        fh.write("}")
    tmp.replace(target)


def _still_published(published: Published | None, known_rows: Mapping[str, dict]) -> dict[str, dict]:
    """known_rows of the leaves the current site publishes; rows of leaves no site holds are dropped."""
    if published is None:
        return {}
    return {h.hex(): known_rows[h.hex()] for h in published.leaves if h.hex() in known_rows}


def _render_pages(root: Path, docs: Path, view: SiteView, history: History) -> None:
    env = _templates(root)
    chart_svgs = _charts(view)
    context = dict(
        title=view.home.site_name, organization=view.home.organization, home=view.home, menu=view.menu,
        rewards=view.rewards, ranking=view.ranking, notice=view.notice, dashboard=view.dashboard,
        charts=chart_svgs, crypto=dict(file_info=FILE_INFO.decode(), key_info=KEY_INFO.decode()),
        datasets=datasets(view.dashboard), as_of=view.home.as_of,
        checkpoints=tuple(reversed(history.checkpoints)),
    )
    for name, _, template in PAGES:
        for file, page_context in _paginated(name, context):
            try:
                text = env.get_template(f"pages/{template}").render(page_context)
            except jinja2.TemplateSyntaxError as exc:
                raise BuildError(f"页面模板 {exc.filename or template} 第 {exc.lineno} 行有语法错误：{exc.message}") from None
            except jinja2.TemplateError as exc:
                raise BuildError(f"页面模板 pages/{template} 出错：{exc}。如果改过 templates/ 里的模板，请检查。") from None
            (docs / file).write_text(text, encoding="utf-8")
    (docs / "data").mkdir(exist_ok=True)
    for name, text in opendata_files(view.dashboard).items():
        (docs / "data" / name).write_text(text, encoding="utf-8")
    assets = docs / "assets"
    assets.mkdir(exist_ok=True)
    for name in ASSETS:
        source = root / "templates" / "assets" / name
        if not source.is_file():
            source = skeleton_dir() / "templates" / "assets" / name
        shutil.copyfile(source, assets / name)


@dataclass(frozen=True)
class Pager:
    number: int  # 1-based
    count: int
    previous: str | None  # page file names, for Markdown links
    next: str | None


def _paginated(name: str, context: dict) -> list[tuple[str, dict]]:
    """Pages that list residents come in parts of PAGE_ROWS lines (PAGE_GRIDS grids'
    boards), so a sub-district's notice is many small pages, not one huge one."""
    if name == "notice.md":
        key, view = "notice", context["notice"]
        views = [dataclasses.replace(view, lines=part) for part in _parts(view.lines, PAGE_ROWS)]
    elif name == "ranking.md":
        key, view = "ranking", context["ranking"]
        views = [dataclasses.replace(view, grids=part) for part in _parts(view.grids, PAGE_GRIDS)]
    else:
        return [(name, {**context, "pager": None})]
    files = [name] + [f"{name[:-3]}-{n}.md" for n in range(2, len(views) + 1)]
    return [(file, {**context, key: part, "pager": Pager(i + 1, len(files), files[i - 1] if i else None,
                                                          files[i + 1] if i + 1 < len(files) else None)})
            for i, (file, part) in enumerate(zip(files, views))]


def _parts(items: tuple, size: int) -> list[tuple]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [()]


def _write_personal(site: Path, views: Iterable[tuple[str, PersonalView]]) -> None:
    """One sealed file per card: named and keyed by the token, padded, in token order."""
    folder = site.joinpath(*PERSONAL_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for token, view in views:
        data = json.dumps(view.to_data(), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode("utf-8")
        data += b" " * (sealed_size(len(data)) - SEAL_OVERHEAD - len(data))
        (folder / f"{file_id(token)}.bin").write_bytes(seal(token, data))


def sealed_size(plain: int) -> int:
    """A sealed file's size: a power of two from 4 KB, so sizes tell only roughly how much
    history a resident has (they told the number of records almost exactly)."""
    return max(MIN_SEALED, 1 << (plain + SEAL_OVERHEAD - 1).bit_length())


def _write_robots(site: Path, site_url: str) -> None:
    base = urlsplit(site_url).path if site_url else "/"
    base = base if base.endswith("/") else base + "/"
    (site / "robots.txt").write_text(f"User-agent: *\nDisallow: {base}me/\n", encoding="utf-8")


def _charts(view: SiteView) -> dict[str, Markup]:
    d = view.dashboard
    svgs = {
        "monthly_points": charts.column_chart([(m.month[2:], m.points) for m in d.months], "每月发放的积分"),
        "monthly_people": charts.column_chart([(m.month[2:], m.participants) for m in d.months],
                                              "每月参与的居民"),
        "categories": charts.bar_chart([(s.label, s.points) for s in d.categories], "各类活动的积分"),
        "grids": charts.bar_chart([(g.grid, g.rate) for g in d.grids], "各网格参与率", percent=True),
    }
    return {k: Markup(v) for k, v in svgs.items()}  # charts escape their own labels


def _nav(docs: Path) -> list[dict]:
    """Generated pages, then docs/ folders as sections (index first, then by file name),
    then the fixed hand-written pages, then any other page; titles from each page's heading."""
    nav: list[dict] = [{title: name} for name, title, _ in PAGES]
    placed = {name for name, _, _ in PAGES} | {name for name, _ in HAND_WRITTEN}
    placed |= {p.name for name, _, _ in PAGES for p in docs.glob(f"{name[:-3]}-*.md")}  # later parts: linked, not in nav
    for folder, title in SECTIONS.items():
        pages = sorted((docs / folder).glob("*.md"), key=lambda p: (p.name != "index.md", p.name == "placeholders.md", p.name))
        if pages:
            nav.append({title: [{_title(p): p.relative_to(docs).as_posix()} for p in pages]})
            placed |= {p.relative_to(docs).as_posix() for p in pages}
    nav += [{title: name} for name, title in HAND_WRITTEN if (docs / name).exists()]
    for path in sorted(docs.rglob("*.md")):
        relative = path.relative_to(docs).as_posix()
        if relative not in placed:
            nav.append({_title(path): relative})
    return nav


def _title(page: Path) -> str:
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip().replace("\\", "")
    return page.stem


def _mkdocs_config(root: Path, stage: Path, book: Book, docs: Path) -> Path:
    """The project's mkdocs.yml (appearance) with what the kit must control set on top."""
    user_file = root / "mkdocs.yml"
    if not user_file.is_file():
        user_file = skeleton_dir() / "mkdocs.yml"
    try:
        config = yaml.safe_load(user_file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BuildError(f"{user_file} 格式有误：{exc}") from None
    if not isinstance(config, dict):
        raise BuildError(f"{user_file} 格式有误：最外层应是“名称: 值”的设置，而不是列表或文字。")
    _refuse_offsite(config, user_file)
    settings = book.settings
    theme = config.get("theme") if isinstance(config.get("theme"), dict) else {}
    theme.update(name="material", language="zh", font=False,  # no Google Fonts: blocked in mainland China
                 custom_dir=str(_overrides(root, stage)))
    extra = config.get("extra") if isinstance(config.get("extra"), dict) else {}
    extra["generator"] = False  # no link to the theme's site in every footer
    config.update(
        site_name=config_text(settings.site_name, "社区积分"),
        site_url=settings.site_url or None,
        copyright=config_text(settings.organization, "") or None,
        docs_dir=str(docs),
        site_dir=str(stage / "site"),
        use_directory_urls=True,
        theme=theme,
        extra=extra,
        extra_css=["assets/kit.css"],
        nav=_nav(docs),
        plugins=[{"search": {"lang": "zh"}}],
    )
    for key in ("repo_name", "edit_uri"):
        config.pop(key, None)  # links to a code host: meaningless without repo_url
    path = stage / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=True), encoding="utf-8")
    return path


# mkdocs.yml settings that make pages load from, or report to, another host
OFFSITE_SETTINGS = {
    "extra_javascript": "额外的网页脚本",
    "google_analytics": "谷歌访问统计",
    "repo_url": "代码仓库链接（网页会去 GitHub 等网站读取数据）",
    "extra.analytics": "访问统计",
    "extra.consent": "统计同意弹窗",
}


def _refuse_offsite(config: dict, user_file: Path) -> None:
    extra = config.get("extra") if isinstance(config.get("extra"), dict) else {}
    found = [f"{key}（{what}）" for key, what in OFFSITE_SETTINGS.items()
             if (extra.get(key[6:]) if key.startswith("extra.") else config.get(key))]
    if found:
        raise BuildError(f"{user_file} 里的 {'、'.join(found)} 会让公开网站运行别处的脚本或向其他网站发送访问记录，"
                         "这是不允许的（居民的手机只应访问本网站）。请删除这几项后再运行 kit build。")


def _overrides(root: Path, stage: Path) -> Path:
    """Theme overrides (no-referrer everywhere, noindex on the personal page)."""
    source = root / "templates" / "overrides"
    if not source.is_dir():
        source = skeleton_dir() / "templates" / "overrides"
    target = stage / "overrides"
    shutil.copytree(source, target)
    return target


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_build(as_of: dt.date) -> Iterator[_Collect]:
    """Reproducible dates (SOURCE_DATE_EPOCH) and mkdocs' log captured, not printed."""
    epoch = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.timezone.utc).timestamp()
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(epoch))
    collector = _Collect()
    loggers = [logging.getLogger(n) for n in ("mkdocs", "jieba", "material")]
    saved_state = [(lg, lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    for lg in loggers:
        lg.handlers = [collector] if lg.name == "mkdocs" else []
        lg.propagate = False
        lg.setLevel(logging.WARNING)
    try:
        yield collector
    finally:
        for lg, level, propagate, handlers in saved_state:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.handlers = handlers
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved


def _run_mkdocs(config_file: Path, as_of: dt.date) -> list[str]:
    import jieba  # material segments Chinese for search only when jieba imports
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    jieba.setLogLevel(logging.WARNING)
    with _quiet_build(as_of) as collector:
        try:
            config = load_config(str(config_file))
            build(config)
        except (MkDocsException, OSError) as exc:
            reasons = "；".join(collector.messages) or str(exc)
            raise BuildError(f"网站生成失败（mkdocs.yml 或 docs/ 里的页面有问题）：{reasons}。原来的网站没有改动。") from None
    return [m for m in collector.messages if "Material for MkDocs" not in m]


def _measure(folder: Path) -> tuple[int, int]:
    sizes = [p.stat().st_size for p in folder.rglob("*") if p.is_file()]
    return len(sizes), sum(sizes)


def _swap(new: Path, site_dir: Path, stage: Path) -> None:
    """Replace site_dir by new so that it holds one whole site at every instant.

    On Linux the two folders trade places in one step. Elsewhere (Windows) the
    old site moves aside into the stage first; a failure puts it back, and if the
    process is killed in between, the next build's _recover does."""
    if not site_dir.exists():
        os.replace(new, site_dir)  # first build: one rename, atomic
        return
    if _exchange(new, site_dir):
        return  # the old site is now in the stage, removed with it
    old = stage / OLD_SITES / site_dir.name
    old.parent.mkdir()
    os.replace(site_dir, old)
    try:
        os.replace(new, site_dir)
    except OSError:
        os.replace(old, site_dir)
        raise


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE); False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    renameat2.restype = ctypes.c_int
    # fails with nothing changed where the kernel or file system lacks it; then two renames
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _recover(parent: Path) -> None:
    """Undo what killed builds left beside the site; only called under the lock, so none is running.

    A build killed inside a two-step swap left its site folder missing and the
    previous site in its stage: put that back. Then remove every stale stage."""
    stale = sorted(p for p in parent.glob(STAGE_PREFIX + "*") if p.is_dir())
    for stage in stale:
        old_sites = stage / OLD_SITES
        for old in sorted(old_sites.iterdir()) if old_sites.is_dir() else ():
            if not (parent / old.name).exists():
                os.replace(old, parent / old.name)
    for stage in stale:
        shutil.rmtree(stage, ignore_errors=True)

