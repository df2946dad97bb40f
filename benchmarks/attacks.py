"""Hostile clients against a real `payflow serve --sandbox`, at the sizes of issue 14: what each
costs the server (resident memory, seconds) and whether normal clients are still served.

    .venv/bin/python benchmarks/attacks.py                    # every attack, about 2 minutes
    .venv/bin/python benchmarks/attacks.py pipelining idle    # some of them
    .venv/bin/python benchmarks/attacks.py --src /tmp/old/src # another source tree (before/after)

Loopback only; every attack is bounded in connections, bytes and seconds; the server is started
and stopped here (one per attack, so one's memory does not count in the next).
The attacks themselves are in tests/reliability/attacks.py, shared with the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability import attacks  # noqa: E402  # shared with the tests
from tests.reliability.attacks import rss_mb  # noqa: E402

HOST = "127.0.0.1"


@contextmanager
def serving(src: str | None, open_files: int | None = None) -> Iterator[tuple[int, int]]:
    """`payflow serve --sandbox` on a free port: its pid and port."""
    environ = dict(os.environ)
    if src:
        environ["PYTHONPATH"] = src

    def limit() -> None:
        if open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    process = subprocess.Popen(
        [sys.executable, "-m", "payflow_cli", "serve", "--sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environ,
        preexec_fn=limit,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    port = int(line.rsplit(":", 1)[1])
    try:
        yield process.pid, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _statuses(statuses: list[int]) -> str:
    return f"{sum(200 == s for s in statuses)}/{len(statuses)} normal requests answered 200"


async def pipelining(pid: int, port: int) -> None:
    print(f"  RSS at start: {rss_mb(pid):.0f} MB")
    for round_ in range(1, 4):
        attack = asyncio.create_task(attacks.pipeline_without_reading(HOST, port))
        statuses = await attacks.normal_requests(HOST, port, 4)
        await attack
        await asyncio.sleep(1)
        print(f"  after round {round_}: RSS {rss_mb(pid):.0f} MB; {_statuses(statuses)} during it")


async def idle(pid: int, port: int) -> None:
    async with attacks.connections(HOST, port, 1_100) as held:
        await asyncio.sleep(1)
        statuses = await attacks.normal_requests(HOST, port, 10)
        print(f"  1,100 idle connections opened ({len(held)} connected): {_statuses(statuses)}")


async def slow_head(pid: int, port: int) -> None:
    answer = await attacks.send(HOST, port, b"GET /health HTTP/1.1\r\nHost: x", wait=30)
    print(f"  half a head: closed={answer.closed} after {answer.seconds:.1f} s, {answer.status}")
    answer = await attacks.send(HOST, port, wait=90)
    print(f"  nothing sent: closed={answer.closed} after {answer.seconds:.1f} s")


async def slow_body(pid: int, port: int) -> None:
    head = b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    short = head + b"Content-Length: 65536\r\n\r\n" + b" " * 65535
    before = rss_mb(pid)
    async with attacks.connections(HOST, port, 400, short):
        await asyncio.sleep(3)
        print(f"  400 bodies one byte short: RSS {before:.0f} -> {rss_mb(pid):.0f} MB after 3 s")
    await asyncio.sleep(1)
    print(f"  1 s after they closed: RSS {rss_mb(pid):.0f} MB")
    answer = await attacks.send(HOST, port, short, wait=30)
    print(f"  one such body: closed={answer.closed} after {answer.seconds:.1f} s, {answer.status}")


async def big_headers(pid: int, port: int) -> None:
    for size in (64 * 1024, 8 * 1024 * 1024, 64 * 1024 * 1024):
        raw = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
        answer = await attacks.send(HOST, port, raw, wait=30)
        print(f"  {size // 1024} KiB header: {answer.status} after {answer.seconds:.2f} s")
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(100_000))
    answer = await attacks.send(HOST, port, b"GET /health HTTP/1.1\r\n" + many + b"\r\n", wait=30)
    print(f"  100,000 headers: {answer.status} after {answer.seconds:.2f} s")
    print(f"  RSS after: {rss_mb(pid):.0f} MB")


async def refusals(pid: int, port: int) -> None:
    for line in (b"FOO / HTTP/1.1", b"GET / HTTP/1.2", b"GET /\xff HTTP/1.1", b"GET / HTTP/2.0"):
        answer = await attacks.send(HOST, port, line + b"\r\nHost: x\r\n\r\n")
        content_type = [h for h in answer.data.split(b"\r\n") if h.startswith(b"content-type")]
        print(f"  {line!r}: {answer.status} {content_type} {answer.body[:80]!r}")
    declared = b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    declared += b"Content-Length: 1073741824\r\n\r\n"
    answer = await attacks.send(HOST, port, declared, *[b" " * (1 << 20)] * 64, wait=5)
    print(f"  1 GiB declared: {answer.status}, closed={answer.closed} after {answer.seconds:.1f} s")


def shutdown(src: str | None) -> None:
    stalled = attacks.request("POST", "/api/customers", b"{" + b" " * 999)[:-900]
    with serving(src) as (pid, port), socket.create_connection((HOST, port)) as client:
        client.sendall(stalled)
        time.sleep(0.5)
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        while Path(f"/proc/{pid}/status").exists() and time.monotonic() - started < 40:
            if "zombie" in Path(f"/proc/{pid}/status").read_text():
                break
            time.sleep(0.1)
        print(f"  a stalled upload open: exited {time.monotonic() - started:.1f} s after SIGTERM")


ATTACKS: dict[str, Callable[[int, int], Coroutine[Any, Any, None]]] = {
    "pipelining": pipelining,
    "idle": idle,
    "slow_head": slow_head,
    "slow_body": slow_body,
    "big_headers": big_headers,
    "refusals": refusals,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("attacks", nargs="*", help=f"any of {', '.join(ATTACKS)}, shutdown")
    parser.add_argument("--src", help="the source tree to serve from (PYTHONPATH)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    for name in args.attacks or [*ATTACKS, "shutdown"]:
        print(name)
        if name == "shutdown":
            shutdown(args.src)
            continue
        # The descriptor attack under the common limit of 1,024 open files, hard and soft.
        with serving(args.src, 1_024 if name == "idle" else None) as (pid, port):
            asyncio.run(ATTACKS[name](pid, port))


if __name__ == "__main__":
    main()
