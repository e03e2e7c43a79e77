"""What the run_tests family does for one runnable dir (the task layer only parses flags)."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers import events, tables
from helpers.effects import commands
from helpers.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from helpers.model import hints, junit, project, testlists, workspace
from helpers.ops.images import choice
from helpers.ops.run import inventory, services
from helpers.ops.testing import cache_results, parallel, record, report, reruns, selection, testplan
from helpers.ops.workspace import bookmarks
from helpers.outcome import Outcome

PYTEST_USAGE_ERROR = testlists.PYTEST_USAGE_ERROR


@dataclass(frozen=True)
class PlanRequest:
    """What one dir's run is planned from: which tests, and where they run (`image` given:
    exactly that one; else the stage's image, chosen by `policy`; `no_docker`: the host)."""

    lists: tuple[str, ...]
    stage: str = "local"
    version: Optional[str] = None
    no_docker: bool = False
    pytest_opts: str = ""
    node_ids: tuple[str, ...] = ()
    image: Optional[str] = None
    fresh: bool = False
    policy: Optional[choice.Policy] = None
    reruns: Optional[int] = None  # None: config `reruns`


@dataclass(frozen=True)
class Where:
    """Where a run happens: an image (None: on the host), the warm container to exec in,
    and the services the run starts for itself (when not warm ones)."""

    image: Optional[str]
    warm: Optional[str] = None
    services: Optional[services.ServiceSet] = None


def _chosen(target: project.Target, req: PlanRequest) -> choice.Chosen:
    """The image the run uses (asks the engine, may build it), its warnings said."""
    chosen = choice.choose(target, req.stage, req.version, req.policy or choice.Policy()).said()
    return chosen


def _where(
    target: project.Target, req: PlanRequest, run_id: str, chosen: Optional[choice.Chosen] = None
) -> Where:
    """The execute step before planning: choose the image (unless `chosen`; asks the engine,
    may build it), the services' images, and start the dir's warm container (and services)
    when used."""
    if req.no_docker:
        if target.cfg.services:
            events.warning(f"{target.rel_dir}: --no-docker starts no services ({_names(target)})")
        return Where(None)
    if req.image is not None:
        ref, image = req.image, None
    else:
        chosen = chosen or _chosen(target, req)
        ref, image = chosen.ref, chosen.image
    refs = services.resolve(target) if target.cfg.services else {}
    if image is not None and target.cfg.warm_containers and not req.fresh:
        from helpers.ops.run import warm

        name = warm.ensure_with_services(target, image, refs)
        if name is not None:
            return Where(ref, name)
        events.progress(f"{target.rel_dir}: its warm services serve another run; fresh ones")
    scope = services.for_run(target, run_id, testplan.run_token(run_id, target.rel_dir))
    return Where(ref, services=services.plan(target, refs, scope))


def _names(target: project.Target) -> str:
    return ", ".join(target.cfg.services)


def _plan(target: project.Target, run_id: str, req: PlanRequest, where: Where) -> testplan.DirRun:
    """The run's argv and report dir: computed only (no engine, no files written)."""
    lists, opts, ids = req.lists, req.pytest_opts, req.node_ids
    return testplan.plan_dir(
        target, where.image, lists, run_id, opts, ids, where.warm, where.services, req.reruns
    )


def _run(
    target: project.Target,
    run_id: str,
    req: PlanRequest,
    baked: bool = False,
    chosen: Optional[choice.Chosen] = None,
) -> tuple[testplan.DirRun, int]:
    """Choose (unless `chosen`), plan and execute one dir's run: the run and pytest's exit
    code."""
    with services.logs_shown():
        where = _where(target, req, run_id, chosen)
        if baked:
            assert where.image is not None
            run = testplan.plan_baked(target, where.image, req.lists, run_id, where.services)
        else:
            run = _plan(target, run_id, req, where)
        return run, _execute(run, run_id, target.root)


def _execute(run: testplan.DirRun, run_id: str, root: Path) -> int:
    """Run live, its services started first and removed after; an interrupt removes the
    run's containers. Returns pytest's exit code."""
    if run.services is None:
        return _execute_live(run, run_id, root)
    services.start(run.services)
    try:
        return _execute_live(run, run_id, root)
    finally:
        services.stop(run.services)


