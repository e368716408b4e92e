"""The `kit` command: the only place that prints, shows progress and picks exit codes."""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import datetime as dt
import errno
import json
import os
import re
import shutil
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator

import click
from rich.console import Console
from rich.table import Table as RichTable

from kit import cli_zh
from kit.cache import CACHE_DIR, build_digest, record_site, site_unchanged
from kit.errors import KitError, ProjectError, ResidentNotFound
from kit.limits import ReadLimits
from kit.pipeline import Validated, open_source, validate
from kit.problems import visible
from kit.project import Project, find_project, init_project
from kit.sources.gsheet import SheetSpec
from kit.tables import place

cli_zh.install()


@contextlib.contextmanager
def _steps(console: Console | None = None) -> Iterator[Callable[[str], None]]:
    """A progress bar on the terminal (none when output goes to a file): each step with
    its row counts and the time so far."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = console or Console(stderr=True, highlight=False)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("开始……", total=None)
        yield lambda step: bar.update(task, description=step + "……")
INTERNAL_ERROR = 3
PIPE_CLOSED = 141  # as a shell reports a command stopped by SIGPIPE


DEMO_READ_ONLY = ("这是积分工具包自带的演示项目（kit.toml 里写着 demo = true），它的表格由 python -m kit.example 生成，"
                  "工具包不会改动它。要试发卡、补卡，请先用 kit init 演示社区 --example 建一个自己的演示项目。")


def shell_arg(text: object) -> str:
    """text as one argument to paste into cmd, PowerShell or bash."""
    text = str(text)
    if re.fullmatch(r"[\w./\\:+=@-]+", text):
        return text
    if re.search(r"[$`\"]", text) and os.name != "nt":
        return "'" + text.replace("'", "'\\''") + "'"
    return f'"{text}"'


def kit_command() -> str:
    """How to type the kit here: `kit`, or `py -m kit` when it was started as a module."""
    if Path(sys.argv[0]).name == "__main__.py":
        return "py -m kit" if os.name == "nt" else f"{shell_arg(Path(sys.executable).name)} -m kit"
    return "kit"


# Commands in the order of the work: set up, check and count, publish, print, look back, keep safe.
WORKFLOW = ("init", "validate", "balances", "build", "serve", "cards", "handouts", "report", "verify", "pull",
            "rotate-secret")


class KitGroup(click.Group):
    """Turns KitError into one Chinese message and exit 2; never a traceback."""

    command_class = cli_zh.Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in WORKFLOW if name in self.commands] + sorted(set(self.commands) - set(WORKFLOW))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KitError as exc:
            click.echo(f"无法继续（{exc.code}）：{visible(exc.message)}", err=True)
            ctx.exit(exc.exit_status)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # the reader stopped reading (| more, | head): nothing went wrong here
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            ctx.exit(PIPE_CLOSED)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for staff
            if os.environ.get("KIT_DEBUG"):
                raise
            click.echo(
                f"积分工具包内部出错（{type(exc).__name__}: {exc}）。出错前完成的操作见上方提示；"
                "请把这条信息和所用的表格发给维护人员；设置环境变量 KIT_DEBUG=1 可以看到详细信息。",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)


class DateType(click.ParamType):
    """A date written as staff write them in the workbook: 2026-03-05, 2026/3/5, 2026年3月5日."""

    name = "日期"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        from kit.values import BadValue, to_date

        try:
            return to_date(str(value).strip())
        except BadValue:
            self.fail(f"“{value}”不是有效日期，请写成 2026-03-05、2026/3/5 或 2026年3月5日。", param, ctx)


class PortType(click.ParamType):
    name = "端口号"

    def convert(self, value, param, ctx):
        try:
            port = int(str(value).strip())
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:  # 0: any free port
            self.fail(f"“{value}”不是端口号，请写 1 到 65535 之间的整数，如 8000。", param, ctx)
        return port


def _target(argument: str | None) -> Path | SheetSpec:
    """The workbook named on the command line, else the project's (a file or a Google Sheet)."""
    if argument:
        return Path(argument)
    project = find_project(Path.cwd())
    if project is None:
        raise ProjectError(
            "没有指定表格文件，当前文件夹也不是积分项目（找不到 kit.toml）。"
            "请写明表格路径，如 kit validate sheets/ledger.xlsx，或先运行 kit init 创建项目。"
        )
    for warning in project.warnings:
        click.echo(f"提醒：{warning}", err=True)
    return project.source


def _cache() -> Path | None:
    """Where the parse of a workbook is kept: the project's .kit-cache/, if in a project."""
    from kit.cache import CACHE_DIR

    project = find_project(Path.cwd())
    return project.root / CACHE_DIR if project is not None else None


