"""Mutation testing of payflow's money and request paths, with cosmic-ray (docs/mutation.md).

Run from the repository root with the dev venv (slow; not part of CI):

    nice -n 15 .venv/bin/python scripts/mutation.py            # every target
    nice -n 15 .venv/bin/python scripts/mutation.py money parse  # some of them
    nice -n 15 .venv/bin/python scripts/mutation.py --jobs 2     # two targets at a time

Each target is one module (or some definitions of one), mutated by cosmic-ray in its own copy
of the tree under `.mutation/` (the working tree is never touched), and tested by the test files
that exercise it. Mutants that cannot change behaviour whatever the tests (in annotations, which
`from __future__ import annotations` never evaluates, and the `*`s that cosmic-ray takes for
multiplications) are skipped before the run, and so, unless --all-operators, are all but one
replacement of each operator. The script prints every surviving mutant with its diff, then the
score per target and in total; docs/mutation.md says why each survivor survives.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"


@dataclass(frozen=True)
class Target:
    """One module to mutate, the tests that judge it, and optionally the only parts of it to
    mutate (top-level function or assignment names)."""

    module: str
    tests: tuple[str, ...]
    only: frozenset[str] = field(default_factory=frozenset)


# Tests first that fail fastest: pytest runs with -x, so a killed mutant stops at its first
# failure. The pure tests need no sandbox; the others start one per mutant.
TARGETS: dict[str, Target] = {
    "money": Target(
        "src/payflow/_money.py",
        (
            "tests/payflow/test_mutants_money.py",
            "tests/payflow/test_money.py",
            "tests/payflow/test_validate.py",
            "tests/payflow/test_payment_values.py",
        ),
    ),
    "validate": Target(
        "src/payflow/_validate.py",
        (
            "tests/payflow/test_mutants_validate.py",
            "tests/payflow/test_validate.py",
            "tests/payflow/test_payment_values.py",
            "tests/payflow/test_money.py",
            "tests/payflow/test_steps.py",
        ),
    ),
    "parse": Target(
        "src/payflow_asgi/_parse.py",
        (
            "tests/payflow_asgi/test_mutants_parse.py",
            "tests/payflow_asgi/test_http_errors.py",
            "tests/payflow_asgi/test_routes.py",
            "tests/payflow_asgi/test_idempotency.py",
            "tests/payflow_asgi/test_currencies.py",
        ),
    ),
    "steps": Target(
        "src/payflow/_steps.py",
        (
            "tests/reliability/test_raw_card_data.py",
            "tests/payflow/test_steps.py",
            "tests/payflow/test_three_d_secure.py",
        ),
    ),
    "stripe_api": Target(
        "src/payflow/_stripe_api.py",
        (
            "tests/payflow/test_mutants_stripe_api.py",
            "tests/payflow/test_payment_values.py",
            "tests/payflow/test_steps.py",
            "tests/payflow/test_three_d_secure.py",
        ),
    ),
    "errors": Target(
        "src/payflow/_errors.py",
        ("tests/payflow/test_mutants_errors.py", "tests/payflow/test_errors.py"),
    ),
    # Where the SDK's errors become payflow's: only the translation, not the transport.
    "translate": Target(
        "src/payflow/_gateway.py",
        ("tests/payflow/test_mutants_errors.py", "tests/payflow/test_errors.py"),
        only=frozenset(
            {
                "_CONFLICT_CODES",
                "_SECRET",
                "_redact",
                "_timed_out",
                "translate",
                "_failed",
                "_parsed",
            }
        ),
    ),
}


# cosmic-ray replaces each operator by every other of its kind: ten mutants for each `+`. By
# default only the replacement mutmut makes is kept (the boundary for a comparison, the inverse
# for arithmetic), which halves the run's time on two shared cores; --all-operators keeps them
# all.
_ONE_REPLACEMENT = {
    "ReplaceBinaryOperator": {
        "Add": "Sub", "Sub": "Add", "Mul": "Div", "Div": "Mul", "FloorDiv": "Div",
        "Mod": "Div", "Pow": "Mul", "LShift": "RShift", "RShift": "LShift",
        "BitOr": "BitAnd", "BitAnd": "BitOr", "BitXor": "BitAnd",
    },
    "ReplaceComparisonOperator": {
        "Lt": "LtE", "LtE": "Lt", "Gt": "GtE", "GtE": "Gt", "Eq": "NotEq", "NotEq": "Eq",
        "Is": "IsNot", "IsNot": "Is",
    },
}  # fmt: skip


def _kept(operator_name: str, *, all_operators: bool) -> bool:
    kind, _, change = operator_name.removeprefix("core/").partition("_")
    if all_operators or kind not in _ONE_REPLACEMENT:
        return True
    original, _, replacement = change.partition("_")
    return _ONE_REPLACEMENT[kind].get(original) == replacement


def _ensure_cosmic_ray() -> None:
    """Install the pinned cosmic-ray of the `mutation` extra into this environment if needed."""
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "optional-dependencies"
        ]
        subprocess.run([sys.executable, "-m", "pip", "install", *extras["mutation"]], check=True)  # noqa: S603


def _unevaluated(tree: ast.Module) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
    """Source spans whose mutants cannot change behaviour: annotations (never evaluated under
    `from __future__ import annotations`) and the `*`/`**` of argument unpacking."""
    for node in ast.walk(tree):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
            arguments = node.args
            if arguments.kwonlyargs and arguments.vararg is None:
                # The bare `*` before keyword-only parameters (cosmic-ray's "multiplication"):
                # somewhere between the last positional parameter and the first keyword-only one.
                before: list[ast.arg | ast.expr] = [*arguments.posonlyargs, *arguments.args]
                before += arguments.defaults[-1:]
                ends = [(b.end_lineno or 0, b.end_col_offset or 0) for b in before]
                first = arguments.kwonlyargs[0]
                yield max(ends, default=(node.lineno, 0)), (first.lineno, first.col_offset)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.Starred):
            annotations.append(None)
            yield (node.lineno, node.col_offset), (node.lineno, node.col_offset + 1)
        elif isinstance(node, ast.keyword) and node.arg is None:
            yield (node.lineno, node.col_offset), (node.lineno, node.col_offset + 2)
        for annotation in annotations:
            if annotation is not None:
                assert annotation.end_lineno is not None
                assert annotation.end_col_offset is not None
                yield (
                    (annotation.lineno, annotation.col_offset),
                    (annotation.end_lineno, annotation.end_col_offset),
                )


def _selected(tree: ast.Module, names: frozenset[str]) -> list[tuple[int, int]]:
    """Line ranges of the top-level definitions named in `names`."""
    ranges = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found = {node.name}
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found = {t.id for t in targets if isinstance(t, ast.Name)}
        else:
            continue
        if found & names:
            assert node.end_lineno is not None
            ranges.append((node.lineno, node.end_lineno))
    return ranges


def _skip_unwanted(
    db: Path, source: Path, only: frozenset[str], *, all_operators: bool
) -> tuple[int, int]:
    """Mark as skipped the mutants of `db` that cannot change behaviour or lie outside `only`,
    and as incompetent those that are not Python (cosmic-ray takes the bare `*` before
    keyword-only parameters for a multiplication): (skipped, incompetent)."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    code = source.read_text()
    tree = ast.parse(code)
    spans = list(_unevaluated(tree))
    ranges = _selected(tree, only) if only else [(1, 10**9)]
    skipped, invalid = [], []
    with use_db(str(db), WorkDB.Mode.open) as work_db:
        for item in work_db.work_items:
            (mutation,) = item.mutations
            start = tuple(mutation.start_pos)
            if (
                any(low <= start < high for low, high in spans)
                or not any(low <= start[0] <= high for low, high in ranges)
                or not _kept(mutation.operator_name, all_operators=all_operators)
            ):
                skipped.append(item.job_id)
                continue
            operator = cosmic_ray.plugins.get_operator(mutation.operator_name)()
            mutated = mutate_code(code, operator, mutation.occurrence)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SyntaxWarning)
                    compile(mutated, str(source), "exec", dont_inherit=True)
            except SyntaxError:
                invalid.append(item.job_id)
        if skipped:
            work_db.set_multiple_results(
                skipped,
                WorkResult(output="not a behaviour", worker_outcome=WorkerOutcome.SKIPPED),
            )
        if invalid:
            work_db.set_multiple_results(
                invalid,
                WorkResult(
                    output="not Python",
                    test_outcome=TestOutcome.INCOMPETENT,
                    worker_outcome=WorkerOutcome.NORMAL,
                ),
            )
    return len(skipped), len(invalid)


