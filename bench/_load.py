"""A small closed-loop HTTP load generator (fallback when ``wrk`` is not installed).

Usage: python -m bench._load URL SECONDS CONNECTIONS [HEADER=VALUE ...]
Prints one JSON line: requests, errors, rps, p50_ms, p99_ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

import httpx


async def main(url: str, seconds: float, connections: int, headers: dict[str, str]) -> None:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors,
                "rps": len(latencies) / elapsed,
                "p50_ms": statistics.median(latencies) * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            }
        )
    )


if __name__ == "__main__":
    url, seconds, connections, *pairs = sys.argv[1:]
    hdrs = dict(p.split("=", 1) for p in pairs)
    asyncio.run(main(url, float(seconds), int(connections), hdrs))
