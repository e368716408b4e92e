"""Every published page carries a strict Content-Security-Policy, and nothing on a page
may load from another host.

After mkdocs has written the site, each page is read once. An inline script is
allowed only if the theme wrote the same one into 404.html, the one page no docs/
content reaches (up to the relative path each page gives the theme), and is then
hashed into that page's policy; a script loaded by a page must be one of the kit's
files; an event-handler attribute, a `javascript:` address or anything loaded
from another host stops the build. The policy goes in as a <meta> right after the
charset, before any script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from kit.errors import KitError

META = '<meta http-equiv="Content-Security-Policy" content="{policy}">'
POLICY = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
          "frame-src 'none'; worker-src 'self'; base-uri 'self'; form-action 'self'")
_META_RE = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')
_CHARSET = re.compile(r'<meta charset="[^"]*">', re.I)
# what a tag loads (a plain <a href> only links, and is allowed to point anywhere)
_LOADS = {"script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "frame": ("src",),
          "embed": ("src",), "object": ("data",), "audio": ("src",), "video": ("src", "poster"),
          "source": ("src", "srcset"), "track": ("src",), "image": ("href", "xlink:href"),
          "use": ("href", "xlink:href"), "input": ("src",), "form": ("action",), "button": ("formaction",)}
_LINK_LOADS = {"stylesheet", "icon", "preload", "prefetch", "preconnect", "dns-prefetch", "modulepreload",
               "manifest", "apple-touch-icon", "shortcut"}
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)", re.I)
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "cite"}
KIT_SCRIPTS = ("kit-crypto.js", "me.js", "quiz.js")
# the theme's bundle and the kit's own scripts, wherever the page sits
_OWN_SCRIPT = re.compile(r"(^|/)assets/(javascripts/bundle\.[0-9a-f]+\.min\.js|"
                         + "|".join(re.escape(n) for n in KIT_SCRIPTS) + ")$")


class UnsafePage(KitError):
    code = "unsafe-page"


_PAGE_BASE = re.compile(r'new URL\("[^"]*",location\)')  # the one thing in a theme script that differs per page


def _shape(script: str) -> str:
    return _PAGE_BASE.sub("new URL(_,location)", script)


class _Page(HTMLParser):
    def __init__(self, theme_scripts: frozenset[str] | None):
        super().__init__(convert_charrefs=True)
        self.theme_scripts = theme_scripts  # None: reading 404.html, whose scripts are the theme's
        self.inline: list[str] = []  # scripts to hash
        self.faults: list[str] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = [(k.lower(), v or "") for k, v in attrs]
        for key, value in attrs:
            if key.startswith("on"):
                self.faults.append(f"<{tag}> 带有事件脚本属性 {key}")
            if key in _URL_ATTRS and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("javascript:", "vbscript:")):
                self.faults.append(f"<{tag}> 的 {key} 是 javascript: 脚本地址")
            if key == "style":
                self.faults += [f"<{tag}> 的样式引用了 {u}" for u in _CSS_URL.findall(value) if _offsite(u)]
        rel = {r.lower() for r in dict(attrs).get("rel", "").split()}
        keys = _LOADS.get(tag, ()) + (("href",) if tag == "link" and rel & _LINK_LOADS else ())
        for key, value in attrs:
            urls = [u.split()[0] for u in value.split(",") if u.strip()] if key == "srcset" else [value]
            if key in keys and any(_offsite(u) for u in urls):
                self.faults.append(f"<{tag}> 从其他网站加载 {value[:80]}")
        if tag == "script":
            src = dict(attrs).get("src")
            kind = dict(attrs).get("type", "").lower()
            if src is not None:
                if not _OWN_SCRIPT.search(src):
                    self.faults.append(f"页面加载了不属于网站的脚本 {src[:80]}")
            elif kind not in ("application/json", "application/ld+json"):
                self._script = []

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            script = "".join(self._script)
            self._script = None
            if self.theme_scripts is not None and _shape(script) not in self.theme_scripts:
                self.faults.append("页面里写了 <script> 脚本")
            else:
                self.inline.append(script)

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)


def _offsite(url: str) -> bool:
    """Anything that names a host (https://…, //…) or an unusual scheme; data: only for images."""
    url = url.strip()
    if url.startswith("//"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return bool(scheme) and scheme != "data"


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def _read(html: str, theme_scripts: frozenset[str] | None) -> _Page:
    page = _Page(theme_scripts)
    page.feed(_META_RE.sub("", html))
    page.close()
    return page


def theme_scripts(site: Path) -> frozenset[str]:
    """The inline scripts the theme writes on every page, read from 404.html."""
    page = site / "404.html"
    return frozenset(_shape(s) for s in _read(page.read_text(encoding="utf-8"), None).inline) if page.is_file() \
        else frozenset()


def policy_for(html: str, allowed: frozenset[str]) -> tuple[str, list[str]]:
    """(this page's policy, what on it is not allowed)."""
    page = _read(html, allowed)
    hashes = "".join(" " + h for h in sorted({_hash(s) for s in page.inline}))
    return POLICY.format(hashes=hashes), page.faults


def secure_pages(site: Path) -> int:
    """Put the policy into every page of site; refuse a page that loads from elsewhere."""
    pages = sorted(site.rglob("*.html"))
    allowed = theme_scripts(site)
    for path in pages:
        html = path.read_text(encoding="utf-8")
        policy, faults = policy_for(html, allowed)
        where = path.relative_to(site).as_posix()
        if faults:
            raise UnsafePage(f"网站页面 {where} 不安全：{'；'.join(dict.fromkeys(faults))}。公开网站只能使用本网站自己的"
                             "文件，不能运行页面里写的脚本，也不能从其他网站加载内容。请检查 docs/ 里对应的页面、"
                             "templates/ 里改过的模板和 mkdocs.yml。原来的网站没有改动。")
        meta = META.format(policy=policy)
        charset = _CHARSET.search(html)
        if charset:
            html = html[:charset.end()] + meta + html[charset.end():]
        else:
            head = re.search(r"<head[^>]*>", html, re.I)
            at = head.end() if head else 0
            html = html[:at] + meta + html[at:]
        path.write_text(html, encoding="utf-8")
    return len(pages)


def page_policy(html: str) -> str | None:
    """The policy a page carries, if exactly one."""
    found = _META_RE.findall(html)
    return found[0] if len(found) == 1 else None


def check_pages(site: Path) -> list[str]:
    """What is wrong with the published pages' policies (an empty list: all good).

    A page must carry exactly one policy, before its first script, that allows every
    inline script on it and nothing from elsewhere."""
    wrong = []
    allowed = theme_scripts(site)
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        where = path.relative_to(site).as_posix()
        found = page_policy(html)
        expected, faults = policy_for(html, allowed)
        first_script = html.find("<script")
        if found is None:
            wrong.append(f"{where}: no single Content-Security-Policy")
        elif found != expected or faults:
            wrong.append(f"{where}: policy {found!r} is not {expected!r} ({faults})")
        elif first_script != -1 and html.find("Content-Security-Policy") > first_script:
            wrong.append(f"{where}: policy after the first script")
    return wrong


def policies_in_place(site: Path) -> list[str]:
    """The build's own quick check after secure_pages: every page has one policy, before any
    script (check_pages reads every page again and also recomputes each policy)."""
    wrong = []
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        found = _META_RE.findall(html)
        first_script = html.find("<script")
        if len(found) != 1 or "default-src 'self'" not in found[0] or "unsafe-inline" in found[0].split("style-src")[0]:
            wrong.append(f"{path.relative_to(site).as_posix()}: no single strict policy")
        elif first_script != -1 and html.find("Content-Security-Policy") > first_script:
            wrong.append(f"{path.relative_to(site).as_posix()}: policy after the first script")
    return wrong
