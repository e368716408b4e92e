"""The preview server: index pages, 404s, no listings, no symlinks, no way out, headers."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.serve import serve

SECRET = "TOP-SECRET-6f1d"  # lives outside the served folder; must never be sent


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 301 comes back as an HTTPError, so tests see it as it is


_OPENER = urllib.request.build_opener(_NoRedirect)


def get(url: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
    """Status, headers and body of one real request; path is sent exactly as written."""
    request = urllib.request.Request(url.rstrip("/") + path, method=method)
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def _make_tree(root: Path) -> dict[str, Path]:
    site = root / "site"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_text("<p>home page</p>", encoding="utf-8")
    (site / "sub" / "index.html").write_text("<p>sub page</p>", encoding="utf-8")
    (site / "private").mkdir()
    (site / "private" / "alpha-notes.txt").write_text("a", encoding="utf-8")
    (site / "private" / "beta-list.json").write_text("{}", encoding="utf-8")
    (site / "me" / "abc").mkdir(parents=True)
    (site / "me" / "abc" / "index.html").write_text("<p>my page</p>", encoding="utf-8")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    (outside / "index.html").write_text(SECRET, encoding="utf-8")
    secret = outside / "secret.txt"
    # Symlinks to files and folders, pointing inside and outside the served folder.
    (site / "inside-file.html").symlink_to(site / "index.html")
    (site / "outside-file.txt").symlink_to(secret)
    (site / "inside-dir").symlink_to(site / "sub", target_is_directory=True)
    (site / "outside-dir").symlink_to(outside, target_is_directory=True)
    (site / "sub" / "deeper").symlink_to(outside, target_is_directory=True)
    (site / "sub" / "alias.html").symlink_to(secret)
    return {"site": site, "outside": outside, "secret": secret}


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    return _make_tree(tmp_path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[tuple[str, dict[str, Path]]]:
    """One server for the many read-only checks (stopping a server takes half a second)."""
    paths = _make_tree(tmp_path_factory.mktemp("shared"))
    with serve(paths["site"], port=0) as url:
        yield url, paths


def test_port_zero_yields_the_real_port(tree):
    with serve(tree["site"], port=0) as url:
        assert not url.endswith(":0/")
        assert get(url, "/")[:1] == (200,)


def test_folder_with_index_is_served(shared):
    url, _ = shared
    assert get(url, "/")[0::2] == (200, "<p>home page</p>")
    assert get(url, "/sub/")[0::2] == (200, "<p>sub page</p>")
    assert get(url, "/sub/index.html")[0::2] == (200, "<p>sub page</p>")
    status, headers, _ = get(url, "/sub?x=1")
    assert (status, headers["Location"]) == (301, "/sub/?x=1")
    assert get(url, "/index.html", method="HEAD")[0::2] == (200, "")


@pytest.mark.parametrize("path", ["/private/", "/private", "/private/?C=M;O=A", "/me/"])
def test_folder_without_index_is_404_not_a_listing(shared, path):
    status, _, body = get(shared[0], path)
    assert status == 404
    for name in ("alpha-notes", "beta-list", "abc"):
        assert name not in body


def test_site_404_page_is_the_body_of_every_404(tree):
    (tree["site"] / "404.html").write_text("<h1>页面不存在 custom-404</h1>", encoding="utf-8")
    with serve(tree["site"], port=0) as url:
        assert get(url, "/../outside/secret.txt")[0] == 404
        for path in ("/missing.html", "/private/", "/no/such/folder/", "/no/such/page"):
            status, headers, body = get(url, path)
            assert (status, body) == (404, "<h1>页面不存在 custom-404</h1>"), path
            assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert get(url, "/missing.html", method="HEAD")[0::2] == (404, "")
        assert get(url, "/404.html")[0::2] == (200, "<h1>页面不存在 custom-404</h1>")
        status, _, body = get(url, "/me/d/0123abcd.bin")  # a missing data file: a short answer
        assert status == 404 and "custom-404" not in body


def test_without_404_page_the_default_404_is_used(shared):
    status, _, body = get(shared[0], "/missing.html")
    assert status == 404 and "custom-404" not in body and "404" in body


def test_symlinked_404_page_is_not_used(tree):
    (tree["site"] / "404.html").symlink_to(tree["secret"])
    with serve(tree["site"], port=0) as url:
        status, _, body = get(url, "/missing.html")
    assert status == 404 and SECRET not in body


@pytest.mark.parametrize("path", [
    "/inside-file.html",  # -> site/index.html
    "/outside-file.txt",  # -> outside/secret.txt
    "/inside-dir/", "/inside-dir/index.html", "/inside-dir",  # -> site/sub
    "/outside-dir/", "/outside-dir/secret.txt", "/outside-dir/index.html",  # -> outside
    "/sub/deeper/secret.txt",  # a symlinked folder below a real one
    "/sub/alias.html",  # a symlinked file below a real folder
    "/%6Futside-file.txt",  # percent-encoded name of the link
])
def test_symlinks_are_never_followed(shared, path):
    url, _ = shared
    status, _, body = get(url, path)
    assert status == 404
    assert SECRET not in body and "home page" not in body and "sub page" not in body
    assert get(url, "/sub/")[0::2] == (200, "<p>sub page</p>")  # the real folder still works


def test_the_served_folder_itself_may_be_a_symlink(tree, tmp_path):
    link = tmp_path / "link-to-site"
    link.symlink_to(tree["site"], target_is_directory=True)
    with serve(link, port=0) as url:
        assert get(url, "/sub/")[0::2] == (200, "<p>sub page</p>")


@pytest.mark.parametrize("path", [
    "/../outside/secret.txt",
    "/sub/../../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2E%2Foutside%2Fsecret.txt",
    "/sub/%2e%2e/%2e%2e/outside/secret.txt",
    "/..%5Coutside%5Csecret.txt",
    "/..\\outside\\secret.txt",
    "/sub\\..\\..\\outside\\secret.txt",
    "/%2e%2e%5c%2e%2e%5coutside%5csecret.txt",
    "/./../outside/secret.txt",
    "/..%00/outside/secret.txt",
    "/C:/outside/secret.txt",
])
def test_traversal_is_404(shared, path):
    status, _, body = get(shared[0], path)
    assert status == 404 and SECRET not in body


def test_absolute_paths_are_404(shared):
    url, paths = shared
    secret = paths["secret"].as_posix()
    for path in ("/" + secret, "/" + secret.replace("/", "%2F"), "/%2F" + secret.lstrip("/")):
        status, _, body = get(url, path)
        assert status == 404 and SECRET not in body, path


def test_security_headers_on_every_response(shared):
    url, _ = shared
    for path, expected in (("/", 200), ("/missing", 404), ("/sub", 301), ("/private/", 404),
                           ("/me/abc/", 200), ("/me/abc", 301), ("/me/zzz/", 404), ("/%6De/abc/", 200)):
        status, headers, _ = get(url, path)
        assert status == expected, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        if path.startswith(("/me/", "/%6De/")):
            assert headers["Cache-Control"] == "no-store", path
        else:
            assert "Cache-Control" not in headers, path
    status, headers, _ = get(url, "/", method="POST")  # not supported, still with headers
    assert status == 501 and headers["X-Content-Type-Options"] == "nosniff"
