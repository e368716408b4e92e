"""Preview the built site with Python's own HTTP server (no internet needed)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # quiet: the CLI prints what matters
        pass


@contextlib.contextmanager
def serve(folder: Path, host: str = "127.0.0.1", port: int = 8000) -> Iterator[str]:
    """Serve folder in a background thread; yields the URL."""
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
