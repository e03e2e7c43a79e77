"""What the run_tests family does for one runnable dir (the task layer only parses flags)."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers import events
from helpers.effects import commands
from helpers.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from helpers.model import config, hints, junit, project, testlists
from helpers.ops.images import choice
from helpers.ops.run import inventory
from helpers.ops.testing import cache_results, parallel, record, testplan
from helpers.outcome import Outcome

PYTEST_USAGE_ERROR = 4


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


@dataclass(frozen=True)
class Where:
    """Where a run happens: an image (None: on the host), and the warm container to exec in."""

    image: Optional[str]
    warm: Optional[str] = None


def _chosen(target: project.Target, req: PlanRequest) -> choice.Chosen:
    """The image the run uses (asks the engine, may build it), its warnings said."""
    chosen = choice.choose(target, req.stage, req.version, req.policy or choice.Policy())
    for warning in chosen.warnings:
        events.warning(warning)
    return chosen


def _where(
    target: project.Target, req: PlanRequest, chosen: Optional[choice.Chosen] = None
) -> Where:
    """The execute step before planning: choose the image (unless `chosen`) and start the
    dir's warm container when one is used."""
    if req.no_docker:
        return Where(None)
    if req.image is not None:
        return Where(req.image)
    chosen = chosen or _chosen(target, req)
    if target.cfg.warm_containers and not req.fresh:
        from helpers.ops.run import warm

        return Where(chosen.ref, warm.ensure(target, chosen.image))
    return Where(chosen.ref)


def _plan(target: project.Target, run_id: str, req: PlanRequest, where: Where) -> testplan.DirRun:
    """The run's argv and report dir: computed only (no engine, no files written)."""
    lists, opts, ids = req.lists, req.pytest_opts, req.node_ids
    return testplan.plan_dir(target, where.image, lists, run_id, opts, ids, where.warm)


def _execute(run: testplan.DirRun, run_id: str, root: Path) -> int:
    """Run live; an interrupt removes the run's container. Returns pytest's exit code."""
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


def _verdict(run: testplan.DirRun, code: int, allow_no_tests: bool) -> Outcome:
    """The dir's counts line and exit code, from pytest's exit code and its report."""
    if code == EXIT_INTERRUPTED:
        events.progress(
            f"{run.rel_dir}: interrupted" + (" (container removed)" if run.container else "")
        )
        return Outcome(code=EXIT_INTERRUPTED)
    if code == PYTEST_USAGE_ERROR:
        events.progress(f"{run.rel_dir}: pytest refused its options (exit 4); check --pytest-opts")
        return Outcome(code=EXIT_USAGE)
    counts = junit.read_counts(run.junit)
    if counts is None:
        events.progress(
            f"{run.rel_dir}: no test report was written (exit {code}); see the output above"
        )
        return Outcome(code=EXIT_FAILED)
    line = f"{run.rel_dir}: {counts.describe()} ({run.image}); junit: {run.junit}"
    if code == parallel.PYTEST_NO_TESTS or counts.total == 0:
        if allow_no_tests:
            return Outcome(line)
        events.progress("no tests ran: that is a failure (pass --allow-no-tests if expected)")
        return Outcome(line, EXIT_FAILED)
    return Outcome(line, EXIT_OK if code == 0 else EXIT_FAILED)


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
    if baked:
        run = testplan.plan_baked(target, image_ref, lists, run_id)
    else:
        req = PlanRequest(tuple(lists), image=image_ref, fresh=True)
        run = _plan(target, run_id, req, _where(target, req))
    code = _execute(run, run_id, target.root)
    record.record_last(target.root, run_id, [run], lists)
    return _shown(_verdict(run, code, allow_no_tests=False))


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
    no_cache: bool = False


def run_tests(req: RunRequest) -> Outcome:
    from helpers.ops.testing import selection
    from helpers.ops.workspace import bookmarks

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
    )
    chosen = None if req.no_docker else _chosen(target, plan)
    cached = cache_results.Cached.look(target, chosen, lists, req.pytest_opts, req.no_cache)
    if cached.hit:
        run, verdict = cached.serve(run_id)
    else:
        run = _plan(target, run_id, plan, _where(target, plan, chosen))
        began = time.monotonic()
        code = _execute(run, run_id, target.root)
        verdict = _verdict(run, code, req.allow_no_tests)
        cached.record(run, code, time.monotonic() - began, run_id)
    record.record_if_ran(target.root, run_id, [run], lists)
    note = bookmarks.record_success(target.root, key, None) if verdict.code == EXIT_OK else None
    if note:
        events.progress(note)
    return verdict


def _last_failures(
    dir_flag: Optional[str],
) -> tuple[project.Target, list[tuple[record.LastDir, list[str]]]]:
    cwd = Path.cwd().resolve()
    from helpers.model import workspace

    root = workspace.find_repo_root(cwd)
    wanted = workspace.resolve_dir(root, cwd, dir_flag) if dir_flag else None
    failing = [(d, d.failed()) for d in record.load_last(root) if wanted in (None, d.dir)]
    failing = [(d, ids) for d, ids in failing if ids]
    return project.Target(root, ".", config.load(root, ".")), failing


def pytest_failed(dir_flag: Optional[str], pytest_opts: str) -> Outcome:
    """Rerun the failed tests of the last run, each dir in the image it used."""
    anchor, failing = _last_failures(dir_flag)
    if not failing:
        return Outcome("the last run had no failures: nothing to rerun")
    worst = EXIT_OK
    for last, node_ids in failing:
        target = project.Target(anchor.root, last.dir, config.load(anchor.root, last.dir))
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
        run = _plan(target, run_id, plan, _where(target, plan))
        events.data(f"rerunning {len(node_ids)} failed tests of {last.dir}")
        code = _shown(_verdict(run, _execute(run, run_id, target.root), allow_no_tests=False))
        worst = max(worst, code)
    if len(failing) == 1:
        return Outcome(code=worst)  # its counts line above says it all
    reran = sum(len(ids) for _, ids in failing)
    state = "all pass now" if worst == EXIT_OK else f"not all pass (exit {worst})"
    return Outcome(f"reran {reran} failed tests in {len(failing)} dirs: {state}", worst)


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
