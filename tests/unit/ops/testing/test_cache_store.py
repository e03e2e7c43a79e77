"""Where cached results live, what is recorded and what never is, how a hit is served."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers import events
from helpers.effects import engine, registry_api
from helpers.errors import UserError
from helpers.model import config, junit, project
from helpers.ops.images import image_cache
from helpers.ops.testing import cache_results, cache_run, cache_store, parallel, testplan
from tests.conftest import git, make_runnable, write

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="svc" tests="2" errors="0" failures="0" skipped="1" time="0.5">
<testcase classname="tests.test_a" name="test_one" time="0.1"/>
<testcase classname="tests.test_a" name="test_two" time="0.1"><skipped message="no"/></testcase>
</testsuite></testsuites>
"""


def entry(key: str = "k" * 64) -> cache_store.Entry:
    counts = junit.Counts(passed=1, skipped=1)
    return cache_store.Entry(
        key, "svc", "img:1", "run-1", "2026-12-01T00:00:00Z", counts, 0.5, JUNIT
    )


def test_an_entry_reads_back_only_as_its_own_key() -> None:
    text = entry().to_json()
    assert cache_store.Entry.parse(text, "k" * 64) == entry()
    assert cache_store.Entry.parse(text, "x" * 64) is None
    assert cache_store.Entry.parse("{not json", "k" * 64) is None


def test_local_entries_are_immutable_and_pruned_when_unused(tmp_path: Path) -> None:
    store = cache_store.LocalStore(tmp_path)
    store.put(entry())
    store.put(cache_store.Entry(**{**entry().__dict__, "run_id": "run-2"}))
    found = store.get("k" * 64)
    assert found is not None and found.run_id == "run-1"  # the first writer's entry stays
    store.put(entry("o" * 64))
    old = time.time() - 40 * 86400
    for path in (tmp_path / "test-results/entries").rglob("*.json"):
        if path.name.startswith("o"):
            os.utime(path, (old, old))
    assert store.prune(30)[0] == 1
    assert store.get("o" * 64) is None and store.get("k" * 64) is not None


def test_a_hit_touches_its_entry_so_prune_keeps_it(tmp_path: Path) -> None:
    store = cache_store.LocalStore(tmp_path)
    store.put(entry())
    path = next((tmp_path / "test-results/entries").rglob("*.json"))
    old = time.time() - 40 * 86400
    os.utime(path, (old, old))
    assert store.get("k" * 64) is not None
    assert store.prune(30) == (0, 0)


def test_the_machine_secret_is_private_and_stable(tmp_path: Path) -> None:
    store = cache_store.LocalStore(tmp_path)
    first = store.secret()
    assert store.secret() == first and len(first) == 32
    assert (store.root / "secret").stat().st_mode & 0o777 == 0o600


def test_a_registry_that_is_down_is_one_warning_for_both_caches(tmp_path: Path) -> None:
    registry_api._down.clear()
    with events.collected() as seen:
        shared = cache_store.SharedStore()
        assert shared.get("127.0.0.1:1/svc", "k" * 64) is None
        assert shared.put("127.0.0.1:1/svc", entry()) is False
        assert shared.get("127.0.0.1:1/other", "k" * 64) is None
        assert image_cache.is_down("127.0.0.1:1/svc:cache-abc")  # the image cache skips it too
    registry_api._down.clear()
    warnings = [e.text for e in seen if e.kind == events.Kind.WARNING]
    assert len(warnings) == 1
    assert "127.0.0.1:1" in warnings[0] and "using local images and results only" in warnings[0]


def test_a_served_junit_keeps_the_testcases_and_marks_them_cached() -> None:
    marked = cache_results.mark_cached(JUNIT, "run-1")
    assert junit.counts(marked) == junit.counts(JUNIT)
    assert marked.count('name="cached" value="true"') == 3  # the suite and both testcases
    assert 'name="cached_from_run" value="run-1"' in marked


def _result(**kw: object) -> parallel.DirResult:
    base: dict[str, object] = dict(
        rel_dir="svc", image="i", exit_code=0, counts=junit.Counts(passed=2), seconds=1.0, output=""
    )
    base.update(kw)
    return parallel.DirResult(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "recorded"),
    [
        ({}, True),
        ({"exit_code": 1, "counts": junit.Counts(passed=1, failed=1)}, False),
        ({"counts": junit.Counts(passed=1, errors=1)}, False),
        ({"exit_code": 130, "counts": None}, False),  # interrupted
        ({"exit_code": 5, "counts": junit.Counts()}, False),  # narrowed to nothing
        ({"counts": junit.Counts(skipped=3)}, True),  # ran, all skipped by their own marks
        ({"flaky": ("tests/test_a.py::test_one",)}, False),
        ({"quarantined": ("tests/test_a.py::test_two",)}, False),
        ({"cached": True}, False),
    ],
)
def test_only_clean_passing_runs_are_recorded(changes: dict[str, object], recorded: bool) -> None:
    assert cache_results.recordable(_result(**changes)) is recorded


