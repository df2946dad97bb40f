"""Who spends a server's CPU: py-spy's raw (collapsed) stacks summed by the package at fault.

Each sample goes to the innermost frame that belongs to a third-party package or to payflow;
frames from the standard library (json, re, decimal, asyncio...) and generated code (attrs'
`__init__`) are charged to their nearest such caller. So `json.loads` called by payflow's
request parser counts as payflow's parsing, and the SDK's work under `Gateway.send_async`
counts as the SDK's. Samples with no such frame at all are the event loop itself.

    python benchmarks/profile_summary.py benchmarks/results/profile-payments.txt
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Final

# py-spy frames look like "function (path/to/file.py:123)".
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# pyreqwest's work on its own (Rust) threads has no Python frame for py-spy to sample: only the
# calls made from the event loop's thread are seen, under `_Transport.request*`.
HTTP_CLIENT: Final = "HTTP client to Stripe (pyreqwest, from payflow._gateway._Transport)"

# Import name -> the group it is reported under.
GROUPS: dict[str, str] = {
    "payflow": "payflow",
    "payflow_asgi": "payflow",
    "payflow_cli": "payflow",
    "stripe": "stripe SDK",
    "aiohttp": "aiohttp (client to Stripe)",
    "aiohappyeyeballs": "aiohttp (client to Stripe)",
    "yarl": "aiohttp (client to Stripe)",
    "multidict": "aiohttp (client to Stripe)",
    "pyreqwest": HTTP_CLIENT,
    "httpx": "httpx",
    "httpcore": "httpx",
    "starlette": "starlette",
    "anyio": "starlette",
    "uvicorn": "uvicorn",
    "httptools": "uvicorn",
}


def _package(path: str) -> str | None:
    """The top-level import name a source file belongs to, if not the standard library."""
    parts = Path(path).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else None
    if "src" in parts:  # an editable install of this project
        rest = parts[len(parts) - 1 - parts[::-1].index("src") + 1 :]
        return rest[0] if rest else None
    return None


# The frames below the event loop: a sample whose innermost known frame is one of these was
# taken while uvloop's C code ran (polling, socket reads and writes, scheduling callbacks).
_ENTRY: Final = (
    "payflow_cli/",
    "payflow_asgi/_serve.py",
    "uvicorn/main.py",
    "uvicorn/server.py",
)
EVENT_LOOP: Final = "event loop (uvloop, socket I/O) and stdlib"


def owner(stack: list[str]) -> tuple[str, str]:
    """(group, module:function) charged for one sample, given its frames root first."""
    for frame in reversed(stack):
        match = _FRAME.match(frame)
        if match is None:
            continue
        if any(entry in match["file"] for entry in _ENTRY):
            break
        package = _package(match["file"])
        if package in GROUPS:
            group = GROUPS[package]
            stem = Path(match["file"]).stem
            if package == "payflow" and match["function"].startswith("_Transport.request"):
                # The transport, a library's work: not "payflow's own work".
                return HTTP_CLIENT, f"payflow._gateway:{match['function']}"
            if group == "payflow":
                return group, f"{package}.{stem}:{match['function']}"
            return group, package
    return EVENT_LOOP, "-"


def summarise(raw: str) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, samples by group, payflow's samples by module:function)."""
    groups: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack_text.split(";")
        # py-spy starts each stack with the thread ("process 123:..." / "thread 0x..."): skip.
        frames = [f for f in frames if _FRAME.match(f)]
        group, detail = owner(frames)
        groups[group] += count
        if group == "payflow":
            modules[detail] += count
        total += count
    return total, groups, modules


def markdown(raw: str, title: str) -> str:
    total, groups, modules = summarise(raw)
    if not total:
        return f"{title}: no samples.\n"
    lines = [f"{title} ({total} samples)", "", "| who | share of server CPU |", "|---|---|"]
    lines += [f"| {g} | {100 * n / total:.1f}% |" for g, n in groups.most_common()]
    if modules:
        by_module: Counter[str] = Counter()
        for name, n in modules.items():
            by_module[name.split(":")[0]] += n
        lines += ["", "payflow's share by module:", "", "| module | share |", "|---|---|"]
        lines += [f"| {m} | {100 * n / total:.1f}% |" for m, n in by_module.most_common()]
        lines += ["", "payflow's costliest functions (innermost payflow frame):", "",
                  "| function | share |", "|---|---|"]  # fmt: skip
        lines += [f"| `{m}` | {100 * n / total:.1f}% |" for m, n in modules.most_common(10)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="+", type=Path, help="py-spy record --format raw output")
    args = parser.parse_args()
    for path in args.raw:
        print(markdown(path.read_text(), path.name))


if __name__ == "__main__":
    main()
