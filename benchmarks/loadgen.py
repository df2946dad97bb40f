"""A cheap closed-loop HTTP load generator: N keep-alive connections, one request in flight each.

One run is one cell: a warm-up phase, then a measured phase. Between the two, and at the end,
every request in flight is allowed to finish, so the measured phase starts and ends with nothing
in flight: the stand-in's counters (reset just before it, read just after it) and the server's
CPU time (read from /proc at the same two moments) then belong to exactly the measured requests.

    python benchmarks/loadgen.py --url http://127.0.0.1:8000/api/payments \
        --body '{"customer_id": "cus_1", "amount": "50.00", "payment_method": "card_1"}' \
        --concurrency 200 --warmup 2 --duration 10 \
        --standin http://127.0.0.1:12111 --pid 4242

It prints one JSON object: req/s, p50/p99 (ms), errors, upstream requests per call, new upstream
connections, server CPU seconds per request, and its own CPU use (to show it is not the
bottleneck). Raw asyncio with httptools' C parser, and uvloop when present.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httptools

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The process and all its descendants (a server may fork workers)."""
    found = [pid]
    for current in found:
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            found.extend(int(c) for c in children if int(c) not in found)
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process tree, from /proc/PID/stat."""
    total = 0
    for p in descendants(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def context_switches(pid: int) -> int:
    """Context switches (voluntary and not) of every thread of a process tree, from /proc: how
    often the server's threads handed its core to one another (or to other processes)."""
    total = 0
    for p in descendants(pid):
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                lines = (task / "status").read_text().splitlines()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in lines if "ctxt_switches:" in line)
    return total


def rss_bytes(pid: int) -> int:
    """Resident memory of a process tree, from /proc/PID/status."""
    total = 0
    for p in descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)
            if self.transport is not None:
                self.transport.close()

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed = True


class Load:
    def __init__(self, url: str, body: bytes, concurrency: int, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.request = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.concurrency = concurrency
        self.timeout = timeout
        self.connections: list[_Connection | None] = [None] * concurrency
        self.connects = 0

    async def _connect(self, i: int) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        self.connects += 1
        self.connections[i] = conn
        return conn

    async def _one(self, i: int) -> int:
        """One request on connection i: its status, or an exception."""
        conn = self.connections[i]
        if conn is None or conn.closed:
            conn = await self._connect(i)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        conn.waiter = waiter

        def time_out() -> None:
            if not waiter.done():
                waiter.set_exception(TimeoutError("request timed out"))

        timer = loop.call_later(self.timeout, time_out)
        assert conn.transport is not None
        conn.transport.write(self.next_request())
        try:
            return await waiter
        except BaseException:
            conn.close()
            raise
        finally:
            timer.cancel()
            conn.waiter = None

    def next_request(self) -> bytes:
        """The bytes of the next request: the same one each time, unless a subclass says."""
        return self.request

    async def phase(self, duration: float) -> list[tuple[float, float, int]]:
        """Run closed loops for `duration` seconds and wait for the last request to finish.

        Returns (start, end, status) per request; status 0 for a failure without an answer.
        """
        deadline = time.perf_counter() + duration
        records: list[tuple[float, float, int]] = []

        async def loop(i: int) -> None:
            while (start := time.perf_counter()) < deadline:
                try:
                    status = await self._one(i)
                except (OSError, TimeoutError, httptools.HttpParserError):
                    status = 0
                records.append((start, time.perf_counter(), status))

        await asyncio.gather(*(loop(i) for i in range(self.concurrency)))
        return records

    def close(self) -> None:
        for conn in self.connections:
            if conn is not None:
                conn.close()


async def control(base: str, path: str) -> dict[str, Any]:
    """One request to the stand-in's control routes, on its own connection."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    raw = await reader.read()
    writer.close()
    result: dict[str, Any] = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    return result


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load = Load(args.url, args.body.encode(), args.concurrency, args.timeout)
    if args.warmup > 0:
        await load.phase(args.warmup)
    await control(args.standin, "/_reset")
    cpu_before = cpu_seconds(args.pid) if args.pid else 0.0
    switches_before = context_switches(args.pid) if args.pid else 0
    own_before = time.process_time()
    started = time.perf_counter()
    records = await load.phase(args.duration)
    finished = time.perf_counter()
    own_cpu = time.process_time() - own_before
    cpu_after = cpu_seconds(args.pid) if args.pid else 0.0
    switches = (context_switches(args.pid) - switches_before) if args.pid else 0
    upstream = await control(args.standin, "/_stats")
    load.close()

    deadline = started + args.duration
    statuses = Counter(status for _, _, status in records)
    ok = [end - start for start, end, status in records if 200 <= status < 300]
    errors = len(records) - len(ok)
    done_in_window = sum(1 for _, end, status in records if end <= deadline and status)
    latencies = sorted(ok)
    calls = len(records)
    return {
        "requests": calls,
        "rps": done_in_window / args.duration,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "upstream_requests": upstream["requests"],
        "upstream_per_call": upstream["requests"] / calls if calls else float("nan"),
        "upstream_new_connections": upstream["connections"],
        "upstream_new_connections_per_100": 100 * upstream["connections"] / calls
        if calls
        else float("nan"),
        # The pool the server keeps to Stripe (the stats request's own connection excluded).
        "upstream_open_connections": upstream["open"] - 1,
        "server_cpu_s": cpu_after - cpu_before,
        "server_cpu_ms_per_request": 1000 * (cpu_after - cpu_before) / calls if calls else 0.0,
        "server_cpu_share": (cpu_after - cpu_before) / (finished - started),
        "server_context_switches_per_request": switches / calls if calls else 0.0,
        "wall_s": finished - started,
        "loadgen_cpu_share": own_cpu / (finished - started),
        "client_connects": load.connects,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="JSON body of every request")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--standin", required=True, help="base URL of the Stripe stand-in")
    parser.add_argument("--pid", type=int, default=0, help="server process to read CPU from")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