def _limits() -> ReadLimits:
    """kit.toml's [limits] when run inside a project, else the defaults."""
    project = find_project(Path.cwd())
    return project.limits if project is not None else ReadLimits()


def _name(target: Path | SheetSpec) -> str:
    return target.name if isinstance(target, Path) else "Google 表格"


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"]}, options_metavar="[选项]",
             subcommand_metavar="命令 [参数]...")
@click.version_option(package_name="points-kit", prog_name="kit")
def cli() -> None:
    """积分工具包：校验积分表格、计算积分、生成公开网站。"""


@cli.command("init")
@click.argument("directory", default=".", metavar="[文件夹]", type=click.Path(file_okay=False, path_type=Path))
@click.option("--example", is_flag=True, help="填入示例数据（320 位居民、两年的积分记录）。")
def init_command(directory: Path, example: bool) -> None:
    """在一个文件夹里（默认当前文件夹）新建社区积分项目：配置、空白表格模板和网站页面。

    \b
    示例：
      kit init 幸福社区
      kit init 演示社区 --example
    """
    created = init_project(directory, example)
    click.echo(f"已在“{directory}”创建积分项目：")
    for path in created:
        click.echo(f"  {path}")
    workbook = created[1]
    kit = kit_command()
    click.echo(
        f"\n下一步：用 Excel 或 WPS 打开 {workbook} 填写；填好后运行\n"
        f"  cd {shell_arg(directory)}\n  {kit} validate\n检查有没有填错，再运行 {kit} build 生成网站。"
    )


@cli.command("validate")
@click.argument("workbook", required=False, metavar="[表格文件]")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="输出格式。")
@click.option("--annotate", "annotate_out", type=click.Path(dir_okay=False, path_type=Path), metavar="文件",
              help="另存一份标出问题的表格（原表格不会被修改）。")
@click.option("--as-of", "as_of", type=DateType(), default=None, help="统计日，默认今天。")
@click.option("--all", "every_warning", is_flag=True, help="逐条列出每一个提醒（默认同一种提醒只列一行）。")
def validate_command(workbook: str | None, output_format: str, annotate_out: Path | None,
                     as_of: dt.date | None, every_warning: bool) -> None:
    """检查积分表格，先列出全部错误，再按种类汇总提醒。退出码：0 没有错误，1 有错误，2 表格无法使用。

    \b
    示例：
      kit validate
      kit validate --all
      kit validate sheets/ledger.xlsx --annotate private/检查结果.xlsx
    """
    target = _target(workbook)
    project = find_project(Path.cwd())
    if annotate_out is not None and project is not None:  # checked before the long read
        project.private_output(annotate_out, "批注副本（表格的完整内容）")
    source = open_source(target, _limits())
    with _steps() as progress:
        result = validate(source, _as_of(as_of), progress, _cache())
    if output_format == "json":
        click.echo(json.dumps(problem_rows(result), ensure_ascii=False, indent=2))
    else:
        _print_text(result, _name(target), every_warning=every_warning)
        _remind_site_url(result)
    if annotate_out is not None:
        from kit.annotate import annotate

        marked = annotate(target if isinstance(target, Path) else None, source, result, annotate_out)
        original = target if isinstance(target, Path) else "Google 表格"
        click.echo(f"已另存批注副本：{annotate_out}（标出 {marked} 个单元格）。副本只用来查看，"
                   f"请在原表格 {original} 里改正，再运行 kit validate。", err=True)
    sys.exit(1 if result.errors else 0)


@cli.command("balances")
@click.argument("workbook", required=False, metavar="[表格文件]")
@click.option("--as-of", "as_of", type=DateType(), default=None, help="统计日，默认今天。")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="输出格式。csv 可以直接用 Excel 打开。")
@click.option("--resident", "resident_id", metavar="编号、姓名或手机尾号",
              help="只看这位居民的积分明细（柜台答疑用）：居民编号（大小写、全角半角都可以）、姓名或手机后 4 位。")
