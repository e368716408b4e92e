"""Preview the built site with Python's own HTTP server (no internet needed).

The handler serves regular files inside the folder and nothing else: no directory listings,
no symlinks (neither the file nor any folder on the way), no path outside the folder. Every
refusal is a plain 404, with the site's own 404.html as its body when a page was asked for.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def _parts(url_path: str) -> list[str] | None:
    """The folder names of a decoded URL path, or None if it could leave the folder."""
    if not url_path.startswith("/") or "\\" in url_path or "\0" in url_path:
        return None
    parts = [part for part in url_path.split("/") if part]
    if any(part in (".", "..") or ":" in part for part in parts):  # ":" for C:, NTFS streams
        return None
    return parts


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # quiet: the CLI prints what matters
        pass

    def _url_path(self) -> str:
        path = urllib.parse.urlsplit(getattr(self, "path", "")).path
        return urllib.parse.unquote(path, errors="surrogateescape")

    def _find(self, parts: list[str]) -> tuple[str, os.stat_result] | None:
        """Path and stat of parts below the served folder; None if missing or through a symlink."""
        root = current = os.path.realpath(self.directory)
        try:
            found = os.stat(root)
            for part in parts:
                current = os.path.join(current, part)
                found = os.lstat(current)
                if stat.S_ISLNK(found.st_mode):
                    return None
        except (OSError, ValueError):
            return None
        # Belt and braces (e.g. Windows junctions, which lstat does not report as symlinks).
        if os.path.commonpath([root, os.path.realpath(current)]) != root:
            return None
        return current, found

    def _open(self, parts: list[str]):
        """The regular file at parts below the served folder, opened for reading, or None."""
        found = self._find(parts)
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return None
        try:
            return os.fdopen(os.open(found[0], os.O_RDONLY | _NOFOLLOW), "rb")
        except OSError:
            return None

    def send_head(self):
        url_path = self._url_path()
        parts = _parts(url_path)
        found = None if parts is None else self._find(parts)
        if found is not None and stat.S_ISDIR(found[1].st_mode):
            if self._find([*parts, "index.html"]) is not None and not url_path.endswith("/"):
                query = urllib.parse.urlsplit(self.path).query
                location = urllib.parse.quote("/" + "/".join(parts) + "/", errors="surrogateescape")
                self.send_response(301)
                self.send_header("Location", location + ("?" + query if query else ""))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            parts = [*parts, "index.html"]
        file = None if parts is None else self._open(parts)
        if file is None:
            self.send_error(404, "File not found")
            return None
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(parts[-1]))
        self.send_header("Content-Length", str(os.fstat(file.fileno()).st_size))
        self.end_headers()
        return file

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # the site's page for a missing page; a missing data file (me/d/*.bin) gets a short answer
        page = "." not in self._url_path().rsplit("/", 1)[-1] or self._url_path().endswith(".html")
        file = self._open(["404.html"]) if code == 404 and page else None
        if file is None:
            super().send_error(code, message, explain)
            return
        with file:
            body = file.read()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        url_path = self._url_path()
        if url_path == "/me" or url_path.startswith("/me/"):
            self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextlib.contextmanager
def serve(folder: Path, host: str = "127.0.0.1", port: int = 8000) -> Iterator[str]:
    """Serve folder in a background thread; yields the URL (with the real port, even for port=0)."""
    handler = functools.partial(_Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        yield f"http://{shown}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def lan_addresses() -> list[str]:
    """This computer's IPv4 addresses that other devices on the network can open."""
    import socket

    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(info[4][0])
    except OSError:
        pass
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # a UDP "connection" sends nothing; it only picks the interface of the default route
        probe.connect(("10.255.255.255", 1))
        found.add(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    return sorted(ip for ip in found if not ip.startswith(("127.", "0.", "169.254.")))
