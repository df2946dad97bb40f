"""Run the whole benchmark: stand-in, contenders, load, profile; write the table and the chart.

    .venv/bin/python benchmarks/run.py            # the full run (about 13 minutes)
    .venv/bin/python benchmarks/run.py --quick    # a few seconds per cell, to try things out

Every process is started here and stopped here: the Stripe stand-in and the load generator on
one core, each contender server alone on the other. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
sys.path.insert(0, str(HERE))

from loadgen import rss_bytes  # noqa: E402  # a sibling script, not a package
from profile_summary import markdown as profile_markdown  # noqa: E402
from profile_summary import summarise  # noqa: E402

ROUTES: dict[str, tuple[str, str]] = {
    "payments": (
        "/api/payments",
        '{"customer_id": "cus_bench", "amount": "50.00", "payment_method": "card_bench"}',
    ),
    "confirm": ("/api/payments/confirm", '{"paymentId": "pi_bench"}'),
}


@dataclass(frozen=True)
class Contender:
    name: str
    label: str
    # For variants: a source tree put first on PYTHONPATH (a working copy to compare).
    pythonpath: str | None = None

    def command(self, port: int) -> list[str]:
        if self.name.startswith("payflow+"):
            # payflow serve with another async transport (contenders/payflow_with.py).
            library = self.name.removeprefix("payflow+")
            swapped = str(HERE / "contenders" / "payflow_with.py")
            return [PYTHON, swapped, library, "--host", "127.0.0.1", "--port", str(port)]
        if self.name.startswith("payflow"):
            # Exactly as users run it: the installed console script, its defaults unchanged.
            script = Path(PYTHON).with_name("payflow")
            executable = str(script) if script.exists() else shutil.which("payflow") or "payflow"
            return [executable, "serve", "--host", "127.0.0.1", "--port", str(port)]
        # The reference servers: uvicorn's defaults (uvloop and httptools when installed),
        # without the access log.
        return [
            PYTHON, "-m", "uvicorn", f"{self.name}:app", "--app-dir", str(HERE / "contenders"),
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip


CONTENDERS = [
    Contender("payflow", "payflow serve"),
    # The transports payflow's (pyreqwest) was chosen against, each alone inside payflow serve.
    Contender("payflow+aiohttp", "payflow serve, async transport aiohttp"),
    Contender("payflow+niquests", "payflow serve, async transport niquests"),
    Contender("payflow+httpx2", "payflow serve, async transport httpx2"),
    Contender("async_aiohttp", "SDK *_async + AIOHTTPClient"),
    Contender("async_httpx", "SDK *_async + HTTPXClient"),
    Contender("sync_sdk", "sync SDK in async handlers"),
]


def _cpus() -> tuple[set[int] | None, set[int] | None]:
    """(cores for the server, cores for the stand-in and load generator), or no pinning."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(allowed) < 2:
        return None, None
    return {allowed[-1]}, set(allowed[:-1])


