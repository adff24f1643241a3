"""A real HTTP/1.1 server in the test's event loop, for the postback messenger's tests.

Small on purpose: it reads requests (request line, headers, a ``Content-Length`` body) on
kept-alive connections, records them, and answers what the test scripts: statuses in order
(then 200), or nothing until a gate opens (to make the client time out).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HTTPRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection: int


@dataclass
class HTTPRecorder:
    requests: list[HTTPRequest] = field(default_factory=list)
    replies: list[tuple[int, bytes]] = field(default_factory=list)  # given in order, then 200
    gate: asyncio.Event | None = None  # when given, each request waits for it to be set
    connections: int = 0


async def _read_request(reader: asyncio.StreamReader,
                        connection: int) -> HTTPRequest | None:
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return HTTPRequest(method, path, headers, body, connection)


@asynccontextmanager
async def start_http_server(recorder: HTTPRecorder | None = None) -> AsyncIterator[
        tuple[str, HTTPRecorder]]:
    """``(url, recorder)`` of a server on a free port of 127.0.0.1."""
    rec = recorder or HTTPRecorder()
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rec.connections += 1
        number = rec.connections
        writers.append(writer)
        try:
            while (request := await _read_request(reader, number)) is not None:
                rec.requests.append(request)
                if rec.gate is not None:
                    await rec.gate.wait()
                status, body = rec.replies.pop(0) if rec.replies else (200, b"ok")
                writer.write(f"HTTP/1.1 {status} Status\r\nContent-Type: text/plain\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/postback", rec
    finally:
        server.close()
        if rec.gate is not None:
            rec.gate.set()
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()