def _execute_live(run: testplan.DirRun, run_id: str, root: Path) -> int:
    run = testplan.prepare(run, root)
    cwd = Path(run.cwd) if run.cwd else None

    def clean_up() -> None:
        # A warm container is shared by later runs, but pytest may still run in it.
        if run.argv[1] == "exec":
            from helpers.ops.run import warm

            warm.remove(run.container)
        inventory.remove_run_containers(run_id)

    stop = clean_up if run.container else None
    code = commands.run_live(run.argv, cwd=cwd, env=dict(run.env) or None, on_interrupt=stop)
    if code == EXIT_INTERRUPTED and run.container:
        clean_up()
    return code


NO_TESTS_FIX = "pass --allow-no-tests if expected"
# A release has no --allow-no-tests: its way to go on without tests is --skip-tests.
RELEASE_NO_TESTS_FIX = "pass --skip-tests to release without tests, said in the image label"


def _verdict(
    run: testplan.DirRun, code: int, allow_no_tests: bool, no_tests_fix: str = NO_TESTS_FIX
) -> Outcome:
    """The dir's counts line and exit code, from pytest's exit code and its report;
    `no_tests_fix`: what the caller's user passes when a dir rightly has no tests."""
    if code == EXIT_INTERRUPTED:
        events.progress(
            f"{run.rel_dir}: interrupted" + (" (container removed)" if run.container else "")
        )
        return Outcome(code=EXIT_INTERRUPTED)
    if code == PYTEST_USAGE_ERROR:
        events.progress(
            f"{run.rel_dir}: pytest stopped before running any test (exit 4): its own error "
            "is above (a conftest.py that fails to import, an option it refuses (--pytest-opts, "
            "pytest.ini addopts) or a path it cannot find)"
        )
        return Outcome(code=EXIT_USAGE)
    counts = junit.read_counts(run.junit)
    if counts is None:
        events.progress(
            f"{run.rel_dir}: no test report was written (exit {code}); see the output above"
        )
        return Outcome(code=EXIT_FAILED)
    line = f"{run.rel_dir}: {counts.describe()} ({run.image}); junit: {run.junit}"
    line += "".join(f"\n{note}" for note in flaky_lines(run))
    if code == parallel.PYTEST_NO_TESTS or counts.total == 0:
        if allow_no_tests:
            return Outcome(line)
        events.progress(f"no tests ran: that is a failure ({no_tests_fix})")
        return Outcome(line, EXIT_FAILED)
    return Outcome(line, EXIT_OK if code == 0 else EXIT_FAILED)


def flaky_lines(run: testplan.DirRun) -> list[str]:
    """A line per flaky and per quarantined test of the run, from the plugin's record."""
    return report.dir_notes(run.rel_dir, *reruns.read(run.report_dir))


def _shown(verdict: Outcome) -> int:
    """A verdict in the middle of a longer run (a release's test step, one of several
    reruns): its line now, its code for the caller."""
    if verdict.text:
        events.data(verdict.text)
    return verdict.code


def run_in_image(
    target: project.Target, image_ref: str, lists: Sequence[str], *, baked: bool = False
) -> int:
    """The dir's tests in exactly `image_ref` (a fresh container), as run_tests runs them;
    `baked`: against the code inside the image, nothing of the repo mounted (prod)."""
    run_id = testplan.new_run_id()
    req = PlanRequest(tuple(lists), image=image_ref, fresh=True)
    run, code = _run(target, run_id, req, baked)
    record.record_last(target.root, run_id, [run], lists)
    return _shown(_verdict(run, code, False, RELEASE_NO_TESTS_FIX))


@dataclass(frozen=True)
class RunRequest:
    """The run_tests family's flags."""

    dir: Optional[str] = None
    test_list: str = "fast,slow,superslow"
    stage: str = "local"
    version: Optional[str] = None
    no_docker: bool = False
    pytest_opts: str = ""
    allow_no_tests: bool = False
    changed_since: Optional[str] = None
    fresh: bool = False
    if_missing: str = "fail"
    allow_stale: bool = False
    reruns: Optional[int] = None
    no_cache: bool = False


