"""Build planning, report rendering and the driver's scheduling, without the engine."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from helpers.effects import engine, signals
from helpers.effects.commands import Argv, Result
from helpers.model import config, images, junit, project, units
from helpers.ops.images import build, source
from helpers.ops.run import containers, inventory
from helpers.ops.testing import parallel, report, testplan
from tests.conftest import git as run_git
from tests.conftest import make_runnable, write
from tests.fakes import Answer, FakeRunner, result

# ---------------------------------------------------------------- build planning


def _target(root: Path, **cfg: object) -> project.Target:
    if not (root / ".git").exists():
        run_git(root, "init", "-q")  # the build context is read from git's file list
    base = config.load(root, ".", env={})
    return project.Target(root, ".", config.Config(**{**base.__dict__, **cfg}))


def _engine(images_by_ref: dict[str, dict[str, str]]) -> FakeRunner:
    """`docker image inspect`: the given refs exist with these labels."""

    def inspect(argv: Argv) -> Result:
        refs = argv[5:]
        lines = [
            json.dumps({"Id": f"sha256:{i}", "RepoTags": [r], "Config": {"Labels": labels}})
            for i, (r, labels) in enumerate(images_by_ref.items())
            if r in refs
        ]
        return result(0 if len(lines) == len(refs) else 1, "\n".join(lines))

    answers: dict[str, Answer] = {"image inspect": inspect, "version": result(0, "20.10.24\n")}
    return FakeRunner(answers, passthrough=["git"])


def test_plan_without_an_image_builds_with_labels_and_force_rm(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".", version="1.2.0")
    write(tmp_path / "app.py", "print(1)\n")
    target = _target(tmp_path, image_name="acme", build_args={"PIP": "1", "BASE_IMAGE": "b:1"})
    fake = _engine({"b:1": {}})  # the base image is here, ours is not
    p = build.prepare(target, user="ann", build_args=["PIP=2"], runner=fake)
    assert (p.ref, p.version, p.up_to_date, p.reason) == (
        "acme:local-ann-1.2.0",
        "1.2.0",
        False,
        "no image yet",
    )
    assert fake.argvs == [
        ("docker", "image", "inspect", "--format", "{{json .}}", "acme:local-ann-1.2.0", "b:1")
    ]
    assert p.argv[:4] == ("docker", "build", "--force-rm", "--file")
    assert p.argv[-1] == "-"
    argv = " ".join(p.argv)
    assert "--build-arg BASE_IMAGE=b:1 --build-arg PIP=2" in argv  # the flag wins, sorted
    assert f"--label {images.LABEL_INPUTS}={p.inputs_hash}" in argv
    assert f"--label {images.LABEL_VERSION}=1.2.0" in argv
    assert "app.py" in p.context.files and "--no-cache" not in p.argv


def test_plan_reuses_an_image_whose_inputs_are_unchanged(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    target = _target(tmp_path, image_name="acme")
    first = build.prepare(target, user="ann", runner=_engine({}))
    same = _engine({first.ref: dict(first.labels)})  # as the build labelled it
    again = build.prepare(target, user="ann", runner=same)
    assert (again.up_to_date, again.reason, again.inputs_hash) == (
        True,
        "inputs unchanged",
        first.inputs_hash,
    )
    forced = build.prepare(target, user="ann", no_cache=True, runner=same)
    assert (forced.up_to_date, forced.reason) == (False, "--no-cache")
    assert forced.argv[-2:] == ("--no-cache", "-")
    write(tmp_path / "new.py", "x = 1\n")
    changed = build.prepare(target, user="ann", runner=same)
    assert (changed.up_to_date, changed.reason) == (False, "inputs changed")
    assert changed.inputs_hash != first.inputs_hash
    other_platform = build.prepare(target, user="ann", platform="linux/arm64", runner=same)
    assert other_platform.inputs_hash != first.inputs_hash
    assert "--platform linux/arm64" in " ".join(other_platform.argv)


def test_with_revision_adds_the_label_to_the_argv(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    p = build.prepare(_target(tmp_path, image_name="acme"), user="ann", runner=_engine({}))
    labelled = build.with_revision(p, "abc123")
    assert f"--label {images.LABEL_REVISION}=abc123" in " ".join(labelled.argv)
    assert labelled.inputs_hash == p.inputs_hash
    assert build.describe(labelled)[0] == "image    acme:local-ann-0.1.0 (no image yet)"


# ---------------------------------------------------------------- report rendering


def _result(rel: str, code: int, counts: junit.Counts | None, note: str = "") -> parallel.DirResult:
    return parallel.DirResult(rel, f"img-{rel}", code, counts, 1.25, f"output of {rel}\n", note)


RESULTS = [
    _result(".", 0, junit.Counts(passed=3)),
    _result("infra", 1, junit.Counts(passed=1, failed=2, skipped=1)),
    _result("web", 137, None, "no junit report (see output)"),
]


def test_progress_and_blocks() -> None:
    run = testplan.DirRun("infra", "img-infra", ("true",), Path("/r"))
    assert report.progress_line(parallel.Started(run)) == "start  infra  (img-infra)"
    assert (
        report.progress_line(parallel.Finished(RESULTS[0]))
        == "ok     .  3 passed, 0 failed in 1.2 s"
    )
    assert report.end_line(RESULTS[1]) == "FAIL   infra  1 passed, 2 failed, 1 skipped in 1.2 s"
    assert report.end_line(RESULTS[2]) == "FAIL   web  no junit report (see output) in 1.2 s"
    assert report.block(RESULTS[1]).splitlines() == [
        "---- infra (img-infra) exit 1 " + "-" * 42,
        "output of infra",
    ]


def test_table_totals_and_json() -> None:
    text = report.table(RESULTS, [("svc", "image missing")])
    assert text.splitlines() == [
        "dir    image      passed  failed  skipped  errors  flaky  seconds",
        "-----  ---------  ------  ------  -------  ------  -----  -------",
        ".      img-.      3       0       0        0       0      1.2",
        "infra  img-infra  1       2       1        0       0      1.2",
        "web    img-web    0       0       0        1       0      1.2",
        "svc: not run (image missing)",
    ]
    assert report.totals(RESULTS) == junit.Counts(passed=4, failed=2, skipped=1, errors=1)
    data = json.loads(report.to_json("run-1", 1, RESULTS, [("svc", "image missing")]))
    assert data["run_id"] == "run-1" and data["exit_code"] == 1
    assert [(d["dir"], d["ok"], d["errors"]) for d in data["dirs"]] == [
        (".", True, 0),
        ("infra", False, 0),
        ("web", False, 1),
    ]
    assert data["not_run"] == [{"dir": "svc", "why": "image missing"}]


# ---------------------------------------------------------------- driver scheduling

JUNIT_OK = '<testsuite><testcase name="a"/></testsuite>'
JUNIT_FAIL = '<testsuite><testcase name="a"><failure/></testcase></testsuite>'


def _run(tmp_path: Path, rel: str, seconds: float, ok: bool = True) -> testplan.DirRun:
    """A dir's run as a real process (no engine): sleeps, notes when it ran, writes junit."""
    reports = tmp_path / "reports" / rel
    reports.mkdir(parents=True)
    code = (
        "import sys, time\n"
        "start = time.time(); time.sleep(float(sys.argv[1]))\n"
        "open(sys.argv[2] + '/span', 'w').write(f'{start} {time.time()}')\n"
        "open(sys.argv[2] + '/junit.xml', 'w').write(sys.argv[3])\n"
        "print('ran', sys.argv[2]); sys.exit(int(sys.argv[4]))\n"
    )
    junit_text = JUNIT_OK if ok else JUNIT_FAIL
    argv = (sys.executable, "-c", code, str(seconds), str(reports), junit_text, "0" if ok else "1")
    return testplan.DirRun(rel, "host", argv, reports)