# ---------------------------------------------------------------- recording a real dir


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HELPERS_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    make_runnable(root, "svc")
    write(root / "svc/tests/test_a.py", "def test_one():\n    pass\n")
    write(root / ".env", "API_TOKEN=hunter2-very-secret\n")
    write(root / ".gitignore", ".env\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


IMAGE = engine.ImageInfo("svc:local", "sha256:" + "1" * 64, {}, "amd64")


def _probe(root: Path) -> tuple[cache_run.Survey, cache_run.Probe]:
    s = cache_run.survey(root)
    target = project.Target(root, "svc", config.load(root, "svc", env={}))
    return s, cache_run.probe(s, target, IMAGE, ["fast"], "", explain=True)


def _ran(root: Path, run_id: str) -> testplan.DirRun:
    report = testplan.ensure_reports_root(root) / run_id / "svc"  # .helpers/ ignores itself
    write(report / "junit.xml", JUNIT)
    return testplan.DirRun("svc", IMAGE.ref, (), report)


def test_a_recorded_pass_is_served_next_time_and_holds_no_secret(repo: Path) -> None:
    s, first = _probe(repo)
    assert first.entry is None and first.why == "never run here"
    run = _ran(repo, "run-1")
    cache_results.record_all(s, {"svc": first}, [run], [_result(seconds=0.4)], "run-1")
    s2, second = _probe(repo)
    assert second.entry is not None and second.entry.run_id == "run-1"
    served, result = cache_results.serve(second, IMAGE.ref, "run-2")
    assert result.cached and result.counts == junit.Counts(passed=1, skipped=1)
    assert "cached" in served.junit.read_text()
    home = Path(os.environ["HELPERS_CACHE_HOME"])
    for path in home.rglob("*"):
        if path.is_file():
            assert b"hunter2" not in path.read_bytes(), path


def test_an_input_changed_while_the_tests_ran_is_not_recorded(repo: Path) -> None:
    s, first = _probe(repo)
    run = _ran(repo, "run-1")
    write(repo / "svc/tests/test_a.py", "def test_one():\n    assert False\n")  # mid-run edit
    with events.collected() as seen:
        cache_results.record_all(s, {"svc": first}, [run], [_result()], "run-1")
    assert any("not recorded: svc/tests/test_a.py changed while it ran" in e.text for e in seen)
    write(repo / "svc/tests/test_a.py", "def test_one():\n    pass\n")
    assert _probe(repo)[1].entry is None  # nothing was recorded under the old key


def test_a_file_a_test_wrote_is_seen_after_the_run(repo: Path) -> None:
    s, first = _probe(repo)
    run = _ran(repo, "run-1")
    write(repo / "svc/output.txt", "written by a test\n")
    with events.collected() as seen:
        cache_results.record_all(s, {"svc": first}, [run], [_result()], "run-1")
    assert any("svc/output.txt added while it ran" in e.text for e in seen)


def test_no_cache_runs_but_still_records(repo: Path) -> None:
    s = cache_run.survey(repo, lookup=False)
    target = project.Target(repo, "svc", config.load(repo, "svc", env={}))
    p = cache_run.probe(s, target, IMAGE, ["fast"], "")
    assert p.entry is None and p.why == "--no-cache" and p.key is not None
    cache_results.record_all(s, {"svc": p}, [_ran(repo, "run-1")], [_result()], "run-1")
    assert _probe(repo)[1].entry is not None


def test_test_cache_off_neither_looks_nor_records(repo: Path) -> None:
    write(repo / "repo_config.yaml", "test_cache: off\n")
    s = cache_run.survey(repo)
    target = project.Target(repo, "svc", config.load(repo, "svc", env={}))
    p = cache_run.probe(s, target, IMAGE, ["fast"], "")
    assert p.key is None and p.why == "test_cache: off"
    cache_results.record_all(s, {"svc": p}, [_ran(repo, "run-1")], [_result()], "run-1")
    home = Path(os.environ["HELPERS_CACHE_HOME"])
    assert not list(home.rglob("entries/*/*.json"))


def test_cache_prune_says_what_it_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPERS_CACHE_HOME", str(tmp_path))
    cache_store.LocalStore(tmp_path).put(entry())
    old = time.time() - 2 * 86400
    for path in tmp_path.rglob("*.json"):
        os.utime(path, (old, old))
    assert cache_results.prune(1).startswith("removed 1 cache files")
    with pytest.raises(UserError, match=r"--days -1: give a number of days >= 0"):
        cache_results.prune(-1)


def test_a_miss_is_said_an_asked_for_off_is_not(repo: Path) -> None:
    s = cache_run.survey(repo)
    target = project.Target(repo, "svc", config.load(repo, "svc", env={}))
    with events.collected() as seen:
        cache_results.Looking(s, ["fast"], "", verbose=True).probe(target, IMAGE)
    assert [e.text for e in seen] == ["miss   svc  never run here"]
    write(repo / "repo_config.yaml", "test_cache: off\n")
    target = project.Target(repo, "svc", config.load(repo, "svc", env={}))
    with events.collected() as seen:
        cache_results.Looking(s, ["fast"], "", verbose=True, uncacheable=True).probe(target, IMAGE)
    assert seen == []
