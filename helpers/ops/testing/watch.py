"""`run_tests --watch` / `main_pytest.py --watch`: rerun a dir's tests when a file they depend
on changes, until Ctrl-C.

Watched: the dir's own files, the files of the units it depends on (the graph `invoke deps`
shows), and its image inputs (Dockerfile, manifests, config). A change is debounced
(`watchfiles`: changes arriving within STEP_MS of each other are one batch), then:

- an image input changed: the image is rebuilt first when it is stale (as `--if-missing
  build` would), and a new warm container is started from it;
- the test files the change affects run first (an edited test file, or the test files
  that import an edited module), then the rest of the dir's tests;
- every run reuses the dir's warm container (`docker exec`, ~0.1 s), so a save reaches the
  first test in well under a second.

Ctrl-C (or SIGTERM/SIGHUP) stops it: exit 130, and the warm containers it used are removed.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shlex
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers import events, tables
from helpers.effects import signals
from helpers.errors import EXIT_INTERRUPTED, EXIT_OK, UserError
from helpers.model import config, graph, project, testlists, units, workspace
from helpers.ops.images import choice, depunits, install_inputs, source
from helpers.ops.run import warm
from helpers.ops.testing import record, single, testplan
from helpers.outcome import Outcome

STEP_MS = 30  # a batch ends when no change came for this long
DEBOUNCE_MS = 1600  # ... or after this long at most
READY_MS = 200  # an idle watcher says so this often (the first time: it is watching)
IGNORED_DIRS = {".git", ".helpers", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
TEST_FILE = re.compile(r"(test_[^/]*|[^/]*_test)\.py$")


@dataclass(frozen=True)
class Session:
    """One watched dir: where its runs happen and which files make its image stale."""

    target: project.Target
    where: single.Where
    image_inputs: frozenset[Path]
    roots: tuple[Path, ...]  # watched recursively
    fenced: tuple[Path, ...]  # under a root but another unit's: nested runnable dirs


def _image_inputs(target: project.Target) -> frozenset[Path]:
    """Host paths of the dir's install inputs (see `install_inputs`), its config files and
    extra CA certificates: a change to any of them can make the image stale."""
    src = source.read(target, units.load(target.root), every_file=False)
    ctx = src.context
    names = install_inputs.selected(ctx, src.dockerfile_text)
    paths = {ctx.root / n for n in names if n in ctx.files}
    paths |= {ctx.extra[n] for n in names if n in ctx.extra}
    paths |= {target.root / config.FILENAME, target.path / config.FILENAME}
    paths |= {target.root / p for p in target.cfg.extra_ca_certs}
    return frozenset(p.resolve() for p in paths)


def _roots(target: project.Target) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """The dir and every unit it depends on; the nested runnable dirs that are not."""
    ws = units.load(target.root)
    reach = graph.closure(ws.deps, [target.rel_dir]) if target.rel_dir in ws.units else set()
    mine = sorted({target.rel_dir, *reach})
    roots = [target.root if u == "." else target.root / u for u in mine]
    runnable = [target.root / u for u in ws.runnable() if u not in mine]
    fenced = [p for p in runnable if any(root in p.parents for root in roots)]
    # The repo-wide config and the env file also shape every run.
    extra = [target.root / config.FILENAME, target.root / target.cfg.env_file]
    kept = [*roots, *(p for p in extra if p.is_file() and not _under_any(p, roots))]
    return tuple(kept), tuple(fenced)


def _under_any(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _touches(session: Session, path: Path) -> bool:
    """A path of the session's dir or its dependencies (a nested runnable dir is not)."""
    return _under_any(path, session.roots) and not _under_any(path, session.fenced)


def _where(target: project.Target, req: single.RunRequest) -> single.Where:
    """The image (checked; built when asked) and the dir's warm container, always warm:
    the reruns exec into it."""
    if req.no_docker:
        return single.Where(None)

    policy = choice.Policy(req.if_missing, req.allow_stale, quiet_build=True)
    chosen = choice.choose(target, req.stage, req.version, policy).said()
    return single.Where(chosen.ref, warm.ensure(target, chosen.image))


