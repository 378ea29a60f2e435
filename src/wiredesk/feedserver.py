"""A small static HTTP server for feed files: the bundled samples in `make run`, corpus feeds in
tests. Answers conditional requests with 304 and sets TCP_NODELAY (else replies stall ~40 ms)."""

from __future__ import annotations

import functools
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLE_FEEDS_DIR = Path(__file__).resolve().parent / "sample_feeds"


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".xml": "application/xml", ".rss": "application/rss+xml",
                      ".atom": "application/atom+xml", ".json": "application/feed+json"}

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def end_headers(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_file():
            stat = path.stat()
            self.send_header("ETag", f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"')
        super().end_headers()

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if path.is_file() and "If-None-Match" in self.headers:
            stat = path.stat()
            if self.headers["If-None-Match"] == f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"':
                self.send_response(304)
                self.end_headers()
                return None
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class FeedServer:
    """Serves ``directory`` on ``host:port`` (port 0 picks a free one) from a daemon thread."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0):
        handler = functools.partial(_Handler, directory=str(directory))
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/{name}"

    def start(self) -> FeedServer:
        threading.Thread(target=self.httpd.serve_forever, name="feedserver", daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