def _span(run: testplan.DirRun) -> tuple[float, float]:
    start, end = (run.report_dir / "span").read_text().split()
    return float(start), float(end)


def test_runs_at_most_jobs_at_once_and_returns_results_in_order(tmp_path: Path) -> None:
    runs = [_run(tmp_path, f"d{i}", 0.4) for i in range(4)]
    events: list[parallel.Event] = []
    results = parallel.Driver("r1", 2, events.append).run(runs)
    assert [r.rel_dir for r in results] == ["d0", "d1", "d2", "d3"]
    assert all(r.ok and r.counts == junit.Counts(passed=1) for r in results)
    assert all(r.output.startswith("ran ") for r in results)
    spans = [_span(r) for r in runs]
    most = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert most == 2  # never more than -j 2 at once, and 2 did overlap
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("Started") == kinds.count("Finished") == 4


def test_fail_fast_starts_nothing_after_a_failure(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "bad", 0.0, ok=False), *(_run(tmp_path, f"d{i}", 0.3) for i in range(3))]
    results = parallel.Driver("r2", 1, lambda e: None).run(runs, fail_fast=True)
    assert not results[0].ok
    assert [r.note for r in results[1:]] == [parallel.NOT_STARTED] * 3
    assert not any((r.report_dir / "span").exists() for r in runs[1:])


