"""main_pytest's run: the tests of every selected runnable dir, each in its own container,
at once; one table, one combined JUnit XML and one JSON report.
"""

from __future__ import annotations

import argparse
import shlex
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from helpers import events
from helpers.effects import commands, engine, fsutil, prefetch, signals
from helpers.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UserError
from helpers.model import images, junit, project, testlists, units, workspace
from helpers.ops.images import build, choice
from helpers.ops.run import services, warm
from helpers.ops.testing import (
    cache_results,
    cache_run,
    cache_status,
    live,
    parallel,
    record,
    report,
    report_html,
    reruns,
    selection,
    shards,
    testplan,
)
from helpers.ops.testing.selection import Selection, select
from helpers.ops.workspace import bookmarks
from helpers.outcome import Outcome


@dataclass(frozen=True)
class Options:
    """main_pytest's flags, checked, built once from the parsed command line."""

    dir: str
    test_list: str
    jobs: int
    stage: str
    changed_since: Optional[str]
    fail_fast: bool
    if_missing: str
    allow_stale: bool
    fresh: bool
    verbose: bool
    pytest_opts: str
    allow_no_tests: bool
    junit_xml: Optional[Path]
    json: Optional[Path]
    shard: Optional[str]
    durations: Optional[Path]
    exact: bool
    merge_reports: Optional[tuple[Path, ...]]
    expect_matrix: Optional[str]
    watch: bool = False
    reruns: Optional[int] = None  # None: each dir's config `reruns`
    no_cache: bool = False  # run every dir (results are still recorded)
    cache_status: bool = False  # say which dirs the result cache would serve; run nothing

    @classmethod
    def of(cls, ns: argparse.Namespace) -> Options:
        given = vars(ns)
        if given["merge_reports"] is not None:
            given = {**given, "merge_reports": tuple(given["merge_reports"])}
        return cls(**given)


@dataclass
class Prepared:
    runs: list[testplan.DirRun]
    skipped: list[tuple[str, str]]  # could not run: configuration (exit 2)
    broken: list[tuple[str, str]]  # the image build failed (exit 1)
    cached: list[tuple[testplan.DirRun, parallel.DirResult]] = field(default_factory=list)
    probes: dict[str, cache_run.Probe] = field(default_factory=dict)  # by dir: keys to record


def _prepare(
    sel: Selection,
    args: Options,
    lists: list[str],
    run_id: str,
    survey: Optional[cache_run.Survey],
) -> Prepared:
    """Each dir's image (checked, built if asked), its cached result or run plan, `-j` dirs
    at a time."""
    if args.if_missing == "build" and args.stage != "local":
        events.warning(f"--if-missing build: {args.stage} images are pulled, not built; ignored")
    runner = prefetch_for_dirs(sel.root, sel.dirs, args.stage, warm=False)
    prep = _DirPrep(
        sel,
        args,
        lists,
        run_id,
        choice.Policy(args.if_missing, args.allow_stale, quiet_build=not args.verbose),
        runner,
        cache_results.Looking(survey, lists, args.pytest_opts, args.verbose, args.verbose),
        _Once(lambda: runner.load_containers(warm.STATE_FORMAT)),
        _Warming(threading.Event(), []),
        units.load(sel.root, runner) if args.stage == "local" else None,  # read once
    )
    out = Prepared([], list(sel.skipped), [])
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        for kind, payload in pool.map(prep.one, sel.dirs):
            _collect(out, kind, payload)
    except KeyboardInterrupt:
        prep.warming.interrupt(pool)
        raise
    finally:
        pool.shutdown(wait=True)
    return out


@dataclass(frozen=True)
class _DirPrep:
    """What preparing one dir needs, shared by the dirs of a run (the look-ups made once)."""

    sel: Selection
    args: Options
    lists: list[str]
    run_id: str
    policy: choice.Policy
    runner: prefetch.Prefetched
    look: cache_results.Looking
    containers: _Once
    warming: _Warming
    ws: Optional[units.Workspace]

    def one(self, rel: str) -> tuple[str, object]:
        """The dir's kind of result ("cached", "run", "broken", "skipped") and its payload."""
        target = project.Target.load(self.sel.root, rel)
        try:
            return self._cached_or_planned(target)
        except build.BuildFailedError as err:
            return "broken", (rel, err.message)
        except engine.EngineDownError:
            raise  # the same for every dir: said once, on stderr, by the edge
        except UserError as err:
            services.show_logs(err)
            return "skipped", (rel, err.message)

    def _cached_or_planned(self, target: project.Target) -> tuple[str, object]:
        """The dir's cached result (looked up before its image when the cache can tell), or
        its image chosen and its run planned."""
        stage, run_id = self.args.stage, self.run_id
        early = self.look.before_image(target, stage, self.policy, self.runner)
        if early is not None and early.entry is not None:
            ref = choice.chosen_ref(target, stage, None, images.user_name())
            return "cached", (early, cache_results.serve(early, ref, run_id))
        chosen = choice.choose(target, stage, None, self.policy, self.runner, ws=self.ws).said()
        probe = self.look.probe(target, chosen.image)
        if probe.entry is not None:
            return "cached", (probe, cache_results.serve(probe, chosen.ref, run_id))
        return "run", (probe, self._planned(target, chosen))

    def _planned(self, target: project.Target, chosen: choice.Chosen) -> testplan.DirRun:
        """The dir's run in its warm container (or a fresh one, its services planned)."""
        hot = self.containers.then(self.runner)
        name, sset = self.warming.ensure(target, chosen.image, self.run_id, self.args.fresh, hot)
        plan = testplan.plan_dir(
            target,
            chosen.ref,
            self.lists,
            self.run_id,
            self.args.pytest_opts,
            warm=name,
            services=sset,
            reruns=self.args.reruns,
        )
        return testplan.prepare(plan, self.sel.root)