@click.option("--keys", "english_keys", is_flag=True, help="csv 的表头用英文键名（给其他程序读），默认是中文列名。")
def balances_command(workbook: str | None, as_of: dt.date | None, output_format: str,
                     resident_id: str | None, english_keys: bool) -> None:
    """每位居民的积分余额（仅供工作人员使用，含姓名）。

    \b
    示例：
      kit balances --resident R0001
      kit balances --resident 张秀英
      kit balances --resident 1234
      kit balances --format csv > private/余额.csv
    """
    from kit.counter import BALANCE_KEYS, BALANCE_TITLES, balance_rows, find_residents, statement

    target = _target(workbook)
    with _steps() as progress:
        result = validate(open_source(target, _limits()), _as_of(as_of), progress, _cache())
    if result.errors:
        click.echo(f"提醒：表格有 {len(result.errors)} 个错误，有错误的行没有计入。运行 kit validate 查看。", err=True)
    if resident_id is not None:
        found = find_residents(result.book, resident_id)
        if len(found.residents) == 1:
            _print_statement(statement(result.book, result.ledger, found.residents[0].resident_id),
                             output_format, english_keys)
        elif found.residents:
            _print_choices(found, resident_id, output_format, english_keys)
        else:
            raise ResidentNotFound(_nobody(resident_id, found))
        return
    rows = balance_rows(result.book, result.ledger)
    if output_format == "json":
        click.echo(json.dumps([dataclasses.asdict(r) for r in rows], ensure_ascii=False, indent=2))
    elif output_format == "csv":
        from kit.exports import csv_text

        header = BALANCE_KEYS if english_keys else BALANCE_TITLES
        click.echo(csv_text(header, [dataclasses.astuple(r) for r in rows]), nl=False)
    else:
        table = RichTable(title=f"积分余额（统计日 {result.ledger.as_of}）", title_justify="left")
        for title in BALANCE_TITLES:
            table.add_column(title, justify="right" if title not in ("居民编号", "姓名", "网格") else "left")
        for r in rows:
            table.add_row(visible(r.resident_id), visible(r.name), visible(r.grid_id),
                          *(str(v) for v in dataclasses.astuple(r)[3:]))
        Console(highlight=False).print(table)


_CHOICE_KEYS = ("resident_id", "name", "grid_id", "birth_year", "status")
_CHOICE_TITLES = ("居民编号", "姓名", "网格", "出生年份", "状态")


def _print_choices(found, asked: str, output_format: str, english_keys: bool) -> None:
    """Several residents answer to what was asked: staff pick one by id."""
    from kit.schema import RESIDENT_STATUS, choice_label

    rows = [(r.resident_id, r.name, r.grid_id, r.birth_year or "", choice_label(RESIDENT_STATUS, r.status))
            for r in found.residents]
    if output_format == "json":
        click.echo(json.dumps([dict(zip(_CHOICE_KEYS, row)) for row in rows], ensure_ascii=False, indent=2))
        return
    if output_format == "csv":
        from kit.exports import csv_text

        click.echo(csv_text(_CHOICE_KEYS if english_keys else _CHOICE_TITLES, rows), nl=False)
        return
    click.echo(f"{found.by}是“{visible(asked.strip())}”的居民有 {len(rows)} 位，请核对后用居民编号再查：")
    table = RichTable()
    for title in _CHOICE_TITLES:
        table.add_column(title)
    for row in rows:
        table.add_row(*(visible(str(v)) for v in row))
    Console(highlight=False).print(table)
    click.echo(f"例如：kit balances --resident {rows[0][0]}")


def _nobody(asked: str, found) -> str:
    from kit.suggest import did_you_mean

    hint = did_you_mean([r.resident_id for r in found.near], lambda i: next(r.name for r in found.near
                                                                              if r.resident_id == i))
    return (f"“居民”表中没有“{asked.strip()}”：按居民编号、姓名和手机后 4 位都没有找到"
            f"{'，' + hint if hint else '。'}如果这位居民的那一行有错误，先运行 kit validate 改正。")


def _print_statement(found, output_format: str, english_keys: bool = False) -> None:
    from kit.counter import KIND_WORDS, STATEMENT_KEYS, STATEMENT_TITLES

    if output_format == "json":
        data = dataclasses.asdict(found)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    if output_format == "csv":
        from kit.exports import csv_text

        kind = (lambda k: k) if english_keys else KIND_WORDS.get
        click.echo(csv_text(STATEMENT_KEYS if english_keys else STATEMENT_TITLES,
                            [(l.date, kind(l.kind), l.text, l.change, l.balance, l.source) for l in found.lines]),
                   nl=False)
        return
    console = Console(highlight=False)
    console.print(f"[bold]{found.name}（{found.resident_id}，网格 {found.grid_id}）[/bold] 统计日 {found.as_of}")
    console.print(f"获得 {found.earned} − 已兑换 {found.redeemed} − 已衰减 {found.decayed} = "
                  f"[bold]余额 {found.balance}[/bold]；30 天内将衰减 {found.expiring_30d} 分")
    table = RichTable(show_lines=False)
    for title in ("日期", "事项", "变化", "余额", "来源"):
        table.add_column(title, justify="right" if title in ("变化", "余额") else "left")
    for line in found.lines:
        table.add_row(str(line.date), visible(line.text), f"{line.change:+d}", str(line.balance),
                      visible(line.source))
    console.print(table)
    if found.waiting:
        console.print("未计分的记录：")
        for text in found.waiting:
            console.print(f"  {text}")