def test_without_fail_fast_a_failure_does_not_stop_the_others(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "bad", 0.0, ok=False), _run(tmp_path, "good", 0.0)]
    results = parallel.Driver("r3", 1, lambda e: None).run(runs)
    assert [(r.rel_dir, r.ok) for r in results] == [("bad", False), ("good", True)]


def test_an_interrupt_stops_every_process_and_removes_the_containers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    removed: list[str] = []

    def remove(run_id: str) -> int:
        removed.append(run_id)
        return 0

    monkeypatch.setattr(inventory, "remove_run_containers", remove)
    runs = [_run(tmp_path, f"d{i}", 30) for i in range(2)]
    drv = parallel.Driver("r4", 2, lambda e: None)

    def interrupt_soon(event: parallel.Event) -> None:
        if isinstance(event, parallel.Started) and event.run.rel_dir == "d1":
            raise KeyboardInterrupt  # as the edge turns a signal into one

    drv.on_event = interrupt_soon
    started = time.monotonic()
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), signals.stop_signals_interrupt():  # as in main_pytest
        drv.run(runs)
    assert signal.getsignal(signal.SIGINT) is before  # the clean-up's SIG_IGN undone after
    assert time.monotonic() - started < 20
    assert removed == ["r4", "r4"]  # before and after ending the CLI processes
    assert all(proc.poll() is not None for proc in drv._procs)


# ---------------------------------------------------------------- atomic writes


def test_write_atomic_keeps_the_mode_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    from helpers.effects import fsutil

    path = write(tmp_path / "report.json", "old")
    path.chmod(0o640)
    fsutil.write_atomic(path, "new")
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o640
    with pytest.raises(TypeError):
        fsutil.write_atomic(path, None)  # type: ignore[arg-type]
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temp file left


def test_write_atomic_gives_a_new_file_the_umasks_mode(tmp_path: Path) -> None:
    """Not mkstemp's 0600: a file COPYed into an image must stay readable to its user."""
    import os

    from helpers.effects import fsutil

    old = os.umask(0o027)
    try:
        fsutil.write_atomic(tmp_path / "new.txt", "x")
        os.umask(0o002)
        fsutil.write_atomic(tmp_path / "open.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "open.txt").stat().st_mode & 0o777 == 0o664


# ---------------------------------------------------------------- plans compute only


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if ".git" not in p.parts}


def test_build_plan_asks_nothing_and_writes_nothing(tmp_path: Path) -> None:
    """`prepare` looks the images up; `plan` only computes from what it is handed."""
    make_runnable(tmp_path, ".", version="1.2.0")
    target = _target(tmp_path, image_name="acme")
    req = build.BuildRequest(user="ann")
    src = source.read(target, units.load(tmp_path))  # the read step, before planning
    before = _tree(tmp_path)
    fresh = build.plan(target, req, {}, src)  # no runner at all: the engine cannot be asked
    assert (fresh.up_to_date, fresh.reason) == (False, "no image yet")
    image = engine.ImageInfo(fresh.ref, "sha256:1", dict(fresh.labels), "amd64")
    found = {fresh.ref: image}
    assert build.plan(target, req, found, src).up_to_date
    assert build.plan(target, req, found, src) == build.plan(target, req, found, src)
    assert _tree(tmp_path) == before  # no state dir, no digest cache written


