"""A raw ASGI client for tests that need exact scopes (paths and headers a browser never sends)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.encode():
                return value.decode("latin-1")
        return None

    def header_list(self, name: str) -> list[str]:
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == name.encode()]


def http_scope(
    path: str,
    *,
    raw_path: bytes | None = None,
    query: bytes = b"",
    method: str = "GET",
    headers: Sequence[tuple[bytes, bytes]] = (),
    host: bytes | None = b"news.example",
    client: tuple[str, int] = ("203.0.113.9", 50000),
    scheme: str = "http",
) -> dict[str, Any]:
    """The scope a server such as uvicorn builds for one request."""
    raw = [(b"host", host)] if host is not None else []
    raw.extend(headers)
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode("utf-8"),
        "query_string": query,
        "root_path": "",
        "headers": raw,
        "client": client,
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Any, path: str, *, chunks: Iterable[bytes] = (b"",), **scope_options: Any) -> Result:
    """Send one request straight into ``app``; the reader stays connected until the answer is complete."""
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if pending:
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        await asyncio.sleep(3600)  # the app cancels this wait when it is done
        return {"type": "http.disconnect"}

    result = Result(0)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    await app(http_scope(path, **scope_options), receive, send)
    return result
