"""A WebSub subscriber on loopback for the hub's tests: answers verifications of intent (echoing
the challenge, or not) and records the pushes it receives, answering each with a status a test
sets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Subscriber:
    echo: bool = True  # echo the challenge of a verification (confirm the request)
    # Answer verifications with this body and these headers instead (a hostile callback).
    verify_answer: tuple[bytes, dict[str, str]] | None = None
    # Answers to pushes (a status, or a status and headers), then 204.
    push_statuses: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    verifications: list[dict[str, str]] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/callback") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serving(subscriber: Subscriber) -> Iterator[Subscriber]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes = b"",
                    headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            with lock:
                subscriber.verifications.append({**params, "path": urlsplit(self.path).path})
            if subscriber.verify_answer is not None:
                self._answer(200, *subscriber.verify_answer)
            elif subscriber.echo:
                self._answer(200, params.get("hub.challenge", "").encode())
            else:
                self._answer(404, b"not mine")

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                subscriber.pushes.append(Push(self.path, dict(self.headers), body))
                answer = subscriber.push_statuses.pop(0) if subscriber.push_statuses else 204
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            self._answer(status, headers=headers)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    subscriber.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield subscriber
    finally:
        httpd.shutdown()
        httpd.server_close()