def start(target: project.Target, req: single.RunRequest) -> Session:
    """A watched dir, ready to run: its image, warm container, inputs and roots."""
    where = _where(target, req)
    inputs = frozenset() if where.image is None else _image_inputs(target)
    roots, fenced = _roots(target)
    return Session(target, where, inputs, roots, fenced)


def test_files(target: project.Target, fenced: Sequence[Path] = ()) -> list[str]:
    """The dir's test files, relative to it (nested runnable dirs and submodules, helpers
    among them, are not its tests)."""
    found = []
    for here, dirs, files in os.walk(target.path):
        base = Path(here)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in IGNORED_DIRS
            and not d.startswith(".")
            and base / d not in fenced
            and not workspace.is_runnable(base / d)
            and not _is_submodule(base / d)
        )
        found += [
            (base / f).relative_to(target.path).as_posix() for f in files if TEST_FILE.match(f)
        ]
    return sorted(found)


def _module_names(path: Path) -> set[str]:
    return {path.parent.name if path.stem == "__init__" else path.stem} - {""}


def affected_first(
    target: project.Target, changed: Iterable[Path], tests: Sequence[str]
) -> list[str]:
    """The test files a change affects: edited ones, and those importing an edited module."""
    first: list[str] = []
    names: set[str] = set()
    for path in changed:
        try:
            rel = path.relative_to(target.path).as_posix()
        except ValueError:
            rel = ""
        if rel in tests:
            first.append(rel)
        elif path.suffix == ".py" and path.name != "conftest.py":
            names |= _module_names(path)
    if names:
        word = "|".join(re.escape(n) for n in sorted(names))
        imports = re.compile(rf"^\s*(from|import)\s[^\n]*\b({word})\b", re.MULTILINE)
        for rel in tests:
            if rel in first:
                continue
            try:
                text = (target.path / rel).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if imports.search(text):
                first.append(rel)
    return sorted(dict.fromkeys(first))


def _one_run(session: Session, req: single.RunRequest, opts: str) -> int:
    target = session.target
    run_id = testplan.new_run_id()
    plan = single.PlanRequest(
        tuple(testlists.parse_lists(req.test_list)), pytest_opts=opts, no_docker=req.no_docker
    )
    run = single.plan_run(target, run_id, plan, session.where)
    code = single.execute(run, run_id, target.root)
    record.record_if_ran(target.root, run_id, [run], plan.lists)  # pytest_failed reruns them
    if code == EXIT_INTERRUPTED:
        raise KeyboardInterrupt  # the run removed its container; the watch ends
    return single.show_verdict(single.verdict(run, code, allow_no_tests=True))


def rerun(session: Session, req: single.RunRequest, changed: Sequence[Path]) -> int:
    """The affected test files first, then the rest of the dir's tests."""
    tests = test_files(session.target, session.fenced)
    first = affected_first(session.target, changed, tests)
    user = req.pytest_opts
    if not first or set(first) == set(tests):
        return _one_run(session, req, user)
    events.data(f"watch: {session.target.rel_dir}: first {' '.join(first)}")
    worst = _one_run(session, req, f"{user} {shlex.join(first)}".strip())
    events.data(f"watch: {session.target.rel_dir}: then the rest")
    rest = " ".join(f"--deselect {shlex.quote(t)}" for t in first)
    return max(worst, _one_run(session, req, f"{user} {rest}".strip()))


def _shown(paths: Sequence[Path], root: Path) -> str:
    names = [workspace.relative(root, p) if root in p.parents else str(p) for p in paths]
    return tables.listed(names, 3)


def _refresh(session: Session, req: single.RunRequest, changed: Sequence[Path]) -> Session:
    """After an image input changed: rebuild when stale, start the new warm container."""
    if session.where.image is None:
        return session
    hit = [p for p in changed if p in session.image_inputs or _is_manifest(p)]
    if not hit:
        return session
    target = project.Target(session.target.root, session.target.rel_dir, _reload(session))
    events.data(f"watch: {target.rel_dir}: image input {_shown(hit, target.root)} changed")
    return start(target, dataclasses.replace(req, if_missing="build"))


