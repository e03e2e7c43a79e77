"""main_pytest: the tests of every runnable dir under --dir, each in its own container, at once.

    main_pytest.py --dir infra [--test-list fast,slow] [-j N] [--stage S] [--changed-since REF]
                   [--shard I/N [--durations REPORT]] [--exact] [--no-cache | --cache-status]
    main_pytest.py --merge-reports SHARD_DIR... [--junit-xml F] [--json F]

Exit codes: 0 all passed, 1 tests failed (or none ran), 2 bad usage or
configuration, 130 interrupted (every container it started is removed first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, Optional

from helpers import events
from helpers.errors import UserError
from helpers.ops.testing import many, parallel
from helpers.outcome import Outcome


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(f"main_pytest.py: {message}; see --help")


def parse_args(argv: Optional[Sequence[str]]) -> many.Options:
    p = _Parser(prog="main_pytest.py", description=__doc__.split("\n\n")[0] if __doc__ else None)
    _add_selection(p)
    _add_running(p)
    _add_reports_and_modes(p)
    args = p.parse_args(argv)
    _check(p, args)
    return many.Options.of(args)


def _add_selection(p: argparse.ArgumentParser) -> None:
    """Which dirs and lists run, how many at once, from which images."""
    p.add_argument("--dir", default=".", help="run every runnable dir under this dir (default: .)")
    p.add_argument("--test-list", default="fast,slow,superslow", help="comma-separated lists")
    p.add_argument("-j", "--jobs", type=int, default=parallel.default_jobs(), help="dirs at once")
    p.add_argument("--stage", default="local", help="image stage: local, dev or prod")
    p.add_argument("--changed-since", default=None, help="only dirs affected since this git ref")
    p.add_argument("--fail-fast", action="store_true", help="start no new dir after a failure")


def _add_running(p: argparse.ArgumentParser) -> None:
    """Missing images, containers, output and pytest's own options."""
    p.add_argument(
        "--if-missing",
        choices=("fail", "build"),
        default="fail",
        help="a dir whose local image is missing or stale: fail it, or build it first",
    )
    p.add_argument("--allow-stale", action="store_true", help="run stale local images anyway")
    p.add_argument("--fresh", action="store_true", help="new containers, not the warm ones")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the log of every build; stream test output live (one dir at a time)",
    )
    p.add_argument("--pytest-opts", default="", help="extra pytest options, e.g. '-x -k name'")
    p.add_argument("--allow-no-tests", action="store_true", help="zero tests run is not a failure")
    p.add_argument(
        "--reruns",
        type=int,
        default=None,
        metavar="N",
        help="retry a failing test up to N times; one that then passes is flaky (default: config)",
    )


def _add_reports_and_modes(p: argparse.ArgumentParser) -> None:
    """Where reports go; sharding, merging, watching and the result cache."""
    p.add_argument("--junit-xml", type=Path, help="also write the combined JUnit XML here")
    p.add_argument("--json", type=Path, help="also write the JSON report here")
    p.add_argument("--shard", default=None, help="run shard I of N of the selected dirs, e.g. 1/4")
    p.add_argument("--durations", type=Path, help="balance --shard by this earlier report.json")
    p.add_argument("--exact", action="store_true", help="only --dir itself, not dirs nested in it")
    p.add_argument(
        "--merge-reports",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="merge shards' reports; run none",
    )
    p.add_argument("--expect-matrix", help="with --merge-reports: a github-matrix JSON of dirs")
    p.add_argument(
        "--watch",
        action="store_true",
        help="after the run, rerun a dir's tests on every change it depends on, until Ctrl-C",
    )
    p.add_argument(
        "--no-cache", action="store_true", help="run every dir; passing runs are still recorded"
    )
    p.add_argument(
        "--cache-status",
        action="store_true",
        help="say which dirs the result cache would serve (exit 0: all); run and build nothing",
    )


def _check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What argparse cannot check: ranges, and that a report's dir exists."""
    if args.jobs < 1:
        p.error(f"-j {args.jobs}: needs at least 1")
    if args.reruns is not None and not 0 <= args.reruns <= 10:
        p.error(f"--reruns {args.reruns}: give a number of retries from 0 to 10")
    for flag, path in (("--junit-xml", args.junit_xml), ("--json", args.json)):
        if path is not None and not path.resolve().parent.is_dir():
            p.error(f"{flag} {path}: its dir does not exist")


def main(argv: Optional[Sequence[str]] = None, cwd: Optional[Path] = None) -> int:
    """The script's entry: the run inside the one edge (helpers.edge)."""
    from helpers import edge

    shown = sys.argv if argv is None else ["main_pytest.py", *argv]
    return edge.main(lambda: _main(parse_args(argv), (cwd or Path.cwd()).resolve()), shown)


def _main(args: many.Options, where: Path) -> Outcome:
    if args.merge_reports:
        from helpers.ops.testing import merge

        paths = [where / d for d in args.merge_reports]
        return merge.run(paths, where, args.junit_xml, args.json, args.expect_matrix)
    if args.durations and not args.shard:
        raise UserError("--durations needs --shard I/N; add --shard or drop --durations")
    if args.watch:
        return _watch(args, where)
    return many.run(args, where)


def _watch(args: many.Options, where: Path) -> Outcome:
    """The run, then its dirs watched (`--watch`): one process per terminal, until Ctrl-C."""
    from helpers.ops.testing import selection, shards, single, watch

    if args.shard or args.changed_since:
        flag = "--shard" if args.shard else "--changed-since"
        raise UserError(f"--watch with {flag}: a watch follows every change itself; drop {flag}")
    first = many.run(args, where)
    if first.code == 130:
        return first
    events.data(first.text)
    sel = selection.select(args.dir, where)
    if args.exact:
        from helpers.model import workspace

        sel = shards.exact(sel, workspace.relative(sel.root, (where / args.dir).resolve()))
    req = single.RunRequest(
        test_list=args.test_list,
        stage=args.stage,
        pytest_opts=args.pytest_opts,
        if_missing=args.if_missing,
        allow_stale=args.allow_stale,
    )
    return watch.watch_dirs(sel.root, sel.dirs, req)
