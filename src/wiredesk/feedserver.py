"""A small static HTTP server for feed files: the bundled samples in `make run`. Answers
conditional requests with 304 and sets TCP_NODELAY (else replies stall ~40 ms). The stories
of its feeds link to pages on it (a path, resolved against the feed's URL), and it serves
each one: a newcomer clicking a sample story finds its page, whatever the port."""

from __future__ import annotations

import functools
import html
import io
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SAMPLE_FEEDS_DIR = Path(__file__).resolve().parent / "sample_feeds"


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pages: dict[str, bytes] = {}  # path -> the page of the story linking there
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
        page = self.pages.get(urlsplit(self.path).path)
        if page is not None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            return io.BytesIO(page)
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
        with_pages = type("Handler", (_Handler,), {"pages": story_pages(directory)})
        handler = functools.partial(with_pages, directory=str(directory))
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


def story_pages(directory: Path) -> dict[str, bytes]:
    """A page for each story of the feeds in ``directory`` that links to a path (no host):
    its title and copy, in its language, by that path."""
    import feedparser

    pages: dict[str, bytes] = {}
    for path in sorted(directory.glob("*.xml")):
        feed = feedparser.parse(path.read_bytes(), resolve_relative_uris=False)
        for entry in feed.entries:
            link = urlsplit(entry.get("link", ""))
            if link.scheme or link.netloc or not link.path.startswith("/"):
                continue
            language = feed.feed.get("language", "")
            body = (entry.get("content") or [{}])[0].get("value") or entry.get("summary", "")
            title = html.escape(entry.get("title", ""), quote=False)
            pages[link.path] = (
                f'<!doctype html>\n<html lang="{html.escape(language)}" dir="auto">\n'
                f'<head><meta charset="utf-8"><title>{title}</title></head>\n'
                f"<body><h1>{title}</h1>\n{body}\n"
                f"<p><small>{html.escape(feed.feed.get('title', ''))}</small></p></body>\n"
                "</html>\n").encode()
    return pages