def run_tests(req: RunRequest) -> Outcome:
    lists = testlists.parse_lists(req.test_list)
    target = project.target(req.dir)
    key = bookmarks.selection("run_tests", target.rel_dir, lists)
    if req.changed_since:
        hit, since = selection.dir_affected(target.root, target.rel_dir, req.changed_since, key)
        if not hit:
            return Outcome(f"{target.rel_dir}: not run (not affected since {since})")
    run_id = testplan.new_run_id()
    plan = PlanRequest(
        tuple(lists),
        stage=req.stage,
        version=req.version,
        no_docker=req.no_docker,
        pytest_opts=req.pytest_opts,
        fresh=req.fresh,
        policy=choice.Policy(req.if_missing, req.allow_stale),
        reruns=req.reruns,
    )
    chosen = None if req.no_docker else _chosen(target, plan)
    cached = cache_results.Cached.look(target, chosen, lists, req.pytest_opts, req.no_cache)
    if cached.hit:
        run, verdict = cached.serve(run_id)
    else:
        began = time.monotonic()
        run, code = _run(target, run_id, plan, chosen=chosen)
        verdict = _verdict(run, code, req.allow_no_tests)
        cached.record(run, code, time.monotonic() - began, run_id)
    record.record_if_ran(target.root, run_id, [run], lists)
    reruns.note_quarantine(target.root, [run])
    note = bookmarks.record_success(target.root, key, None) if verdict.code == EXIT_OK else None
    if note:
        events.progress(note)
    return verdict


def _last_failures(
    dir_flag: Optional[str],
) -> tuple[project.Target, list[tuple[record.LastDir, list[str]]]]:
    cwd = Path.cwd().resolve()

    root = workspace.find_repo_root(cwd)
    wanted = workspace.resolve_dir(root, cwd, dir_flag) if dir_flag else None
    failing = [(d, d.failed()) for d in record.load_last(root) if wanted in (None, d.dir)]
    failing = [(d, ids) for d, ids in failing if ids]
    return project.Target.load(root, "."), failing


def pytest_failed(dir_flag: Optional[str], pytest_opts: str) -> Outcome:
    """Rerun the failed tests of the last run, each dir in the image it used."""
    anchor, failing = _last_failures(dir_flag)
    if not failing:
        return Outcome("the last run had no failures: nothing to rerun")
    worst = EXIT_OK
    for last, node_ids in failing:
        target = project.Target.load(anchor.root, last.dir)
        run_id = testplan.new_run_id()
        host = last.image == "host"
        image = None if host else last.image
        plan = PlanRequest(
            tuple(testlists.LISTS),
            no_docker=host,
            pytest_opts=pytest_opts,
            node_ids=tuple(node_ids),
            image=image,
        )
        events.data(f"rerunning {tables.count(len(node_ids), 'failed test')} of {last.dir}")
        run, code = _run(target, run_id, plan)
        code = _shown(_verdict(run, code, allow_no_tests=False))
        worst = max(worst, code)
    if len(failing) == 1:
        return Outcome(code=worst)  # its counts line above says it all
    reran = sum(len(ids) for _, ids in failing)
    state = "all pass now" if worst == EXIT_OK else f"not all pass (exit {worst})"
    what = f"{tables.count(reran, 'failed test')} in {tables.count(len(failing), 'dir')}"
    return Outcome(f"reran {what}: {state}", worst)


def pytest_repro(dir_flag: Optional[str]) -> list[str]:
    """The exact commands that rerun each failure of the last run."""
    anchor, failing = _last_failures(dir_flag)
    lines = []
    for last, node_ids in failing:
        for node_id in node_ids:
            pytest = shlex.join(["python3", "-m", "pytest", node_id])
            if last.image == "host":
                lines.append(f"cd {shlex.quote(str(anchor.root / last.dir))} && {pytest}")
            else:
                flags = ("--cmd", shlex.quote(pytest), *hints.image_flags(last.image))
                lines.append(hints.task_line("docker_cmd", last.dir, *flags))
    return lines


# One planned run, executed and judged as run_tests does: what `run_tests --watch`
# (helpers/ops/testing/watch.py) repeats on every change.
plan_run = _plan
execute = _execute
verdict = _verdict
show_verdict = _shown