def _collect(out: Prepared, kind: str, payload: object) -> None:
    if kind in ("run", "cached") and isinstance(payload, tuple):
        probe, what = payload
        out.probes[probe.target.rel_dir] = probe
        if kind == "run":
            out.runs.append(what)
        else:
            out.cached.append(what)
            events.data(report.end_line(what[1]))
    elif isinstance(payload, tuple):
        (out.broken if kind == "broken" else out.skipped).append(payload)


class _Once:
    """A look-up made at most once, and only when some dir needs it (every dir cached: the
    warm containers are never listed)."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.lock = threading.Lock()
        self.done = False

    def then(self, runner: prefetch.Prefetched) -> prefetch.Prefetched:
        with self.lock:
            if not self.done:
                self.done = True
                self.action()
        return runner


SAID_ABOVE = "the error above"


def _said_once(prepared: Prepared) -> set[str]:
    """A configuration error every one of several dirs shares (a repo's `.env` that does
    not parse) is bad input: one line on stderr, exit 2. One that several dirs share is
    said once on stderr, and their table rows point at it (the reasons returned; the JSON
    keeps them whole)."""
    mine = [s for s in prepared.skipped if s[0]]
    reasons = {why for _, why in mine}
    if len(mine) > 1 and len(reasons) == 1 and not prepared.runs and not prepared.broken:
        raise UserError(mine[0][1])
    shared = {why for why in reasons if sum(w == why for _, w in mine) > 1}
    for why in sorted(shared):
        events.warning(f"{why} ({', '.join(d for d, w in mine if w == why)})")
    return shared


@dataclass
class _Warming:
    """The warm sets with services that this run's preparation starts or takes: on an
    interrupt they are stopped (once the workers stop) and removed with their services."""

    stopping: threading.Event
    taken: list[str]

    def ensure(
        self,
        target: project.Target,
        image: engine.ImageInfo,
        run_id: str,
        fresh: bool,
        runner: commands.Runner,
    ) -> tuple[Optional[str], Optional[services.ServiceSet]]:
        """The dir's warm container (its services warm beside it), or the services this run
        starts for the dir when it runs in a fresh container."""
        refs = services.resolve(target, runner) if target.cfg.services else {}
        if target.cfg.warm_containers and not fresh:
            leased = warm.name_for(target, image, refs) if refs else ""
            self.taken.append(leased)
            name = warm.ensure_with_services(target, image, refs, runner, self.stopping)
            if name is not None:
                return name, None
            self.taken.remove(leased)  # another run's: not ours to remove
            events.progress(f"{target.rel_dir}: its warm services serve another run; fresh ones")
        scope = services.for_run(target, run_id, testplan.run_token(run_id, target.rel_dir))
        return None, services.plan(target, refs, scope)

    def interrupt(self, pool: Any) -> None:
        signals.ignore_stop_signals()
        self.stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for name in [n for n in self.taken if n]:
            warm.remove(name)


def _ran(
    results: Sequence[parallel.DirResult], skipped: list[tuple[str, str]]
) -> list[parallel.DirResult]:
    """The dirs whose tests ran; the others go to `skipped` with the reason."""
    started = [r for r in results if r.note != parallel.NOT_STARTED]
    skipped += [(r.rel_dir, "not started: --fail-fast") for r in results if r not in started]
    no_services = [r for r in started if r.counts is None and r.exit_code == EXIT_USAGE]
    skipped += [(r.rel_dir, r.note) for r in no_services]  # a service did not get healthy
    return [r for r in started if r not in no_services]


def _exit_code(
    results: Sequence[parallel.DirResult], skipped: Sequence[object], allow_none: bool
) -> int:
    if any(not r.ok for r in results):
        return EXIT_FAILED
    if skipped:
        return EXIT_USAGE
    if not allow_none and report.totals(results).total == 0:
        return EXIT_FAILED
    return EXIT_OK


def _write_reports(
    root: Path,
    run_id: str,
    code: int,
    results: Sequence[parallel.DirResult],
    skipped: Sequence[tuple[str, str]],
    runs: Sequence[testplan.DirRun],
    args: Options,
    extra: Optional[dict[str, object]] = None,
) -> Path:
    out_dir = testplan.ensure_reports_root(root) / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    combined = junit.combine([(r.rel_dir, r.junit) for r in runs])
    as_json = report.to_json(run_id, code, results, skipped, extra)
    for path, text in ((out_dir / "junit.xml", combined), (out_dir / "report.json", as_json)):
        fsutil.write_atomic(path, text)
    for given, text in ((args.junit_xml, combined), (args.json, as_json)):
        if given:
            fsutil.write_atomic(given.resolve(), text, parents=True)
    links = {r.rel_dir: r.junit.relative_to(out_dir).as_posix() for r in runs if r.junit.is_file()}
    page = report_html.Page(run_id, code, results, skipped, junit.cases(combined), links)
    report_html.save(page, out_dir, args.json, args.junit_xml)
    return out_dir


def _stop_warm(runs: Sequence[testplan.DirRun]) -> None:
    """A `docker exec` run outlives its CLI: remove the warm containers that ran it."""
    for run in runs:
        if run.argv[1:2] == ("exec",):
            warm.remove(run.container)


def run(args: Options, cwd: Path) -> Outcome:
    """Every selected dir's tests, each in its container, `-j` at a time: the summary table
    and the exit code (progress lines are emitted while the dirs run)."""
    lists = testlists.parse_lists(args.test_list)
    shard = shards.parse(args.shard) if args.shard else None
    durations = shards.load_durations(args.durations) if args.durations else None
    images.check_stage(args.stage)
    sel = select(args.dir, cwd)
    _warn_untested(sel.untested)
    rel = workspace.relative(sel.root, (cwd / args.dir).resolve())
    key = bookmarks.selection("main_pytest", rel, lists)
    if args.exact:
        sel = shards.exact(sel, rel)
    if args.changed_since:
        sel = _changed(sel, args.changed_since, key)
        if not sel.dirs and not args.shard:
            done = bookmarks.record_success(sel.root, key, args.changed_since)
            return Outcome.of([report.table([], sel.unaffected), done or "nothing to run"])
    run_id = testplan.new_run_id()
    shard_info: Optional[dict[str, object]] = None
    if shard:
        sel, shard_info = _sharded(sel, shard, durations)
        if not sel.dirs:
            out = _write_reports(
                sel.root, run_id, EXIT_OK, [], sel.unaffected, [], args, shard_info
            )
            return Outcome(f"nothing to run in this shard; reports: {out}")
    if args.cache_status:
        return cache_status.run(sel, args.stage, lists, args.pytest_opts, args.allow_stale)
    ran = _run_selected(sel, args, lists, run_id, shard_info)
    # A shard's or --exact's success is not the whole selection's.
    whole = ran.code == EXIT_OK and shard is None and not args.exact
    note = bookmarks.record_success(sel.root, key, args.changed_since) if whole else None
    return Outcome.of([ran.text, note], ran.code) if note else ran


def _warn_untested(untested: Sequence[str]) -> None:
    """Tests outside every runnable dir: no run covers them; say how to give them one."""
    if not untested:
        return
    shown = ", ".join(untested[:5]) + (" ..." if len(untested) > 5 else "")
    fix = f"invoke create_runnable_dir {shlex.quote(untested[0])}"
    events.warning(
        f"no run covers the tests of {shown}: not inside a runnable dir; `{fix}` "
        "gives a package its own image and run"
    )


def _changed(sel: Selection, since: str, key: str) -> Selection:
    """The selection narrowed to the dirs `--changed-since` affects, said on stdout."""
    sel = selection.narrow(sel, since, key)
    n_dirs = len(sel.dirs) + len(sel.unaffected)
    events.data(f"--changed-since {since}: {len(sel.dirs)} of {report.dirs(n_dirs)} affected")
    return sel


def _sharded(
    sel: Selection, shard: shards.Shard, durations: Optional[Mapping[str, float]]
) -> tuple[Selection, dict[str, object]]:
    """The selection narrowed to the shard's dirs, said on stdout; the shard for the report."""
    n_dirs = len(sel.dirs)
    sel = shards.narrow(sel, shard, durations)
    events.data(f"--shard {shard.label}: {len(sel.dirs)} of {report.dirs(n_dirs)}")
    return sel, {"shard": shard.as_json(sel.dirs)}


