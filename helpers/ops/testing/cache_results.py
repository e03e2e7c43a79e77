"""Cached results in a run: a hit served as the dir's result, a passing run recorded.

`serve` turns a hit into the dir's result and its JUnit (the original testcases, each
suite and testcase with a `cached` property); `record` writes the entry of a run that
passed, ran tests and was neither flaky nor quarantined, after checking on the files
listed again that no input changed while it ran; `Looking` is what main_pytest and
run_tests ask per dir. See `cache_run` for the key and the look-up.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

from helpers import events
from helpers.effects import commands, engine, fsutil, prefetch
from helpers.errors import UserError
from helpers.model import images, junit, project
from helpers.ops.images import build, choice, image_cache
from helpers.ops.testing import cache_key, cache_store, parallel, reruns, testplan
from helpers.ops.testing.cache_run import (
    Probe,
    Survey,
    key_of,
    last_name,
    probe,
    relisted,
    shared_for,
    survey_or_none,
)
from helpers.outcome import Outcome

CACHED_PROPERTY = "cached"


def mark_cached(text: str, run_id: str) -> str:
    """The recorded JUnit XML, every suite and testcase marked `cached` (from run_id)."""
    root = ET.fromstring(text)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for element in [*suites, *(case for suite in suites for case in suite.iter("testcase"))]:
        props = element.find("properties")
        if props is None:
            props = ET.Element("properties")
            element.insert(0, props)
        ET.SubElement(props, "property", name=CACHED_PROPERTY, value="true")
        if element.tag == "testsuite":
            ET.SubElement(props, "property", name="cached_from_run", value=run_id)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def serve(p: Probe, ref: str, run_id: str) -> tuple[testplan.DirRun, parallel.DirResult]:
    """A hit as the dir's run: its report dir holds the recorded JUnit, marked cached."""
    assert p.entry is not None
    entry = p.entry
    report_dir = testplan.reports_root(p.target.root) / run_id / testplan.slug(p.target.rel_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    run = testplan.DirRun(p.target.rel_dir, ref, (), report_dir)
    fsutil.write_atomic(run.junit, mark_cached(entry.junit, entry.run_id))
    note = f"cached: passed in run {entry.run_id} ({entry.created})"
    result = parallel.DirResult(
        p.target.rel_dir, ref, 0, entry.counts, p.seconds, "", note, cached=True
    )
    return run, result


# ---------------------------------------------------------------- recording


def recordable(result: parallel.DirResult) -> bool:
    """A run that passed and ran tests: not failed, errored, interrupted, empty, flaky."""
    c = result.counts
    ran = c is not None and c.total > 0 and c.failed == 0 and c.errors == 0
    clean = not result.flaky and not result.quarantined and not result.cached
    return result.exit_code == 0 and ran and clean


def record(
    s: Survey, p: Probe, run: testplan.DirRun, result: parallel.DirResult, run_id: str
) -> str:
    """Write the entry of a passing run (the survey read after it: the key must be the
    same, or an input changed while it ran); what happened, for -v."""
    if p.key is None or not recordable(result):
        return ""
    again = key_of(s, p.target, p.image, p.lists, p.pytest_opts)
    if isinstance(again, str) or again.key != p.key.key:
        why = again if isinstance(again, str) else cache_key.explain(p.key.explained(), again)
        return f"not recorded: {why} while it ran"
    try:
        text = run.junit.read_text(encoding="utf-8")
        counts = junit.counts(text)  # what a hit serves: the report's own counts
    except (OSError, ET.ParseError):
        return ""
    entry = cache_store.Entry(
        p.key.key,
        p.target.rel_dir,
        run.image,
        run_id,
        cache_store.now_text(),
        counts,
        result.seconds,
        text,
    )
    s.store.put(entry)
    s.store.set_last_inputs(last_name(p.target), p.key.key, p.key.explained())
    repo = shared_for(p.target)
    shared = repo is not None and s.shared.put(repo, entry)
    return f"recorded {p.key.key[:12]}" + (" (shared)" if shared else "")


def prune(days: float) -> str:
    """`cache_prune --days N`: local entries no run used for N days."""
    if days < 0:
        raise UserError(f"--days {days}: give a number of days >= 0")
    store = cache_store.LocalStore(cache_store.cache_home())
    removed, size = store.prune(days)
    return (
        f"removed {removed} cache files ({size / 1e6:.1f} MB) unused for {days:g} days "
        f"from {store.root}"
    )


# ---------------------------------------------------------------- in main_pytest and run_tests


@dataclass(frozen=True)
class Looking:
    """A run's look-ups: its survey and what every dir's key shares (lists, options)."""

    survey: Optional[Survey]
    lists: Sequence[str]
    pytest_opts: str
    verbose: bool = False  # say why each dir missed
    uncacheable: bool = False  # and why a dir cannot be cached (sibling_docker, mounts)

    def probe(self, target: project.Target, image: engine.ImageInfo) -> Probe:
        if self.survey is None:
            return Probe(target, image, None, why="no survey")
        found = probe(self.survey, target, image, self.lists, self.pytest_opts, self.verbose)
        if self.verbose and found.entry is None and self.survey.lookup and self._says(found):
            events.progress(f"miss   {target.rel_dir}  {found.why}")
        return found

    def _says(self, found: Probe) -> bool:
        """A miss of a key is always worth a line; a dir that cannot be cached only when
        asked (-v), and `test_cache: off` never (it was asked for)."""
        if found.key is not None:
            return bool(found.why)
        return self.uncacheable and found.why.startswith("not cached")

    def before_image(
        self,
        target: project.Target,
        stage: str,
        policy: choice.Policy,
        runner: commands.Runner,
    ) -> Optional[Probe]:
        """A fresh runner (no local image, --if-missing build, image_cache: shared): the
        image the registry holds for the dir's inputs, looked up without pulling it, and
        the dir's result for it. None: no such image, or nothing to look up."""
        if self.survey is None or not self.survey.lookup or stage != "local":
            return None
        if target.cfg.test_cache == "off" or not image_cache.shared(target.cfg):
            return None
        if policy.if_missing != "build":
            return None
        ref = choice.chosen_ref(target, stage, None, images.user_name())
        if not isinstance(runner, prefetch.Prefetched) or not runner.known_absent(ref):
            return None
        plan = build.prepare(target, runner=runner)
        remote = image_cache.find(target, plan.inputs_hash, plan.platform, runner)
        if remote is None:
            return None
        found = self.probe(target, remote.image)
        return found if found.entry is not None else None


def record_all(
    s: Survey,
    probes: dict[str, Probe],
    runs: Sequence[testplan.DirRun],
    results: Sequence[parallel.DirResult],
    run_id: str,
    verbose: bool = False,
    jobs: int = 4,
) -> None:
    """Record every passing dir of a run (files listed again first: tests may write some)."""
    by_dir = {r.rel_dir: r for r in runs}
    todo = [
        (probes[r.rel_dir], by_dir[r.rel_dir], r)
        for r in results
        if r.rel_dir in probes and r.rel_dir in by_dir and recordable(r)
    ]
    if not todo:
        return
    after = relisted(s)

    def one(item: tuple[Probe, testplan.DirRun, parallel.DirResult]) -> tuple[str, str]:
        p, run, result = item
        return p.target.rel_dir, record(after, p, run, result, run_id)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        notes = list(pool.map(one, todo))
    after.digests.save()
    for rel, note in notes:
        if note and (verbose or note.startswith("not recorded")):
            events.progress(f"cache  {rel}  {note}")


@dataclass(frozen=True)
class Cached:
    """run_tests' look-up of its one dir, and the record of its run after it passed."""

    survey: Optional[Survey] = None
    probe: Optional[Probe] = None
    ref: str = ""

    @classmethod
    def look(
        cls,
        target: project.Target,
        chosen: Optional[choice.Chosen],
        lists: Sequence[str],
        pytest_opts: str,
        no_cache: bool,
    ) -> Cached:
        """`chosen` None (`--no-docker`: the host's python is not in the key): never cached."""
        if chosen is None:
            return cls()
        s = survey_or_none(target.root, lookup=not no_cache)
        found = Looking(s, lists, pytest_opts, verbose=True).probe(target, chosen.image)
        return cls(s, found, chosen.ref)

    @property
    def hit(self) -> bool:
        return self.probe is not None and self.probe.entry is not None

    def serve(self, run_id: str) -> tuple[testplan.DirRun, Outcome]:
        assert self.probe is not None and self.probe.entry is not None
        run, result = serve(self.probe, self.ref, run_id)
        entry = self.probe.entry
        line = (
            f"{run.rel_dir}: cached: {entry.counts.describe()} ({self.ref}; passed in run "
            f"{entry.run_id}, nothing ran); junit: {run.junit}"
        )
        return run, Outcome(line)

    def record(self, run: testplan.DirRun, code: int, seconds: float, run_id: str) -> None:
        if self.survey is None or self.probe is None or self.probe.key is None:
            return
        counts = junit.read_counts(run.junit)
        flaky, quarantined = reruns.read(run.report_dir)  # a flaky run is never recorded
        result = parallel.DirResult(
            run.rel_dir, run.image, code, counts, seconds, "", flaky=flaky, quarantined=quarantined
        )
        record_all(self.survey, {run.rel_dir: self.probe}, [run], [result], run_id, jobs=1)