@cli.command("build")
@click.argument("workbook", required=False, metavar="[表格文件]")
@click.option("--as-of", "as_of", type=DateType(), default=None, help="统计日，默认今天。")
@click.option("--skip-invalid", is_flag=True, help="有错误时仍然发布，有错误的行不计入（会列出这些行）。")
@click.option("--rewrite-history", "rewrite_reason", metavar="原因",
              help="紧急情况下重写账本指纹（例如误录了不该公开的内容）。原因会公开记录在“账本指纹”页面。")
@click.option("--yes", "confirmed", is_flag=True, help="不再询问，直接公开 --rewrite-history 的原因（计划任务用）。")
@click.option("--future", is_flag=True, help="允许统计日晚于今天（这台电脑的日期）时也发布。")
def build_command(workbook: str | None, as_of: dt.date | None, skip_invalid: bool,
                  rewrite_reason: str | None, confirmed: bool, future: bool) -> None:
    """校验表格、计算积分，生成公开网站到 site/（全部成功后才替换旧网站）。

    \b
    示例：
      kit build
      kit build --as-of 2026-11-15
    """
    from kit.site import build_site

    from kit.fingerprint import last_published, refuse_earlier_as_of

    project = _project_for_build(workbook)
    console = Console(stderr=True, highlight=False)
    as_of = _as_of(as_of, publishing=not future)
    published = last_published(project.site_dir)
    if published is not None:  # before the long read; the build checks again under its lock
        refuse_earlier_as_of(as_of, *published)
    target = project.source
    if isinstance(target, SheetSpec):  # build from a snapshot, kept, so the site traces to its data
        with console.status("下载 Google 表格……"):
            target = _pull(project)
        console.print(f"已保存 Google 表格快照：{target}")
    inputs = None
    if rewrite_reason is None and target.is_file():
        inputs = build_digest(project.root, target, as_of, {"skip_invalid": skip_invalid})
        if site_unchanged(project.root, project.site_dir, inputs):
            click.echo(f"✓ 网站已是最新：表格、设置和页面都没有改动，统计日 {as_of}，不用重新生成"
                       f"（{project.site_dir}）。")
            return
    with _steps(console) as progress:
        result = validate(open_source(target, project.limits), as_of, progress, project.root / CACHE_DIR)
    if result.errors:
        _print_text(result, _name(target), errors_only=True)
        if not skip_invalid:
            console.print(f"[red]✗ 表格有 {len(result.errors)} 个错误，网站没有更新（原来的网站保持不变）。[/red]"
                          "改正后再运行；或加 --skip-invalid 跳过有错误的行发布。")
            sys.exit(1)
        console.print(f"[yellow]! 已跳过上面 {len(result.errors)} 个错误所在的行。[/yellow]")
    if rewrite_reason is not None:
        rewrite_reason = _confirmed_reason(rewrite_reason, result.book, project, confirmed)
    with _steps(console) as progress:
        built = build_site(project, result.book, result.ledger, result.tables, progress=progress,
                           rewrite_reason=rewrite_reason)
    for warning in built.warnings:
        console.print(f"[yellow]mkdocs 提醒：{warning}[/yellow]")
    _remind_site_url(result)
    if inputs is not None:
        record_site(project.root, project.site_dir, inputs)
    click.echo(f"✓ 网站已更新：{built.site_dir}（{built.files} 个文件，{built.bytes / 1e6:.1f} MB，"
               f"统计日 {result.ledger.as_of}）。预览：kit serve")


class FutureAsOf(KitError):
    code = "future-as-of"


def _as_of(value: dt.date | None, publishing: bool = False) -> dt.date:
    """The as-of date, today by default. A date after today (the machine's clock) is a warning,
    and publishing with it needs --future: a site dated ahead shows days that have not come."""
    today = dt.date.today()
    if value is None or value <= today:
        return value or today
    if publishing:
        raise FutureAsOf(f"统计日 {value} 晚于今天（{today}，这台电脑的日期），网站没有生成，原来的网站保持不变。"
                         "按还没到的日期发布，网站会把那天以前的积分都算成已经到期或已经公示。"
                         "请先核对 --as-of 和电脑的日期；确实要这样发布时，加上 --future。")
    click.echo(f"提醒：统计日 {value} 晚于今天（{today}，这台电脑的日期），请核对 --as-of 和电脑的日期。", err=True)
    return value


