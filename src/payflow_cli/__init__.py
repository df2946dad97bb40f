"""The `payflow` command: `payflow sandbox` and `payflow serve`.

It sits above the library, the HTTP adapter and the sandbox, and imports each only when its
subcommand runs, so `payflow sandbox` works without the server extra.

Exit statuses: 0 after SIGINT or SIGTERM; 2 for arguments or a configuration that cannot work
(one line on stderr says which); 3 when the address cannot be listened on (in use, not this
machine's, a host name that does not resolve).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any, NoReturn

from payflow_sandbox import SANDBOX_DEFAULT_PORT, port_number

__all__ = ["main"]


def _port(text: str) -> int:
    try:
        return port_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version() -> str:
    # The distribution that installed this command, whatever its name on PyPI.
    for script in entry_points(group="console_scripts", name="payflow"):
        if script.value.startswith(f"{__name__}:") and script.dist is not None:
            return script.dist.version
    return "unknown (not installed)"


class _HelpWithEnvironment(argparse.Action):
    """`payflow serve --help`, ending with the environment variables the server reads: imported
    only then, so that other commands do not pay for importing the server."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show this help message and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> NoReturn:
        parser.epilog = _environment()
        parser.print_help()
        parser.exit()


def _environment() -> str:
    """The variables `payflow serve` reads, for its --help."""
    try:
        from payflow_asgi._settings import ENVIRONMENT
    except ImportError:  # without the server extra there is no serve to configure
        return ""
    width = max(len(name) for name, _, _ in ENVIRONMENT)
    lines = [
        f"  {name:<{width}}  {meaning} (default: {default})"
        for name, default, meaning in ENVIRONMENT
    ]
    return "environment variables:\n" + "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payflow",
        description=__doc__.splitlines()[0],
        epilog="exit statuses: 0 stopped by a signal, 2 bad arguments or configuration, 3 cannot"
        " listen on the address",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser(
        "sandbox",
        help="run a local, in-memory Stripe sandbox until stopped",
        description="Run a local, in-memory Stripe sandbox (localstripe) until SIGINT or SIGTERM.",
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    sandbox.add_argument(
        "--port",
        type=_port,
        default=SANDBOX_DEFAULT_PORT,
        help="port, 0 for any free port (default: %(default)s)",
    )
    sandbox.add_argument(
        "--access-log",
        action="store_true",
        help="write one line per request (method, path, status) to stderr",
    )

    serve = commands.add_parser(
        "serve",
        help="serve the payment routes over HTTP",
        description="Serve the payment routes over HTTP until SIGINT or SIGTERM.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    serve.add_argument("-h", "--help", action=_HelpWithEnvironment)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument("--port", type=_port, default=3000, help="port (default: %(default)s)")
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


def _sandbox(host: str, port: int, access_log: bool) -> NoReturn:
    # The sandbox program itself, in place of this process: its output, signals and exit status
    # are the command's. localstripe (GPL) runs only there.
    command = [sys.executable, "-m", "payflow_sandbox", "--host", host, "--port", str(port)]
    os.execv(sys.executable, [*command, *(["--access-log"] if access_log else [])])  # noqa: S606 - our own interpreter and module


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        _sandbox(args.host, args.port, args.access_log)
    from payflow_asgi._serve import run

    run(host=args.host, port=args.port, sandbox=args.sandbox, access_log=args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
