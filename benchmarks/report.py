"""The benchmark's results as a markdown table and a PNG chart (from results.json).

python benchmarks/report.py benchmarks/results/results.json   # redraw both
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Issue 5's targets, at the highest concurrency against a 50 ms upstream.
TARGET_RPS = 1000
TARGET_P99_MS = 300
TARGET_NEW_CONNECTIONS_PER_100 = 1
TARGET_RSS_GROWTH_MB = 20
TARGET_RATIO = 2.2

MB = 1024 * 1024


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / MB:.0f}"


def table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| contender | route | clients | req/s | p50 ms | p99 ms | errors | upstream req/call"
        " | new upstream conns (per 100 req) | server CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in report["contenders"]:
        if "failed" in entry:
            lines.append(f"| {entry['label']} | did not run: {entry['failed']} |||||||||")
            continue
        for cell in entry["cells"]:
            lines.append(
                f"| {entry['label']} | {cell['route']} | {cell['concurrency']}"
                f" | {cell['rps']:,.0f} | {cell['p50_ms']:.1f} | {cell['p99_ms']:.1f}"
                f" | {cell['errors']} | {cell['upstream_per_call']:.2f}"
                f" | {cell['upstream_new_connections']}"
                f" ({cell['upstream_new_connections_per_100']:.2f})"
                f" | {cell['server_cpu_ms_per_request']:.3f} |"
            )
    return lines


def memory(report: dict[str, Any]) -> list[str]:
    lines = ["| contender | RSS before MB | RSS after MB | growth MB |", "|---|---:|---:|---:|"]
    for entry in report["contenders"]:
        if "rss_after" not in entry:
            continue
        growth = entry["rss_after"] - entry["rss_before"]
        lines.append(
            f"| {entry['label']} | {_mb(entry['rss_before'])} | {_mb(entry['rss_after'])}"
            f" | {growth / MB:+.1f} |"
        )
    return lines


def targets(report: dict[str, Any]) -> list[str]:
    """Issue 5's targets, checked on payflow's cells at the highest concurrency."""
    payflow = next((e for e in report["contenders"] if e["name"] == "payflow"), None)
    if payflow is None or "cells" not in payflow:
        return ["payflow serve was not measured in this run."]
    top = max(report["settings"]["concurrency"])
    lines = ["| target | " + " | ".join(f"`{r}`" for r in _routes(payflow)) + " |"]
    lines.append("|---|" + "---|" * len(_routes(payflow)))
    cells = {c["route"]: c for c in payflow["cells"] if c["concurrency"] == top}

    def row(name: str, show: Any, ok: Any) -> None:
        marks = []
        for route in _routes(payflow):
            cell = cells.get(route)
            marks.append("-" if cell is None else f"{show(cell)} {'✅' if ok(cell) else '❌'}")
        lines.append(f"| {name} | " + " | ".join(marks) + " |")

    row(f"≥ {TARGET_RPS:,} req/s at {top} clients", lambda c: f"{c['rps']:,.0f}",
        lambda c: c["rps"] >= TARGET_RPS)  # fmt: skip
    row(f"p99 < {TARGET_P99_MS} ms", lambda c: f"{c['p99_ms']:.0f} ms",
        lambda c: c["p99_ms"] < TARGET_P99_MS)  # fmt: skip
    reference = next((e for e in report["contenders"] if e["name"] == "async_aiohttp"), None)
    if reference is not None and "cells" in reference:
        # Issue 10's target: relative to the SDK's AIOHTTPClient server of the same run.
        # With several rounds, the ratio of each round (the two measured within minutes of each
        # other), and their median.
        base = {c["route"]: c for c in reference["cells"] if c["concurrency"] == top}

        def ratios(c: dict[str, Any]) -> list[float]:
            other = base.get(c["route"])
            if other is None:
                return [float("nan")]
            ours = c.get("rps_rounds", [c["rps"]])
            pairs = zip(ours, other.get("rps_rounds", [other["rps"]]), strict=False)
            return sorted(ours / theirs for ours, theirs in pairs)

        def ratio(c: dict[str, Any]) -> float:
            each = ratios(c)
            return each[(len(each) - 1) // 2]

        def show_ratio(c: dict[str, Any]) -> str:
            each = ratios(c)
            rounds = f" (rounds: {', '.join(f'{r:.2f}' for r in each)})" if len(each) > 1 else ""
            return f"{ratio(c):.2f}x{rounds}"

        row(f"≥ {TARGET_RATIO}x `SDK *_async + AIOHTTPClient` (same run)", show_ratio,
            lambda c: ratio(c) >= TARGET_RATIO)  # fmt: skip
    row("zero errors", lambda c: str(c["errors"]), lambda c: c["errors"] == 0)
    row("exactly 1 upstream request per call", lambda c: f"{c['upstream_per_call']:.3f}",
        lambda c: c["upstream_requests"] == c["requests"])  # fmt: skip
    new_per_100 = "upstream_new_connections_per_100"
    row(f"< {TARGET_NEW_CONNECTIONS_PER_100} new upstream connection per 100 requests",
        lambda c: f"{c[new_per_100]:.2f}",
        lambda c: c[new_per_100] < TARGET_NEW_CONNECTIONS_PER_100)  # fmt: skip
    if "rss_after" in payflow:
        growth = (payflow["rss_after"] - payflow["rss_before"]) / MB
        mark = "✅" if growth < TARGET_RSS_GROWTH_MB else "❌"
        lines.append(
            f"| RSS growth < {TARGET_RSS_GROWTH_MB} MB over the whole run"
            f" | {growth:+.1f} MB {mark} (whole run) |" + " |" * (len(_routes(payflow)) - 1)
        )
    return lines


def _routes(entry: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(c["route"] for c in entry.get("cells", [])))


def write_markdown(report: dict[str, Any], path: Path) -> None:
    m = report["machine"]
    s = report["settings"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    out = [
        "# Benchmark results",
        "",
        f"Command: `{report['command']}` ({report['elapsed_s'] / 60:.1f} min)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}; server on CPU"
        f" {m['server_cpus']}, stand-in and load generator on CPU {m['client_cpus']}."
        f" Load average at start {m['loadavg_start'][0]:.2f}, at end {m['loadavg_end'][0]:.2f}.",
        "",
        f"Versions: {versions}.",
        "",
        f"Stand-in delay {s['delay_ms']:.0f} ms; per cell {s['warmup_s']:g} s of warm-up, then"
        f" {s['duration_s']:g} s measured (in-flight requests drained before and after)."
        + (
            f" {s['rounds']} rounds, contenders in a rotating order; each cell is the round with"
            " the median req/s, its errors and new connections the worst round's."
            if s.get("rounds", 1) > 1
            else ""
        ),
        "",
        *table(report),
        "",
        "Server memory (resident set, whole process tree), before the first cell and after the"
        " last:",
        "",
        *memory(report),
        "",
        f"Issues 5 and 10: targets, payflow serve at {max(s['concurrency'])} clients:",
        "",
        *targets(report),
        "",
    ]
    prof = report.get("profile")
    if prof:
        out += ["## Profile of payflow serve (py-spy)", ""]
        if "skipped" in prof:
            out += [f"Skipped: {prof['skipped']['reason']}", ""]
        for route, data in prof.items():
            if route == "skipped":
                continue
            out += [data["markdown"], f"(req/s while profiled: {data['rps_under_profiler']:,.0f})",
                    ""]  # fmt: skip
    path.write_text("\n".join(out))


def chart(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no chart", flush=True)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in report["contenders"] if "cells" in e]
    routes = list(dict.fromkeys(c["route"] for e in entries for c in e["cells"]))
    levels = report["settings"]["concurrency"]
    fig, axes = plt.subplots(2, len(routes), figsize=(5.5 * len(routes), 8), squeeze=False)
    for col, route in enumerate(routes):
        for entry in entries:
            cells = sorted(
                (c for c in entry["cells"] if c["route"] == route), key=lambda c: c["concurrency"]
            )
            xs = [c["concurrency"] for c in cells]
            axes[0][col].plot(xs, [c["rps"] for c in cells], marker="o", label=entry["label"])
            axes[1][col].plot(xs, [c["p99_ms"] for c in cells], marker="o", label=entry["label"])
        axes[0][col].set_title(f"POST {route} — throughput")
        axes[0][col].set_ylabel("req/s (log)")
        axes[0][col].axhline(TARGET_RPS, color="grey", linestyle=":", linewidth=1)
        axes[1][col].set_title(f"POST {route} — p99 latency")
        axes[1][col].set_ylabel("p99 ms (log)")
        axes[1][col].axhline(TARGET_P99_MS, color="grey", linestyle=":", linewidth=1)
        for row in (0, 1):
            ax = axes[row][col]
            ax.set_xscale("symlog", linthresh=10)
            ax.set_yscale("log")
            ax.set_xticks(levels)
            ax.set_xticklabels([str(x) for x in levels])
            ax.set_xlabel("concurrent clients")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    m = report["machine"]
    fig.suptitle(
        f"{report['settings']['delay_ms']:.0f} ms upstream, server on one core of {m['cpu']};"
        f" dotted: issue 5 targets",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="?", default=HERE / "results" / "results.json")
    parser.add_argument("--chart", type=Path, default=ROOT / "docs" / "performance.png")
    args = parser.parse_args()
    report = json.loads(args.results.read_text())
    write_markdown(report, args.results.with_name("results.md"))
    chart(report, args.chart)


if __name__ == "__main__":
    main()