def _confirmed_reason(reason: str, book, project: Project, confirmed: bool) -> str:
    """The rewrite reason, checked like workbook text and shown back: it is public forever."""
    from kit.leak_scan import reason_faults

    reason = " ".join(reason.split())
    if not reason:
        raise KitError("--rewrite-history 需要写明原因，如 --rewrite-history \"误录了居民的备注\"。")
    faults = reason_faults(reason, book, project.public_words)
    if faults:
        raise KitError(f"重写历史的原因会永久公开在网站上，但它含有{'、'.join(faults)}，所以没有生成网站。"
                       "请只写发生了什么（如“误录了一条不该公开的备注”），不要写姓名、编号或电话。")
    if not confirmed:
        click.echo(f"重写历史的原因会永久公开在网站的“账本指纹”页面上：\n  「{visible(reason)}」", err=True)
        try:
            ok = click.confirm("确认公开这句话并重写历史吗？", default=False, err=True)
        except click.exceptions.Abort:
            ok = False
        if not ok:
            raise KitError("没有确认，网站没有改动。确认无误后再运行一次（计划任务里可以加 --yes）。")
    return reason


@cli.command("serve")
@click.option("--port", default=8000, show_default=True, type=PortType(), help="端口。")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="地址",
              help="监听地址；在局域网内给别的电脑、手机看，用 0.0.0.0。")
def serve_command(port: int, host: str) -> None:
    """在本机预览已生成的网站（先运行 kit build）。按 Ctrl+C 停止。

    \b
    示例：
      kit serve
      kit serve --host 0.0.0.0 --port 8001
    """
    from kit.serve import serve

    project = _project_for_build(None)
    if not (project.site_dir / "index.html").is_file():
        raise ProjectError(f"还没有生成网站（{project.site_dir} 里没有 index.html），请先运行 kit build。")
    from kit.serve import lan_addresses

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(serve(project.site_dir, host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1), errno.EACCES):
                raise KitError(f"端口 {port} 已经被别的程序占用（可能是另一个 kit serve 还开着）。"
                               f"请关掉它，或者换一个端口：kit serve --port {port + 1}") from None
            raise KitError(f"无法在 {host}:{port} 上预览网站：{exc.strerror or exc}。请检查 --host 写得对不对。") from None
        click.echo(f"正在预览 {project.site_dir}：请在浏览器打开 {url}　（按 Ctrl+C 停止）")
        if host in ("0.0.0.0", ""):
            shared = [f"http://{ip}:{url.rsplit(':', 1)[1]}" for ip in lan_addresses()]
            if shared:
                click.echo("同一个局域网（Wi-Fi）里的电脑和手机请打开：" + "、".join(shared)
                           + "（打不开时，请在 Windows 防火墙里允许 Python 访问网络）")
            else:
                click.echo("没有找到这台电脑的局域网地址：请确认已连上网络（Wi-Fi 或网线）。")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("已停止预览。")


@cli.command("cards")
@click.argument("workbook", required=False, metavar="[表格文件]")
@click.option("--grid", "grid", metavar="网格", help="只打印这个网格（编号或名称）的居民。")
@click.option("--resident", "residents", multiple=True, metavar="居民编号", help="只打印这位居民（可写多次）。")
@click.option("--reissue", multiple=True, metavar="居民编号", help="补办：给这位居民换新卡号，旧卡在下次 kit build 后失效（可写多次）。")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), metavar="文件",
              help="PDF 文件位置，默认放在项目的 private/ 文件夹。")