def _reload(session: Session) -> config.Config:
    return config.load(session.target.root, session.target.rel_dir)


def _is_manifest(path: Path) -> bool:
    return depunits.is_manifest(path.name)


def _batches(sessions: Sequence[Session]) -> Generator[list[Path], None, None]:
    """Debounced batches of changed paths (absolute, resolved) under the watched roots."""
    import watchfiles  # lazily: only a watch pays for its import

    roots = sorted({r for s in sessions for r in s.roots})
    default = watchfiles.DefaultFilter(ignore_dirs=tuple(IGNORED_DIRS))

    def keep(change: watchfiles.Change, path: str) -> bool:
        p = Path(path)
        mine = any(_touches(s, p) for s in sessions)
        return mine and default(change, path) and not _in_submodule(p, roots)

    # A timeout yields an empty batch: the first says the watches are in place.
    for batch in watchfiles.watch(
        *roots,
        watch_filter=keep,
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        rust_timeout=READY_MS,
        yield_on_timeout=True,
        raise_interrupt=True,
    ):
        yield sorted({Path(p).resolve() for _, p in batch})


@functools.lru_cache(maxsize=4096)
def _is_submodule(path: Path) -> bool:
    return (path / ".git").exists()


def _in_submodule(path: Path, roots: Sequence[Path]) -> bool:
    """Under a submodule (helpers itself, most often) of a watched root: not the dir's files."""
    for parent in path.parents:
        if parent in roots:
            return False
        if _is_submodule(parent):
            return True
    return False


def _stop(sessions: Sequence[Session]) -> None:
    signals.ignore_stop_signals()
    for s in sessions:
        if s.where.warm:
            warm.remove(s.where.warm)


def _n_paths(sessions: Sequence[Session]) -> str:
    n = len({r for s in sessions for r in s.roots})
    return "1 path" if n == 1 else f"{n} paths"


def loop(sessions: list[Session], req: single.RunRequest) -> Outcome:
    """Rerun each session's tests on every batch of changes that touches it, until stopped."""
    ready = False
    try:
        for changed in _batches(sessions):
            if not changed:
                if not ready:  # said once the watches are in place: a save now is seen
                    events.progress(f"watching {_n_paths(sessions)} for changes; Ctrl-C stops")
                ready = True
                continue
            began = time.strftime("%H:%M:%S")
            for i, session in enumerate(sessions):
                mine = [p for p in changed if _touches(session, p)]
                if not mine:
                    continue
                events.data(f"---- {began} {_shown(mine, session.target.root)} changed ----")
                sessions[i] = session = _refresh(session, req, mine)
                rerun(session, req, mine)
            events.progress("watching for changes; Ctrl-C stops")
    except KeyboardInterrupt:
        _stop(sessions)
        events.progress("watch stopped: its warm containers are removed")
        return Outcome(code=EXIT_INTERRUPTED)
    return Outcome(code=EXIT_OK)


def watch_tests(req: single.RunRequest) -> Outcome:
    """`run_tests --watch`: one full run, then reruns on every change, until Ctrl-C."""
    if req.changed_since:
        raise UserError(
            f"--watch with --changed-since {req.changed_since}: a watch reruns on each change "
            "itself; drop --changed-since"
        )
    target = project.target(req.dir)
    session = start(target, req)
    try:
        _one_run(session, req, req.pytest_opts)
    except KeyboardInterrupt:
        _stop([session])
        return Outcome(code=EXIT_INTERRUPTED)
    return loop([session], req)


def watch_dirs(root: Path, dirs: Sequence[str], req: single.RunRequest) -> Outcome:
    """`main_pytest.py --watch`: after its run, each selected dir rerun on its changes."""
    sessions = []
    try:
        for rel in dirs:
            target = project.Target.load(root, rel)
            sessions.append(start(target, req))
    except KeyboardInterrupt:
        _stop(sessions)
        return Outcome(code=EXIT_INTERRUPTED)
    return loop(sessions, req)