def _run_selected(
    sel: Selection,
    args: Options,
    lists: list[str],
    run_id: str,
    shard_info: Optional[dict[str, object]],
) -> Outcome:
    """The selected dirs prepared, run (or served from the cache), recorded and reported."""
    survey = cache_run.survey_or_none(sel.root, lookup=not args.no_cache)
    prepared = _prepare(sel, args, lists, run_id, survey)
    runs, skipped = prepared.runs, prepared.skipped
    shared = _said_once(prepared)
    cannot = f" ({len(skipped)} more cannot run: see the table)" if skipped else ""
    served = f" (+ {len(prepared.cached)} cached)" if prepared.cached else ""
    events.data(
        f"run {run_id}: {report.dirs(len(runs))}{served}{cannot}, -j {args.jobs}, "
        f"lists {','.join(lists)}"
    )
    ran = _drive(runs, run_id, args)
    if ran is None:
        return Outcome(code=EXIT_INTERRUPTED)
    started = _ran(ran, skipped)
    if survey is not None:
        cache_results.record_all(
            survey, prepared.probes, runs, started, run_id, args.verbose, args.jobs
        )
    results, runs = _with_cached(sel.dirs, started, runs, prepared.cached)
    code = _exit_code(results, skipped, args.allow_no_tests)
    if prepared.broken:
        code = EXIT_FAILED
        skipped += prepared.broken
    not_run = [*skipped, *sel.unaffected]
    out_dir = _write_reports(sel.root, run_id, code, results, not_run, runs, args, shard_info)
    record.record_if_ran(sel.root, run_id, runs, lists)
    reruns.note_quarantine(sel.root, runs)
    rows = [(d, SAID_ABOVE if w in shared else w) for d, w in not_run]
    return Outcome.of(_summary(results, rows, code, out_dir, args.allow_no_tests), code)