def cards_command(workbook: str | None, grid: str | None, residents: tuple[str, ...],
                  reissue: tuple[str, ...], output: Path | None) -> None:
    """打印积分卡（A4，每页 10 张，带裁切线）；没有卡号的居民自动生成卡号并写回表格（先备份）。

    \b
    示例：
      kit cards --grid G1
      kit cards --reissue R0012
    """
    from rich.progress import Progress

    from kit.card_tokens import plan_tokens, token_columns
    from kit.cards import cards_for, check_output, choose_residents, write_cards_pdf

    project = _cards_project(workbook)
    today = dt.date.today()
    digest = _digest(project)
    source = open_source(project.source, project.limits)
    with _steps() as progress:
        result = validate(source, today, progress, _cache())
    book = result.book
    project.check_secret(book.settings.pseudonym_secret, "打印积分卡")
    if not book.settings.site_url:
        raise KitError("“设置”表里还没有填“网站地址”，二维码不知道指向哪里。请填写网站的地址"
                       "（如 https://jf.example.cn/ ，局域网可以写 http://192.168.1.10:8000/ ）后再运行。")
    if result.errors:
        click.echo(f"提醒：表格有 {len(result.errors)} 个错误，有错误的居民行不会生成卡片。运行 kit validate 查看。",
                   err=True)
    if project.demo and reissue:
        raise KitError(DEMO_READ_ONLY + "补办卡片会改写表格，请在自己的演示项目里试。")
    plan = plan_tokens(book.residents, {r.strip() for r in reissue})
    if project.demo and plan.changes:  # the kit's own demo: its workbook is generated, never written
        click.echo(DEMO_READ_ONLY + f"还没有卡号的 {len(plan.new)} 位居民这次不打印。", err=True)
        plan = dataclasses.replace(plan, new={})
    issued = dataclasses.replace(book, residents=tuple(
        dataclasses.replace(r, card_token=plan.changes.get(r.resident_id, r.card_token),
                            retired_tokens=plan.retired.get(r.resident_id, r.retired_tokens)) for r in book.residents))
    # everything that can refuse is checked before the workbook is touched
    chosen = choose_residents(issued, grid, residents, set(plan.reissued))
    if project.demo:  # only those who already hold a number
        holders = {r.resident_id for r in issued.residents if r.card_token}
        chosen = [rid for rid in chosen if rid in holders]
    if not chosen:
        raise KitError("没有符合条件的居民，没有生成卡片。请核对网格或居民编号。")
    which = grid or ("选定" if residents else "补办" if reissue else "全部")
    out = check_output(project.private_output(output or project.private_dir / f"积分卡-{which}-{today}.pdf",
                                              "积分卡"), project.site_dir)
    if plan.changes:
        rows = {r.resident_id: r.row for r in book.residents}
        backup, name = _write_back(project, source, digest, result.tables.layout("residents"),
                                   token_columns(plan, rows), "卡号")
        click.echo(f"已写入表格 {name}：{len(plan.new)} 位居民生成了新卡号"
                   + (f"，{len(plan.reissued)} 位补办了新卡（{'、'.join(plan.reissued)}）" if plan.reissued else "")
                   + f"。改动前的表格备份在 {backup}。")
    cards = cards_for(issued, chosen, today)
    with Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task("生成积分卡", total=len(cards))
        created = dt.datetime.combine(today, dt.time(), tzinfo=dt.timezone.utc)
        pages = write_cards_pdf(cards, out, project.site_dir, created,
                                progress=lambda done: bar.update(task, completed=done))
    click.echo(f"✓ 已生成 {len(cards)} 张积分卡（{pages} 页 A4）：{out}")
    if plan.changes:
        click.echo("新卡号要在下次运行 kit build 更新网站后才能扫码使用；补办的旧卡也在那时失效。")


@cli.command("rotate-secret")
@click.argument("workbook", required=False, metavar="[表格文件]")
def rotate_secret_command(workbook: str | None) -> None:
    """更换化名密钥（泄露了，或者是自己编的、演示用的）：换上新密钥，旧密钥留在“旧化名密钥”里核对已公示的记录。

    \b
    示例：
      kit rotate-secret
    """
    from kit.rotation import plan_rotation

    project = _cards_project(workbook)
    if project.demo:
        raise KitError(DEMO_READ_ONLY + "更换化名密钥会改写表格，请在自己的演示项目里试。")
    digest = _digest(project)
    source = open_source(project.source, project.limits)
    with _steps() as progress:
        result = validate(source, dt.date.today(), progress, _cache())
    layout = result.tables.layout("settings")
    if layout is None:
        raise KitError("表格里没有“设置”工作表，无法更换化名密钥。请按模板加上“设置”工作表（项目、值两列）。")
    # the sheet's cells as they are now (a kept parse holds no cells)
    rotation = plan_rotation(layout, source.read(layout.name).rows)
    backup, name = _write_back(project, source, digest, layout, rotation.columns, "化名密钥")
    click.echo(f"✓ 已在 {name} 的“设置”表换上新的化名密钥；原来的密钥移到了“旧化名密钥”，"
               f"用来核对已经公示的记录，请不要删除。改动前的表格备份在 {backup}。")
    click.echo("下一次 kit build 会在“账本指纹”页面公开一条说明（密钥已更换，已公示的记录一条未改）。"
               "所有居民的排行榜化名和公示编码都会换新：请重新打印积分卡（kit cards），卡上的化名才会对得上。")


@cli.command("handouts")
@click.argument("workbook", required=False, metavar="[表格文件]")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path), metavar="文件夹",
              help="PDF 放在这个文件夹，默认是项目的 private/handouts/。")