@dataclass
class Outcome:
    name: str
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    incompetent: int = 0
    skipped: int = 0
    pending: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.killed + len(self.survived)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def _test_command(target: Target, tree: Path) -> list[str]:
    tests = [t for t in target.tests if (tree / t).exists()]
    plugins = ["-p", "asyncio", "-p", "_hypothesis_pytestplugin", "-p", "no:cacheprovider"]
    return [sys.executable, "-m", "pytest", "-x", "-q", *plugins, *tests]


def _prepare(name: str, target: Target, *, baseline: bool) -> None:
    """A fresh copy of the tree, the session's mutants, the inert ones skipped."""
    work = WORK / name
    tree = work / "tree"
    shutil.rmtree(work, ignore_errors=True)
    _copy_tree(tree, ("src", "tests"))
    shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
    (work / "source.sha256").write_text(_source_digest())
    timeout = 60.0
    if baseline:
        started = time.monotonic()
        command = _test_command(target, tree)
        check = subprocess.run(command, cwd=tree, env=_env(tree), capture_output=True, text=True)  # noqa: S603
        if check.returncode != 0:
            sys.exit(f"{name}: the tests fail before any mutation:\n{check.stdout[-3000:]}")
        timeout = max(timeout, 10 * (time.monotonic() - started))
    _configure(work, target, timeout)
    _cosmic_ray("init", work, tree)


def _configure(work: Path, target: Target, timeout: float) -> None:
    """cosmic-ray's configuration: the module, the test command, the timeout per mutant."""
    (work / "cosmic-ray.toml").write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(target.module)}\n"
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(' '.join(_test_command(target, work / 'tree')))}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