def test_a_dir_run_plan_is_deterministic_and_prepare_makes_its_dirs(tmp_path: Path) -> None:
    make_runnable(tmp_path, "svc")
    base = config.load(tmp_path, "svc", env={})
    cfg = config.Config(**{**base.__dict__, "mounts": ("data/cache:/cache",)})
    target = project.Target(tmp_path, "svc", cfg)
    write(tmp_path / ".env", 'export TOKEN="s3cret"  # python-dotenv style\n')
    before = _tree(tmp_path)
    first = testplan.plan_baked(target, "acme:prod-1", ["fast"], "20261129-120000-abc123")
    again = testplan.plan_baked(target, "acme:prod-1", ["fast"], "20261129-120000-abc123")
    assert first == again  # the container name comes from the run id, not from randomness
    # pytest's cache plugin is kept (a client pytest.ini's --new-first), in a temp dir
    assert "no:cacheprovider" not in first.argv
    assert "cache_dir=/tmp/helpers-pytest-cache" in first.argv
    assert first.container.endswith("-test-abc123-" + first.container.rsplit("-", 1)[-1])
    flag = first.argv.index(containers.ENV_FILE_FLAG)
    assert first.argv[flag + 1] == containers.ENV_FILE_LATER  # no temp file written yet
    assert "s3cret" not in " ".join(first.argv)
    assert _tree(tmp_path) == before  # the report dir and the mount source are not made yet
    ready = testplan.prepare(first, tmp_path)
    assert first.report_dir.is_dir() and (tmp_path / "data" / "cache").is_dir()
    assert (tmp_path / ".helpers" / ".gitignore").is_file()
    env_path = Path(ready.argv[flag + 1])
    assert env_path.read_text() == "TOKEN=s3cret\n"
    assert env_path.stat().st_mode & 0o077 == 0  # private to the user
    assert (
        ready.argv[:flag] == first.argv[:flag] and ready.argv[flag + 2 :] == first.argv[flag + 2 :]
    )


def _talker(tmp_path: Path, rel: str, lines: int, gap: float) -> testplan.DirRun:
    """A run that prints `lines` lines `gap` seconds apart, then writes its junit."""
    reports = tmp_path / "reports" / rel
    reports.mkdir(parents=True)
    code = (
        "import sys, time\n"
        "for i in range(int(sys.argv[1])):\n"
        "    print(sys.argv[3], i, flush=True); time.sleep(float(sys.argv[2]))\n"
        "open(sys.argv[4] + '/junit.xml', 'w').write(sys.argv[5])\n"
        "sys.stdout.write('tail-no-newline')\n"
    )
    argv = (sys.executable, "-c", code, str(lines), str(gap), rel, str(reports), JUNIT_OK)
    return testplan.DirRun(rel, "host", argv, reports)