SERVER_CPUS, CLIENT_CPUS = _cpus()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(
    command: Sequence[str], cpus: set[int] | None, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.Popen[bytes]:
    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    return subprocess.Popen(  # our own commands, no shell
        command, preexec_fn=pin, env=env, start_new_session=True, **kw
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started (and its group), politely first."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready after {seconds:.0f} s")


@contextlib.contextmanager
def standin(delay: float, log: Path) -> Iterator[str]:
    port = _free_port()
    command = [PYTHON, str(HERE / "standin.py"), "--port", str(port), "--delay", str(delay)]
    with log.open("wb") as out:
        process = _start(command, CLIENT_CPUS, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/_stats", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process)


@contextlib.contextmanager
def server(contender: Contender, stripe_base: str, log: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = dict(os.environ, STRIPE_API_BASE=stripe_base, STRIPE_SECRET_KEY="sk_test_x")  # noqa: S106
    if contender.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [contender.pythonpath, *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    with log.open("wb") as out:
        process = _start(
            contender.command(port), SERVER_CPUS, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}/health", process)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            _stop(process)


def load(
    base: str, route: str, concurrency: int, args: argparse.Namespace, stripe_base: str, pid: int
) -> dict[str, Any]:
    path, body = ROUTES[route]
    command = [
        PYTHON, str(HERE / "loadgen.py"), "--url", base + path, "--body", body,
        "--concurrency", str(concurrency), "--warmup", str(args.warmup),
        "--duration", str(args.duration), "--standin", stripe_base, "--pid", str(pid),
    ]  # fmt: skip
    process = _start(command, CLIENT_CPUS, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed: {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(out)
    return result


def profile(stripe_base: str, args: argparse.Namespace, results: Path) -> dict[str, dict[str, Any]]:
    """py-spy samples of `payflow serve` under the heaviest load, per route."""
    py_spy = Path(PYTHON).with_name("py-spy")
    executable = str(py_spy) if py_spy.exists() else shutil.which("py-spy")
    if executable is None:
        return {"skipped": {"reason": "py-spy is not installed (pip install py-spy)"}}
    profiles: dict[str, dict[str, Any]] = {}
    contender = CONTENDERS[0]
    for route in ROUTES:
        with server(contender, stripe_base, results / "server-profile.log") as (base, pid):
            raw = results / f"profile-{route}.txt"
            seconds = args.warmup + args.duration
            command = [
                executable, "record", "--pid", str(pid), "--format", "raw", "--full-filenames",
                "--rate", "200", "--duration", str(int(seconds)), "--output", str(raw),
            ]  # fmt: skip
            spy = _start(
                command,
                CLIENT_CPUS,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1.0)  # py-spy attaches
            figures = load(base, route, max(args.concurrency), args, stripe_base, pid)
            _, err = spy.communicate()
            if spy.returncode != 0 or not raw.exists():
                reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
                return {"skipped": {"reason": f"py-spy: {reason[0]}"}}
            text = raw.read_text()
            total, groups, modules = summarise(text)
            profiles[route] = {
                "samples": total,
                "groups": dict(groups),
                "payflow_modules": dict(modules),
                "markdown": profile_markdown(
                    text, f"`{route}`, concurrency {max(args.concurrency)}"
                ),
                "rps_under_profiler": figures["rps"],
            }
    return profiles


def measure(contender: Contender, stripe_base: str, args: argparse.Namespace) -> dict[str, Any]:
    """One round of a contender: every route at every concurrency, on one server process."""
    measured: dict[str, Any] = {}
    log = args.results / f"server-{contender.name}.log"
    try:
        with server(contender, stripe_base, log) as (base, pid):
            measured["rss_before"] = rss_bytes(pid)
            measured["cells"] = []
            for route in args.routes:
                for concurrency in args.concurrency:
                    cell = load(base, route, concurrency, args, stripe_base, pid)
                    cell.update(route=route, concurrency=concurrency)
                    measured["cells"].append(cell)
                    print(
                        f"   {route:8} c={concurrency:<4} {cell['rps']:8.0f} req/s"
                        f"  p50 {cell['p50_ms']:7.1f} ms  p99 {cell['p99_ms']:7.1f} ms"
                        f"  errors {cell['errors']}"
                        f"  upstream/call {cell['upstream_per_call']:.2f}"
                        f"  new conns {cell['upstream_new_connections']}"
                        f"  cpu {cell['server_cpu_ms_per_request']:.2f} ms/req"
                        f"  switches {cell['server_context_switches_per_request']:.2f}/req",
                        flush=True,
                    )
            measured["rss_after"] = rss_bytes(pid)
    except RuntimeError as exc:
        measured["failed"] = f"{exc}; see {os.path.relpath(log, ROOT)}"
        print(f"   failed: {measured['failed']}", flush=True)
    return measured


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """A contender's figures over its rounds: each cell is the round with the median req/s
    (so its other figures come from one real measurement), with every round's req/s beside it;
    errors and new connections are the worst round's."""
    failed = [r["failed"] for r in rounds if "failed" in r]
    if failed:
        return {"failed": failed[0]}
    merged: dict[str, Any] = {
        "rss_before": rounds[0]["rss_before"], "rss_after": max(r["rss_after"] for r in rounds),
        "cells": [],
    }  # fmt: skip
    for cells in zip(*(r["cells"] for r in rounds), strict=True):
        ordered = sorted(cells, key=lambda cell: cell["rps"])
        cell = dict(ordered[(len(ordered) - 1) // 2])
        cell["rps_rounds"] = [c["rps"] for c in cells]
        cell["errors"] = max(c["errors"] for c in cells)
        worst = max(cells, key=lambda c: c["upstream_new_connections_per_100"])
        for name in ("upstream_new_connections", "upstream_new_connections_per_100"):
            cell[name] = worst[name]
        merged["cells"].append(cell)
    return merged


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {"python": platform.python_version()}
    for name in ("payflow-stripe", "stripe", "pyreqwest", "aiohttp", "niquests", "httpx2",
                 "httpx", "httpcore", "starlette", "uvicorn", "uvloop", "httptools",
                 "orjson"):  # fmt: skip
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "server_cpus": sorted(SERVER_CPUS) if SERVER_CPUS else "not pinned",
        "client_cpus": sorted(CLIENT_CPUS) if CLIENT_CPUS else "not pinned",
        "loadavg_start": os.getloadavg(),
        "versions": versions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short cells, to try things out")
    parser.add_argument("--delay", type=float, default=0.05, help="stand-in delay, seconds")
    parser.add_argument("--warmup", type=float, help="seconds per cell before measuring")
    parser.add_argument("--duration", type=float, help="seconds measured per cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--routes", nargs="+", choices=list(ROUTES), default=list(ROUTES))
    parser.add_argument(
        "--contenders", nargs="+", choices=[c.name for c in CONTENDERS],
        default=[c.name for c in CONTENDERS],
    )  # fmt: skip
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="also measure `payflow serve` importing payflow from the source tree SRC (e.g. a"
        " working copy's src/), as the contender payflow-NAME; repeatable",
    )
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="measure every contender this many times, in a rotating order; each cell reports"
        " the median round (for a shared machine, whose speed drifts)",
    )  # fmt: skip
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--chart", type=Path, default=ROOT / "docs" / "performance.png")
    args = parser.parse_args()
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    args.duration = args.duration if args.duration is not None else (3.0 if args.quick else 10.0)
    args.results.mkdir(parents=True, exist_ok=True)

    report: dict[str, Any] = {
        "command": shlex.join(["python", *sys.argv]),
        "machine": machine(),
        "settings": {
            "delay_ms": args.delay * 1000,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
        },
        "contenders": [],
    }
    contenders = [c for c in CONTENDERS if c.name in args.contenders]
    for variant in args.variant:
        name, _, src = variant.partition("=")
        path = Path(src).resolve()
        contenders.insert(1, Contender(f"payflow-{name}", f"payflow serve ({name})", str(path)))
    started = time.monotonic()
    with standin(args.delay, args.results / "standin.log") as stripe_base:
        entries: dict[str, dict[str, Any]] = {
            c.name: {"name": c.name, "label": c.label, "rounds": []} for c in contenders
        }
        report["contenders"] = list(entries.values())
        for round_ in range(args.rounds):
            # Each round in another order: a machine that slows down during the run (a shared
            # host) does not always slow the same contender.
            shift = round_ % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                entry = entries[contender.name]
                print(
                    f"== {contender.label}" + (f" (round {round_ + 1})" if args.rounds > 1 else ""),
                    flush=True,
                )
                entry["rounds"].append(measure(contender, stripe_base, args))
        for entry in report["contenders"]:
            entry.update(median_round(entry.pop("rounds")))
        if not args.no_profile and "payflow" in args.contenders:
            print("== profile of payflow serve (py-spy)", flush=True)
            try:
                report["profile"] = profile(stripe_base, args, args.results)
            except RuntimeError as exc:
                report["profile"] = {"skipped": {"reason": str(exc)}}
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["elapsed_s"] = time.monotonic() - started

    from report import chart, write_markdown

    (args.results / "results.json").write_text(json.dumps(report, indent=2))
    write_markdown(report, args.results / "results.md")
    chart(report, args.chart)
    print(f"wrote {args.results / 'results.md'} and {args.chart}", flush=True)


if __name__ == "__main__":
    main()