@click.option("--as-of", "as_of", type=DateType(), default=None, help="统计日，默认今天。")
def handouts_command(workbook: str | None, output: Path | None, as_of: dt.date | None) -> None:
    """打印培训材料：居民宣传单、工作人员速查卡、培训日程、公示栏海报（PDF，内嵌中文字体）。

    \b
    示例：
      kit handouts
      kit handouts -o private/培训材料
    """
    from kit.handouts import write_handouts

    project = _cards_project(workbook)
    day = _as_of(as_of)
    with _steps() as progress:
        result = validate(open_source(project.source, project.limits), day, progress, _cache())
    if result.errors:
        click.echo(f"提醒：表格有 {len(result.errors)} 个错误，有错误的行没有计入。运行 kit validate 查看。", err=True)
    project.check_secret(result.book.settings.pseudonym_secret, "打印海报")
    out_dir = project.private_output(output or project.private_dir / "handouts", "培训材料（海报上有排行榜）")
    created = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    made = write_handouts(result.book, result.ledger, result.tables, project.root / "docs", out_dir, created)
    click.echo(f"✓ 已生成 {len(made)} 份培训材料，放在 {out_dir}：")
    for handout in made:
        click.echo(f"  {handout.name}（{handout.page_format}，{handout.pages} 页）")


@cli.command("report")
@click.argument("workbook", required=False, metavar="[表格文件]")
@click.option("--quarter", metavar="季度", help="季度，如 2026Q3；默认是最近一个已结束的季度。")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), metavar="文件",
              help="报告 PDF 的位置，默认放在项目的 private/ 文件夹（同名的 .md、.html 放在旁边）。")
def report_command(workbook: str | None, quarter: str | None, output: Path | None) -> None:
    """季度评估报告（仅供工作人员）：参与率、申诉、热点网格、积分负债和设置对比。

    \b
    示例：
      kit report
      kit report --quarter 2026Q3
    """
    from rich.console import Console as RichConsole

    from kit.report import build_report, write_report
    from kit.stats import previous_quarter, quarter_bounds, quarter_of

    project = _cards_project(workbook)
    today = dt.date.today()
    quarter = quarter or previous_quarter(quarter_of(today))
    start, end = quarter_bounds(quarter)
    if start > today:
        raise KitError(f"{quarter} 还没有开始，无法生成报告。")
    as_of = min(end, today)
    console = RichConsole(stderr=True, highlight=False)
    with _steps(console) as progress:
        result = validate(open_source(project.source, project.limits), as_of, progress, _cache())
        if result.errors:
            console.print(f"提醒：表格有 {len(result.errors)} 个错误，有错误的行没有计入。")
        report = build_report(result.book, result.ledger, quarter, progress=progress)
        out = project.private_output(output or project.private_dir / f"季度报告-{quarter}.pdf", "季度报告")
        written = write_report(report, out, dt.datetime.combine(as_of, dt.time(), tzinfo=dt.timezone.utc))
    click.echo(f"✓ 季度报告 {quarter}（数据截至 {as_of}）：{written.pdf}（{written.pages} 页），"
               f"另有 {written.markdown.name} 和 {written.html.name}。")


def _write_back(project: Project, source, digest: str, layout, columns, what: str) -> tuple[Path, str]:
    """Write planned cells into the project's workbook or Google Sheet, after a backup; (backup, name)."""
    from kit.write_back import backup_path, write_columns, write_columns_to_sheet

    if project.sheet is not None:  # the snapshot before writing is the backup
        from kit.snapshot import snapshot_path, write_snapshot

        before = source.read(layout.name).rows
        backup = write_snapshot(source, snapshot_path(project.snapshots_dir, dt.datetime.now()))
        write_columns_to_sheet(source, layout, columns, before, what)
        return backup, "Google 表格"
    backup = backup_path(project.workbook, dt.datetime.now())
    write_columns(project.workbook, digest, layout, columns, backup, what)
    return backup, project.workbook.name


def _digest(project: Project) -> str:
    from kit.write_back import file_digest

    return file_digest(project.workbook) if project.sheet is None and project.workbook.is_file() else ""


def _cards_project(workbook: str | None) -> Project:
    project = find_project(Path.cwd())
    if project is not None:
        return dataclasses.replace(project, workbook=Path(workbook).resolve(), sheet=None) if workbook else project
    if not workbook:
        raise ProjectError("没有指定表格文件，当前文件夹也不是积分项目（找不到 kit.toml）。")
    path = Path(workbook).resolve()
    return Project(root=path.parent, workbook=path, site_dir=path.parent / "site",
                   private_dir=path.parent / "private")


