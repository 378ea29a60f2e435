"""A fast loopback feed server for benchmarks: asyncio, keep-alive, ETag/304, TCP_NODELAY.

Serves ``/feed/<n>`` from pre-built bytes so the server is not what a benchmark measures; it
runs in its own process so its CPU can be recorded apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import socket
from typing import Any

from wiredesk.bench.feeds import synthetic_feed


def _responses(feeds: int, items: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    full, not_modified, etags = [], [], []
    for n in range(feeds):
        body = synthetic_feed(n, items)
        etag = b'"' + hashlib.sha1(body).hexdigest()[:16].encode() + b'"'
        etags.append(etag)
        full.append(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\nETag: " + etag +
                    b"\r\nCache-Control: max-age=300\r\n\r\n" + body)
        not_modified.append(b"HTTP/1.1 304 Not Modified\r\nETag: " + etag +
                            b"\r\nContent-Length: 0\r\n\r\n")
    return full, not_modified, etags


def _serve(port_out: Any, feeds: int, items: int) -> None:
    full, not_modified, etags = _responses(feeds, items)
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else replies stall ~40 ms
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                path = lines[0].split(b" ")[1]
                inm = next((line.split(b":", 1)[1].strip() for line in lines[1:]
                            if line[:14].lower() == b"if-none-match:"), None)
                try:
                    n = int(path.rsplit(b"/", 1)[1])
                    reply = not_modified[n] if inm == etags[n] else full[n]
                except (ValueError, IndexError):
                    reply = missing
                writer.write(reply)
                if lines[0].endswith(b"HTTP/1.0") or any(
                        line.lower() == b"connection: close" for line in lines):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_out.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_server(feeds: int, items: int) -> tuple[multiprocessing.Process, int]:
    """Start the server process; return it and its port."""
    ctx = multiprocessing.get_context("fork")
    port_queue = ctx.Queue()
    process = ctx.Process(target=_serve, args=(port_queue, feeds, items), daemon=True)
    process.start()
    return process, port_queue.get(timeout=120)
