"""A soak of the local sandbox: 50 clients creating customers through payflow for a while, and
the sandbox's throughput, median latency and memory per window; does it slow as it fills?

    .venv/bin/python benchmarks/sandbox_soak.py                  # 5 minutes, 30 s windows
    .venv/bin/python benchmarks/sandbox_soak.py --seconds 60     # a shorter one
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/sandbox_soak.py   # another source tree

Loopback only; the sandbox is started and stopped here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import payflow
from payflow_sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.attacks import rss_mb  # shared with the tests


def _cpu_seconds(pid: int) -> float:
    """The CPU time a process has used (user and system), from /proc: on a shared machine a
    steadier figure than requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def soak(url: str, pid: int, clients: int, seconds: float, window: float) -> None:
    latencies: list[float] = []
    made = 0
    began = time.monotonic()

    async def client(gateway: payflow.Gateway, n: int) -> None:
        nonlocal made
        while time.monotonic() - began < seconds:
            sent = time.monotonic()
            await payflow.create_customer_async(gateway, email=f"soak{n}-{made}@example.com")
            latencies.append(time.monotonic() - sent)
            made += 1

    async def report() -> None:
        cpu = _cpu_seconds(pid)
        for k in range(1, int(seconds // window) + 1):
            await asyncio.sleep(began + k * window - time.monotonic())
            done, latencies[:] = list(latencies), []
            median = statistics.median(done) * 1000 if done else float("nan")
            used, cpu = _cpu_seconds(pid) - cpu, _cpu_seconds(pid)
            print(
                f"{k * window:5.0f} s  {len(done) / window:6.1f} customers/s"
                f"  median {median:6.0f} ms  sandbox CPU {used * 1000 / max(len(done), 1):5.2f} ms"
                f" per customer  {made:6d} made  sandbox RSS {rss_mb(pid):4.0f} MB",
                flush=True,
            )

    async with payflow.Gateway("sk_test_soak", api_base=url, max_network_retries=0) as gateway:
        await asyncio.gather(report(), *(client(gateway, n) for n in range(clients)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--window", type=float, default=30)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    with Sandbox() as sandbox:
        # The sandbox is this process's only child.
        pid = int(Path(f"/proc/self/task/{os.getpid()}/children").read_text().split()[0])
        asyncio.run(soak(sandbox.url, pid, args.clients, args.seconds, args.window))


if __name__ == "__main__":
    main()