def _project_for_build(workbook: str | None) -> Project:
    """The project (pages, mkdocs.yml, site folder) and the workbook to build from."""
    project = find_project(Path.cwd())
    if project is None:
        raise ProjectError("当前文件夹不是积分项目（找不到 kit.toml）。请先进入项目文件夹，或运行 kit init 创建项目。")
    for warning in project.warnings:
        click.echo(f"提醒：{warning}", err=True)
    if workbook:
        project = dataclasses.replace(project, workbook=Path(workbook).resolve(), sheet=None)
    return project


@cli.command("verify")
@click.argument("location", required=False, metavar="[网站文件夹或网址]")
def verify_command(location: str | None) -> None:
    """核对网站的账本指纹：每一个指纹都是上一个的延续。默认核对本项目的 site/。

    \b
    示例：
      kit verify
      kit verify https://jf.example.cn/
    """
    from kit.verify import reader, verify_site

    if location is None:
        location = str(_project_for_build(None).site_dir)
    verdict = verify_site(reader(location))
    for note in verdict.notes:
        click.echo(f"· {note}")
    if verdict.broken:
        click.echo(f"✗ {verdict.broken}", err=True)
        sys.exit(1)
    click.echo(f"✓ {verdict.checkpoints} 个账本指纹前后一致，没有发现被改写的历史。")


@cli.command("pull")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), metavar="文件",
              help="快照文件位置，默认是项目 snapshots/ 文件夹里以日期时间命名的文件。")
def pull_command(output: Path | None) -> None:
    """把 kit.toml 里配置的 Google 表格下载成一份本地快照（.xlsx）。

    \b
    示例：
      kit pull
    """
    project = _project_for_build(None)
    if project.sheet is None:
        raise ProjectError("kit.toml 里没有配置 Google 表格（google_sheet），没有可以下载的内容。")
    click.echo(f"✓ 已保存快照：{_pull(project, output)}")


def _pull(project: Project, output: Path | None = None) -> Path:
    from kit.snapshot import snapshot_path, write_snapshot

    out = project.private_output(output or snapshot_path(project.snapshots_dir, dt.datetime.now()), "表格快照")
    return write_snapshot(open_source(project.sheet), out)


def _remind_site_url(result: Validated) -> None:
    """Not a problem of any cell (the row may not exist), but the cards and posters need it."""
    if result.book.settings.site_url:
        return
    click.echo("提醒：“设置”表里还没有填“网站地址”。积分卡上的二维码和公示栏海报都要用它：网站发布以后"
               "（见培训中心“发布网站”），把网址填进去，如 https://jf.example.cn/ ；只在局域网里用 kit serve 时，"
               "写 http://这台电脑的地址:8000/ 。", err=True)


def problem_rows(result: Validated) -> list[dict[str, object]]:
    rows = []
    for found in result.problems:
        spot = place(result.tables, found)
        rows.append({
            "sheet": spot.sheet, "row": found.row, "column": spot.column,
            "code": found.code, "severity": found.severity.value, "message": found.message,
        })
    return rows


def _print_text(result: Validated, name: str, errors_only: bool = False, every_warning: bool = False) -> None:
    from kit.problem_text import Located, report

    found = [Located(p, place(result.tables, p)) for p in result.problems]
    width = max(40, min(shutil.get_terminal_size((80, 24)).columns, 160))
    for line in report(found, name, width, every_warning=every_warning, errors_only=errors_only):
        colour = _STYLES.get(line.style)
        click.echo(click.style(line.text, fg=colour) if colour else line.text, err=errors_only)


_STYLES = {"error": "red", "warning": "yellow", "ok": "green"}


# What a GBK console (Chinese Windows, output redirected) cannot print, in characters it can.
_FALLBACK = {"✓": "√", "✗": "×", "✔": "√", "✘": "×", "⚠": "!", "…": "...", "—": "-", "–": "-", "\ufffd": "?"}


def _fallback(error: UnicodeError):
    replacement = []
    for ch in error.object[error.start:error.end]:
        candidate = _FALLBACK.get(ch, "?")
        try:
            candidate.encode(error.encoding)
        except (UnicodeError, LookupError):
            candidate = "?"
        replacement.append(candidate)
    return "".join(replacement), error.end


codecs.register_error("kit-fallback", _fallback)


def _tolerant_streams() -> None:
    """Output that the console's encoding cannot show degrades instead of crashing the run."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="kit-fallback")
            except (ValueError, OSError):  # a stream already closed or without a text layer
                pass


def main() -> None:
    _tolerant_streams()
    cli(prog_name="kit")
