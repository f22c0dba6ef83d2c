"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for timing.

httpx adds ~2.5 ms per request on this machine (PROTOCOLS.md), several times what the server under test
costs, so timings go through this instead: one connection, one request at a time, `Content-Length`
bodies only (what uvicorn sends for JSON responses). Not a general client: no chunked encoding, no
redirects, no TLS.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any, Self


class RawHttpClient:
    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Self:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        """POST `payload` as JSON; returns the status and the decoded JSON answer."""
        if self._reader is None or self._writer is None:
            raise RuntimeError("not connected")
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        status_line, _, header_block = (await self._reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = 0
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self._reader.readexactly(length)
        return int(status_line.split()[1]), json.loads(answer) if answer else None