def _env(tree: Path) -> dict[str, str]:
    # Plugins named, not discovered: each mutant's pytest starts a second sooner.
    return {
        **os.environ,
        "PYTHONPATH": str(tree / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def _cosmic_ray(command: str, work: Path, tree: Path) -> str:
    config = [str(work / "cosmic-ray.toml")] if command != "dump" else []
    done = subprocess.run(  # noqa: S603
        [
            str(Path(sys.executable).parent / "cosmic-ray"),
            command,
            *config,
            str(work / "session.sqlite"),
        ],
        cwd=tree,
        env=_env(tree),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def _results(name: str, target: Target) -> Outcome:
    """The session's outcome: counts, and each survivor with its line and diff."""
    work = WORK / name
    tree = work / "tree"
    outcome = Outcome(name)
    for line in _cosmic_ray("dump", work, tree).splitlines():
        item, result = json.loads(line)
        if result is None:
            outcome.pending += 1
        elif result["worker_outcome"] == "skipped":
            outcome.skipped += 1
        elif result["test_outcome"] == "killed":
            outcome.killed += 1
        elif result["test_outcome"] == "incompetent":
            outcome.incompetent += 1
        else:
            mutation = item["mutations"][0]
            line_no = mutation["start_pos"][0]
            source = (tree / target.module).read_text().splitlines()[line_no - 1].strip()
            outcome.survived.append(
                f"{target.module}:{line_no} {mutation['operator_name']}"
                f" (occurrence {mutation['occurrence']}): {source}\n{result.get('diff') or ''}"
            )
    return outcome


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _copy_tree(tree: Path, parts: Sequence[str]) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.egg-info")
    for part in parts:
        shutil.rmtree(tree / part, ignore_errors=True)
        shutil.copytree(ROOT / part, tree / part, ignore=ignore)


def _survivors_again(name: str, target: Target) -> None:
    """Reuse a session with the current tests: the source must be the one it mutated (a mutant
    killed stays killed when tests are only added); survivors are tried again."""
    work = WORK / name
    if (work / "source.sha256").read_text() != _source_digest():
        sys.exit(f"{name}: src/ changed since the session: run it anew (without --again)")
    # Afresh: an interrupted run may have left a mutant in place.
    _copy_tree(work / "tree", ("src", "tests"))
    timeout = tomllib.loads((work / "cosmic-ray.toml").read_text())["cosmic-ray"]["timeout"]
    _configure(work, target, timeout)
    with sqlite3.connect(work / "session.sqlite") as db:
        db.execute("DELETE FROM work_results WHERE lower(test_outcome) = 'survived'")


def _run_target(
    name: str, target: Target, *, again: bool, count: bool, all_operators: bool
) -> Outcome:
    started = time.monotonic()
    work = WORK / name
    if again and (work / "session.sqlite").exists():
        _survivors_again(name, target)
    else:
        _prepare(name, target, baseline=not count)
    tree = work / "tree"
    _skip_unwanted(
        work / "session.sqlite", tree / target.module, target.only, all_operators=all_operators
    )
    if not count:
        _cosmic_ray("exec", work, tree)
    outcome = _results(name, target)
    outcome.seconds = time.monotonic() - started
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET", help=f"some of: {', '.join(TARGETS)} (default: all)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="targets run at a time (default 1)")
    parser.add_argument(
        "--again",
        action="store_true",
        help="try the last run's survivors again with the current tests, and"
        " finish an interrupted run (the source must not have changed)",
    )
    parser.add_argument(
        "--all-operators",
        action="store_true",
        help="every replacement of each operator, not only mutmut's one",
    )
    parser.add_argument("--count", action="store_true", help="count the mutants, run nothing")
    args = parser.parse_args(argv)
    if unknown := set(args.targets) - set(TARGETS):
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    os.chdir(ROOT)
    _ensure_cosmic_ray()
    names = args.targets or list(TARGETS)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(
            pool.map(
                lambda n: _run_target(
                    n,
                    TARGETS[n],
                    again=args.again,
                    count=args.count,
                    all_operators=args.all_operators,
                ),
                names,
            )
        )
    for outcome in outcomes:
        for survivor in outcome.survived:
            print(f"SURVIVED {survivor}")
    print(
        f"\n{'target':<12} {'killed':>7} {'total':>6} {'score':>7} {'pending':>8}"
        f" {'skipped':>8} {'invalid':>8} {'time':>7}"
    )
    for o in outcomes:
        print(
            f"{o.name:<12} {o.killed:>7} {o.total:>6} {o.score:>6.1f}% {o.pending:>8}"
            f" {o.skipped:>8} {o.incompetent:>8} {o.seconds / 60:>6.1f}m"
        )
    killed = sum(o.killed for o in outcomes)
    total = sum(o.total for o in outcomes)
    score = 100.0 * killed / total if total else 100.0
    minutes = (time.monotonic() - started) / 60
    print(f"{'total':<12} {killed:>7} {total:>6} {score:>6.1f}% {'':>26} {minutes:>6.1f}m")
    return 0


if __name__ == "__main__":
    sys.exit(main())