def _summary(
    results: Sequence[parallel.DirResult],
    not_run: Sequence[tuple[str, str]],
    code: int,
    out_dir: Path,
    allow_none: bool = False,
) -> list[str]:
    """The table, the totals and where the reports are; a run of no tests said to fail
    (only when that is why it failed: every dir ran, passed and had no test)."""
    total = report.totals(results)
    lines = [
        report.table(results, not_run),
        f"\n{total.describe()} in {report.dirs(len(results))}; reports: {out_dir}",
    ]
    no_tests = bool(results) and not not_run and total.total == 0 and all(r.ok for r in results)
    if code == EXIT_FAILED and no_tests and not allow_none:
        lines.append("no tests ran: that is a failure (pass --allow-no-tests if expected)")
    return lines


def _drive(
    runs: Sequence[testplan.DirRun], run_id: str, args: Options
) -> Optional[list[parallel.DirResult]]:
    """Run the dirs, showing each as it starts and ends (one dir, or -v: its output live);
    None when interrupted."""
    stream = len(runs) == 1 or args.verbose  # else each dir's output waits for its end
    drv = parallel.Driver(run_id, args.jobs, live.View(events.emit, stream), live=stream)
    try:
        return drv.run(runs, fail_fast=args.fail_fast)
    except KeyboardInterrupt:
        _stop_warm(runs)
        events.progress(f"interrupted: removed the containers of run {run_id}")
        return None


def _with_cached(
    dirs: Sequence[str],
    results: Sequence[parallel.DirResult],
    runs: Sequence[testplan.DirRun],
    cached: Sequence[tuple[testplan.DirRun, parallel.DirResult]],
) -> tuple[list[parallel.DirResult], list[testplan.DirRun]]:
    """The dirs that ran and those the cache served, in the selection's order."""
    order = {d: i for i, d in enumerate(dirs)}
    all_results = sorted([*results, *(r for _, r in cached)], key=lambda r: order[r.rel_dir])
    all_runs = sorted([*runs, *(run for run, _ in cached)], key=lambda r: order[r.rel_dir])
    return all_results, all_runs


def prefetch_for_dirs(
    root: Path, dirs: Sequence[str], stage: str, warm: bool
) -> prefetch.Prefetched:
    """The look-ups a run over `dirs` will make: local images, their base, warm containers."""
    from helpers.ops.run import warm as warm_mod

    runner = prefetch.Prefetched()
    if stage == "local":
        refs: set[str] = set()
        user = images.user_name()
        for rel in dirs:
            try:
                target = project.Target.load(root, rel)
                refs.update((choice.chosen_ref(target, stage, None, user), target.cfg.base_image))
            except UserError:
                continue  # the dir's own preparation says what is wrong with it
        runner.load_images(refs)
    if warm:
        runner.load_containers(warm_mod.STATE_FORMAT)
    return runner
