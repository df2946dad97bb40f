"""The `payflow` command: `payflow sandbox` and `payflow serve`.

It sits above the library, the HTTP adapter and the sandbox, and imports each only when its
subcommand runs, so `payflow sandbox` works without the server extra.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payflow", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser(
        "sandbox", help="run a local, in-memory Stripe sandbox until stopped"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--port", type=int, default=8420, help="port (0: any free port)")

    serve = commands.add_parser("serve", help="serve the payment routes over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=3000, help="port")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="start a local Stripe sandbox and use it instead of STRIPE_SECRET_KEY",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="write one line per request to stderr (method, route, status, duration, Stripe id)",
    )
    return parser


def _sandbox(host: str, port: int) -> int:
    from payflow_sandbox import Sandbox

    # SIGTERM ends the command as Ctrl-C does, so the sandbox process is always stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with Sandbox(port=port, host=host) as sandbox:
        print(f"Stripe sandbox on {sandbox.url}", flush=True)
        print(
            f"  export STRIPE_API_BASE={sandbox.url} STRIPE_SECRET_KEY=sk_test_sandbox",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        return _sandbox(args.host, args.port)
    from payflow_asgi._serve import run

    run(host=args.host, port=args.port, sandbox=args.sandbox, access_log=args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