def test_a_live_driver_streams_lines_while_the_run_goes_on(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    ended: list[float] = []

    def on_event(event: parallel.Event) -> None:
        if isinstance(event, parallel.Output):
            seen.append((time.monotonic(), event.line))
        elif isinstance(event, parallel.Finished):
            ended.append(time.monotonic())

    results = parallel.Driver("r5", 1, on_event, live=True).run([_talker(tmp_path, "d", 3, 0.5)])
    assert [line for _, line in seen] == ["d 0", "d 1", "d 2", "tail-no-newline"]
    assert ended[0] - seen[0][0] > 0.8  # the first line came long before the end
    assert results[0].output == "d 0\nd 1\nd 2\ntail-no-newline"  # and the block is whole


def test_the_live_view_keeps_one_block_per_dir_when_several_run(tmp_path: Path) -> None:
    from helpers.ops.testing import live

    shown: list[str] = []
    view = live.View(lambda e: shown.append(e.text), live=True)
    runs = [_talker(tmp_path, "a", 3, 0.3), _talker(tmp_path, "b", 2, 0.05)]
    parallel.Driver("r6", 2, view, live=True).run(runs)
    lines = [line for text in shown for line in text.splitlines()]
    body = [line for line in lines if line.startswith(("a ", "b "))]
    assert body == ["a 0", "a 1", "a 2", "b 0", "b 1"]  # b waited for a: no interleaving
    assert lines[0].startswith("start  a") and lines[1].startswith("---- a (host) live")


def test_without_live_each_dir_is_one_block_at_its_end(tmp_path: Path) -> None:
    from helpers.ops.testing import live

    shown: list[str] = []
    parallel.Driver("r7", 1, live.View(lambda e: shown.append(e.text), live=False)).run(
        [_talker(tmp_path, "a", 2, 0.0)]
    )
    assert [s.splitlines()[0][:6] for s in shown] == ["start ", "ok    ", "---- a"]


def test_exit_4_from_a_conftest_import_error_says_what_pytest_said(tmp_path: Path) -> None:
    d = tmp_path / "svc"
    write(d / "conftest.py", "import helpers.hdbg as dbg  # the older tool's module\n")
    write(d / "test_x.py", "def test_x():\n    pass\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    argv = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(d))
    run = testplan.DirRun("svc", "host", argv, reports, cwd=str(d))
    result = parallel.Driver("r8", 1, lambda e: None).run([run])[0]
    assert result.exit_code == 4
    assert result.note.startswith("ImportError while loading conftest")
    assert "ModuleNotFoundError: No module named 'helpers.hdbg'" in result.note
    assert "pytest-opts" not in result.note


def test_an_error_every_dir_shares_is_one_stderr_line(tmp_path: Path) -> None:
    from helpers import events
    from helpers.errors import UserError
    from helpers.ops.testing import many

    why = ".env:2: cannot parse the line starting 'oops' (values are not shown); write NAME=value"
    every = many.Prepared([], [("a", why), ("b", why), ("c", why)], [])
    with pytest.raises(UserError) as err:
        many._said_once(every)
    assert str(err.value) == why
    some = many.Prepared([_run(tmp_path, "ok", 0.0)], [("a", why), ("b", why), ("c", "x")], [])
    with events.collected() as seen:
        assert many._said_once(some) == {why}
    assert [e.text for e in seen if e.kind == events.Kind.WARNING] == [f"{why} (a, b)"]


def test_a_dirs_services_start_before_it_and_go_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from helpers.ops.run import services
    from helpers.ops.testing import many

    seen: list[str] = []
    sset = services.ServiceSet("d0", "net", {}, ())
    monkeypatch.setattr(services, "start", lambda s, **kw: seen.append(f"start {s.rel_dir}"))
    monkeypatch.setattr(services, "stop", lambda s: seen.append(f"stop {s.rel_dir}"))
    ok = dataclasses.replace(_run(tmp_path, "d0", 0.0), services=sset)

    def unhealthy(s: services.ServiceSet, **kw: object) -> None:
        raise services.NotHealthyError("service db of d1 is not healthy (...)", ["db | FATAL"])

    results = parallel.Driver("r5", 1, lambda e: None).run([ok])
    assert seen == ["start d0", "stop d0"] and results[0].ok
    monkeypatch.setattr(services, "start", unhealthy)
    bad = dataclasses.replace(_run(tmp_path, "d1", 0.0), services=sset)
    (result,) = parallel.Driver("r6", 1, lambda e: None).run([bad])
    assert (result.exit_code, result.note, result.output) == (
        2,
        "service db of d1 is not healthy (...)",
        "db | FATAL",
    )
    assert not (bad.report_dir / "span").exists()  # its tests never started
    skipped: list[tuple[str, str]] = []
    assert many._ran([result], skipped) == []  # main_pytest: that dir is "not run" (exit 2)
    assert skipped == [("d1", "service db of d1 is not healthy (...)")]
