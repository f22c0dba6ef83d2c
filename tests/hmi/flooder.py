"""A saturating AI flood, in a process of its own: `python -m tests.hmi.flooder URL TOKEN TAG VALUE`.

Keeps CONNECTIONS keep-alive connections busy posting one valid recommendation each until stdin closes,
printing `started` after the first answer and the count of answers by status when it ends."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx

CONNECTIONS = 16


async def flood(url: str, token: str, tag: str, value: float) -> Counter[int]:
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()
    headers = {"Authorization": f"Bearer {token}"}

    async def one_connection(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            body = {
                "id": str(uuid.uuid4()),
                "tag": tag,
                "value": value,
                "issued_at": datetime.now(UTC).isoformat(),
            }
            try:
                answer = await client.post("/v1/recommendations", json=body, headers=headers)
            except httpx.HTTPError:
                statuses[0] += 1
                continue
            if not statuses:
                print("started", flush=True)
            statuses[answer.status_code] += 1

    async def until_stdin_closes() -> None:
        await asyncio.to_thread(sys.stdin.read)
        stop.set()

    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, timeout=10.0, limits=limits) as client:
        await asyncio.gather(until_stdin_closes(), *(one_connection(client) for _ in range(CONNECTIONS)))
    return statuses


if __name__ == "__main__":
    url, token, tag, value = sys.argv[1:5]
    counts = asyncio.run(flood(url, token, tag, float(value)))
    print(" ".join(f"{status}={n}" for status, n in sorted(counts.items())), flush=True)
