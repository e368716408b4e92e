"""A community project: the folder holding kit.toml, the workbook and the pages."""

from __future__ import annotations

import dataclasses
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
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"无法读取项目配置“{path}”：{exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"项目配置“{path}”格式有误：{exc}。请对照 kit init 生成的 kit.toml 修改。") from None
    warnings = []
    for section, value in config.items():
        if section not in KNOWN_KEYS or not isinstance(value, dict):
            warnings.append(f"kit.toml 中的“{section}”不是已知的配置项，已忽略。")
            continue
        for key in value:
            if key not in KNOWN_KEYS[section]:
                warnings.append(f"kit.toml 中的“{section}.{key}”不是已知的配置项，已忽略。")

    def setting(section: str, key: str, default: str) -> Path:
        value = config.get(section, {}).get(key, default) if isinstance(config.get(section), dict) else default
        if not isinstance(value, str) or not value.strip():
            raise ProjectError(f"kit.toml 中的“{section}.{key}”应为一个路径（文字），现在是“{value}”。")
        return (path.parent / value).resolve()

    workbook = config.get("workbook") if isinstance(config.get("workbook"), dict) else {}
    sheet = None
    if workbook.get("google_sheet"):
        if not isinstance(workbook.get("credentials"), str) or not workbook["credentials"].strip():
            raise ProjectError("kit.toml 里填了 google_sheet，还要填 credentials（服务账号 JSON 密钥文件的位置）。")
        credentials = (path.parent / Path(workbook["credentials"]).expanduser()).resolve()
        if credentials.is_relative_to(path.parent.resolve()):
            warnings.append("服务账号密钥文件在项目文件夹里，容易被一起复制或上传，建议移到项目文件夹之外。")
        sheet = SheetSpec(spreadsheet_key(str(workbook["google_sheet"])), credentials)
    return Project(
        root=path.parent.resolve(),
        workbook=setting("workbook", "path", DEFAULT_WORKBOOK),
        site_dir=setting("output", "site", "site"),
        private_dir=setting("output", "private", "private"),
        warnings=tuple(warnings),
        sheet=sheet,
        snapshots_dir=setting("output", "snapshots", "snapshots"),
        limits=limits_from_config(config.get("limits")),
        public_words=_public_words(config.get("privacy")),
        demo=workbook.get("demo") is True,
    )


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
