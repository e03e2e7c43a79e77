"""pytest for a runnable dir inside its container: the run_tests family and reruns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from invoke.context import Context
from invoke.tasks import Task

from helpers.tasks._common import (
    ALLOW_STALE_HELP,
    DIR_HELP,
    IF_MISSING_HELP,
    STAGE_HELP,
    VERSION_HELP,
    task,
)

if TYPE_CHECKING:
    from helpers.outcome import Outcome

HELP = {
    "dir": DIR_HELP,
    "stage": STAGE_HELP,
    "version": VERSION_HELP,
    "no_docker": "run pytest on the host: the active virtualenv's python ($VIRTUAL_ENV), "
    "else the thin env's",
    "pytest_opts": "extra pytest options, e.g. '-x -k name'",
    "allow_no_tests": "zero tests run is not a failure",
    "test_list": "comma-separated subset of fast,slow,superslow",
    "changed_since": "run only if the dir is affected since this git ref (or last-success)",
    "fresh": "run in a new container instead of reusing this dir's warm one",
    "if_missing": IF_MISSING_HELP,
    "allow_stale": ALLOW_STALE_HELP,
    "watch": "after the run, rerun on every change to the dir's files, its dependency units "
    "or its image inputs (affected test files first) until Ctrl-C",
    "reruns": "retry a failing test up to N times in the same run; one that then passes is "
    "flaky (default: config `reruns`)",
    "no_cache": "run even when the result cache holds a passing run of these inputs "
    "(the run is still recorded)",
}

RUN_FLAGS = (
    "dir",
    "stage",
    "version",
    "no_docker",
    "pytest_opts",
    "allow_no_tests",
    "fresh",
    "if_missing",
    "allow_stale",
    "reruns",
    "no_cache",
)


def _help(*names: str) -> dict[str, str]:
    return {name: HELP[name] for name in names}


def _run(**flags: Any) -> Outcome:
    from helpers.ops.testing import reruns, single

    flags["reruns"] = reruns.parse_flag(flags.get("reruns"))
    return single.run_tests(single.RunRequest(**flags))


@task(help=_help(*RUN_FLAGS, "test_list", "changed_since", "watch"))
def run_tests(
    ctx: Context,
    dir: Optional[str] = None,
    test_list: str = "fast,slow,superslow",
    stage: str = "local",
    version: Optional[str] = None,
    no_docker: bool = False,
    pytest_opts: str = "",
    allow_no_tests: bool = False,
    changed_since: Optional[str] = None,
    fresh: bool = False,
    if_missing: str = "fail",
    allow_stale: bool = False,
    watch: bool = False,
    reruns: Optional[str] = None,
    no_cache: bool = False,
) -> Outcome:
    """Run the dir's tests (all lists unless --test-list) inside its container."""
    flags = dict(locals())
    flags.pop("ctx")
    if flags.pop("watch"):
        from helpers.ops.testing import single
        from helpers.ops.testing import watch as watching

        return watching.watch_tests(single.RunRequest(**flags))
    return _run(**flags)


def _one_list(name: str, doc: str) -> Task[Any]:
    """run_<name>_tests: run_tests for one test list (same flags, minus --test-list)."""

    def body(
        ctx: Context,
        dir: Optional[str] = None,
        stage: str = "local",
        version: Optional[str] = None,
        no_docker: bool = False,
        pytest_opts: str = "",
        allow_no_tests: bool = False,
        fresh: bool = False,
        if_missing: str = "fail",
        allow_stale: bool = False,
        reruns: Optional[str] = None,
        no_cache: bool = False,
    ) -> Outcome:
        return _run(
            test_list=name,
            dir=dir,
            stage=stage,
            version=version,
            no_docker=no_docker,
            pytest_opts=pytest_opts,
            allow_no_tests=allow_no_tests,
            fresh=fresh,
            if_missing=if_missing,
            allow_stale=allow_stale,
            reruns=reruns,
            no_cache=no_cache,
        )

    body.__name__ = body.__qualname__ = f"run_{name}_tests"
    body.__doc__ = doc
    return task(help=_help(*RUN_FLAGS))(body)


run_fast_tests = _one_list("fast", "Run the unmarked (fast) tests inside the dir's container.")
run_slow_tests = _one_list("slow", "Run the tests marked slow inside the dir's container.")
run_superslow_tests = _one_list(
    "superslow", "Run the tests marked superslow inside the dir's container."
)


@task(help=_help("dir", "pytest_opts"))
def pytest_failed(ctx: Context, dir: Optional[str] = None, pytest_opts: str = "") -> Outcome:
    """Rerun the failed tests of the last run, in the image each dir used."""
    from helpers.ops.testing import single

    return single.pytest_failed(dir, pytest_opts)


@task(help=_help("dir"))
def pytest_repro(ctx: Context, dir: Optional[str] = None) -> Outcome:
    """Print the exact commands that reproduce each failure of the last run."""
    from helpers.ops.testing import single

    lines = single.pytest_repro(dir)
    from helpers.outcome import Outcome

    return Outcome.of(lines or ["the last run had no failures: nothing to reproduce"])
