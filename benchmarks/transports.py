"""CPU per request of each async HTTP transport alone: no app, no SDK, just the client.

Each candidate sends POST /v1/payment_intents to the Stripe stand-in (50 ms) from 200 concurrent
tasks, in a process of its own pinned to the server's core (the stand-in gets the other one),
and prints requests per second and the process's CPU time per request (every thread counted:
pyreqwest works on a Rust thread of its own). `--busy-us` adds that much pure-Python work after
each request, as a server's own code would, to show what a transport costs when the event
loop's thread is busy (pyreqwest then has to hand each answer over to a busy thread).

    python benchmarks/transports.py                 # about a minute
    python benchmarks/transports.py --busy-us 400

CPU time varies less than req/s on a shared machine, but it varies too: compare rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "contenders"))

from run import CLIENT_CPUS, SERVER_CPUS, standin  # noqa: E402

CANDIDATES = ["payflow (pyreqwest)", "aiohttp", "niquests", "httpx2"]
BODY = b"amount=5000&currency=eur&customer=cus_bench&payment_method=card_bench"
HEADERS = {
    "Authorization": "Bearer sk_test_bench",
    "Content-Type": "application/x-www-form-urlencoded",
    "Idempotency-Key": "bench",
    "Stripe-Version": "2024-06-20",
}


def _sender(name: str, base: str) -> Callable[[], Awaitable[Any]]:
    url = f"{base}/v1/payment_intents"
    if name == "payflow (pyreqwest)":
        import payflow

        # payflow's transport exactly as the gateway configures it.
        transport = payflow.Gateway("sk_test_bench", api_base=base)._transport
        return lambda: transport.request_async("post", url, HEADERS, BODY)
    # The same clients, set up the same way, as in contenders/payflow_with.py.
    send = importlib.import_module("payflow_with").CANDIDATES[name]()
    return lambda: send("POST", url, HEADERS, BODY)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(name: str, base: str, args: argparse.Namespace) -> dict[str, float]:
    send = _sender(name, base)
    busy = args.busy_us / 1e6

    async def drive(seconds: float) -> int:
        stop = time.monotonic() + seconds
        done = 0

        async def client() -> None:
            nonlocal done
            while time.monotonic() < stop:
                await send()
                done += 1
                until = time.perf_counter() + busy
                while time.perf_counter() < until:
                    pass

        await asyncio.gather(*(client() for _ in range(args.concurrency)))
        return done

    await drive(args.warmup)
    cpu, started = _cpu(), time.monotonic()
    done = await drive(args.seconds)
    cpu, elapsed = _cpu() - cpu, time.monotonic() - started
    return {"rps": done / elapsed, "cpu_us_per_request": cpu / done * 1e6}


def _child(name: str, base: str, args: argparse.Namespace) -> None:
    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    print(json.dumps(run(_measure(name, base, args))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--busy-us", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--only", choices=CANDIDATES, nargs="+", default=CANDIDATES)
    parser.add_argument("--child", nargs=2, metavar=("NAME", "BASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, base = args.child
        _child(name, base, args)
        return
    if CLIENT_CPUS:
        os.sched_setaffinity(0, CLIENT_CPUS)
    print(f"{args.concurrency} concurrent requests, {args.delay * 1000:.0f} ms stand-in,"
          f" {args.busy_us:g} µs of Python after each request")  # fmt: skip
    with standin(args.delay, Path(os.devnull)) as base:
        for name in args.only:
            command = [
                sys.executable, __file__, "--child", name, base,
                "--concurrency", str(args.concurrency), "--seconds", str(args.seconds),
                "--warmup", str(args.warmup), "--busy-us", str(args.busy_us),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"  {name:22} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            figures = json.loads(done.stdout.splitlines()[-1])
            print(
                f"  {name:22} {figures['rps']:7.0f} req/s"
                f"  {figures['cpu_us_per_request']:6.1f} µs CPU per request",
                flush=True,
            )


if __name__ == "__main__":
    main()
