"""One runnable dir's pytest run, in its container or on the host: the plan and its record.

Reports go to a fresh per-run dir under `<repo>/.helpers/reports/<run id>/`,
which ignores itself in git (like .pytest_cache). `last.json` names the last
run so `pytest_failed` / `pytest_repro` can find its failures.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import helpers
from helpers.model import envfile, project, pyprojects, testlists
from helpers.ops.run import containers
from helpers.ops.run.services import ServiceSet

STATE_DIR = ".helpers"


@dataclass(frozen=True)
class DirRun:
    rel_dir: str
    image: str  # an image ref, or "host"
    argv: tuple[str, ...]
    report_dir: Path
    container: str = ""
    cwd: Optional[str] = None
    env: tuple[tuple[str, str], ...] = ()
    make_dirs: tuple[Path, ...] = ()  # host dirs to create before it starts (see `prepare`)
    env_file: Optional[str] = None  # the env file's text, written by `prepare`
    services: Optional[ServiceSet] = None  # started before it runs, removed after (fresh runs)

    @property
    def junit(self) -> Path:
        return self.report_dir / "junit.xml"

    @property
    def failed_file(self) -> Path:
        return self.report_dir / "failed.txt"


def state_dir(root: Path) -> Path:
    """`<repo>/.helpers`, created with a .gitignore that ignores everything in it."""
    path = root / STATE_DIR
    path.mkdir(exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by helpers: run reports and state, never committed.\n*\n")
    return path


def reports_root(root: Path) -> Path:
    """Where run reports go (a path only: `prepare` and the writers create it)."""
    return root / STATE_DIR / "reports"


def ensure_reports_root(root: Path) -> Path:
    return state_dir(root) / "reports"


def prepare(run: DirRun, root: Path) -> DirRun:
    """The execute step's first act: the state dir (ignored by git), the host dirs the run
    mounts (as the host user; docker would make them root-owned) and its private env file.
    The run, with the env file's path in its argv."""
    ensure_reports_root(root)
    containers.make_dirs(run.make_dirs)
    if run.env_file is None:
        return run
    path = str(envfile.private_file(run.env_file))
    argv = tuple(path if arg == containers.ENV_FILE_LATER else arg for arg in run.argv)
    return dataclasses.replace(run, argv=argv)


def new_run_id() -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def run_token(run_id: str, rel_dir: str) -> str:
    """A container name's token, derived from the run: plans stay free of randomness."""
    return f"{run_id.rsplit('-', 1)[-1]}-{hashlib.sha1(rel_dir.encode()).hexdigest()[:8]}"


def flaky_env(target: project.Target, reruns: Optional[int]) -> dict[str, str]:
    """What helpers' pytest plugin reads for reruns and quarantine (`--reruns` wins)."""
    count = target.cfg.reruns if reruns is None else reruns
    env = {"HELPERS_RERUNS": str(count)} if count else {}
    if target.cfg.quarantine:
        env["HELPERS_QUARANTINE"] = "\n".join(target.cfg.quarantine)
    return env


def slug(rel_dir: str) -> str:
    return "root" if rel_dir == "." else rel_dir.replace("/", "__")


def plan_dir(
    target: project.Target,
    image_ref: Optional[str],
    lists: Sequence[str],
    run_id: str,
    pytest_opts: str = "",
    node_ids: Sequence[str] = (),
    warm: Optional[str] = None,
    services: Optional[ServiceSet] = None,
    reruns: Optional[int] = None,
) -> DirRun:
    """The run of one dir: on the host when `image_ref` is None (`--no-docker`), by
    `docker exec` in the warm container `warm` when given, else in a fresh container
    (on the network of `services`, which the run starts first)."""
    host_reports = reports_root(target.root) / run_id / slug(target.rel_dir)
    timeouts = testlists.timeouts_env(lists, target.cfg.test_timeouts)
    flaky = flaky_env(target, reruns)
    if image_ref is None:
        run = _on_host(target, lists, pytest_opts, node_ids, host_reports, timeouts)
        return dataclasses.replace(run, env=(*run.env, *flaky.items()))
    inside = f"{project.MOUNT}/{host_reports.relative_to(target.root).as_posix()}"
    workdir = project.workdir(target.rel_dir)
    cache = f"{project.MOUNT}/{STATE_DIR}/pytest_cache/{slug(target.rel_dir)}"
    pytest = testlists.pytest_argv(
        "python3",
        lists,
        f"{inside}/junit.xml",
        target.rel_dir,
        pytest_opts,
        node_ids,
        workdir,
        cache_dir=cache,
    )
    run_env = {"HELPERS_REPORT_DIR": inside, "HELPERS_TEST_TIMEOUTS": timeouts, **flaky}
    if warm:
        argv = containers.exec_argv(warm, workdir, run_env, pytest)
        return DirRun(target.rel_dir, image_ref, argv, host_reports, container=warm)
    name = containers.container_name(target, "test", run_token(run_id, target.rel_dir))
    env = {**containers.container_env(target), **run_env, **(services.env if services else {})}
    opts = containers.RunOptions(
        command=pytest,
        env=env,
        run_id=run_id,
        name=name,
        defer_env_file=True,
        network=services.network if services else "",
    )
    argv = containers.run_argv(target, image_ref, opts)
    run = _container_run(target, image_ref, argv, host_reports, name, ())
    return dataclasses.replace(run, services=services)


BAKED_HELPERS = "/opt/helpers"
BAKED_REPORTS = "/helpers-report"
BAKED_CACHE = "/tmp/helpers-pytest-cache"


def plan_baked(
    target: project.Target,
    image_ref: str,
    lists: Sequence[str],
    run_id: str,
    services: Optional[ServiceSet] = None,
) -> DirRun:
    """Tests against the code inside the image (prod): no repo mount. Only the report dir
    and helpers' pytest plugin (read-only) are mounted; nothing is written to the image."""
    host_reports = reports_root(target.root) / run_id / slug(target.rel_dir)
    where = project.workdir(target.rel_dir)
    # pytest's cache plugin stays (a client pytest.ini may say --new-first or --lf), its
    # dir in the container's temp dir: nothing is written into the image's code.
    pytest = testlists.pytest_argv(
        "python3",
        lists,
        f"{BAKED_REPORTS}/junit.xml",
        target.rel_dir,
        "",
        (),
        where,
        cache_dir=BAKED_CACHE,
    )
    here = Path(helpers.__file__).resolve().parents[1]
    src = [f"{where}/src"] if (target.path / "src").is_dir() else []
    src += [project.workdir(r) for r in pyprojects.import_roots(target.root, target.rel_dir)]
    path = containers.python_path(target, base=(*src, where, project.MOUNT, BAKED_HELPERS))
    env = {
        "HELPERS_REPORT_DIR": BAKED_REPORTS,
        "HELPERS_TEST_TIMEOUTS": testlists.timeouts_env(lists, target.cfg.test_timeouts),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": path,
        **flaky_env(target, None),
        **(services.env if services else {}),
    }
    name = containers.container_name(target, "test", run_token(run_id, target.rel_dir))
    opts = containers.RunOptions(
        command=pytest,
        env=env,
        run_id=run_id,
        name=name,
        mount_repo=False,
        defer_env_file=True,
        volumes=(f"{here}:{BAKED_HELPERS}:ro", f"{host_reports}:{BAKED_REPORTS}"),
        network=services.network if services else "",
    )
    argv = containers.run_argv(target, image_ref, opts)
    run = _container_run(target, image_ref, argv, host_reports, name, (host_reports,))
    return dataclasses.replace(run, services=services)


def _container_run(
    target: project.Target,
    image_ref: str,
    argv: Sequence[str],
    host_reports: Path,
    name: str,
    more_dirs: tuple[Path, ...],
) -> DirRun:
    return DirRun(
        target.rel_dir,
        image_ref,
        tuple(argv),
        host_reports,
        container=name,
        make_dirs=(*more_dirs, *containers.mount_dirs(target)),
        env_file=envfile.docker_text_for(target.root, target.cfg),
    )


def _on_host(
    target: project.Target,
    lists: Sequence[str],
    pytest_opts: str,
    node_ids: Sequence[str],
    host_reports: Path,
    timeouts: str,
) -> DirRun:
    junit_path = str(host_reports / "junit.xml")
    argv = testlists.pytest_argv(
        host_python(),
        lists,
        junit_path,
        target.rel_dir,
        pytest_opts,
        node_ids,
        rootdir=str(target.path),
    )
    here = str(Path(helpers.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    env = (
        ("HELPERS_REPORT_DIR", str(host_reports)),
        ("HELPERS_TEST_TIMEOUTS", timeouts),
        ("PYTHONPATH", path),
    )
    return DirRun(target.rel_dir, "host", argv, host_reports, cwd=str(target.path), env=env)


def host_python(env: Optional[Mapping[str, str]] = None) -> str:
    """`--no-docker`'s python: the active virtualenv's ($VIRTUAL_ENV), else the thin env's."""
    env = os.environ if env is None else env
    venv = env.get("VIRTUAL_ENV")
    if venv:
        for name in ("bin/python", "Scripts/python.exe"):
            if (Path(venv) / name).is_file():
                return str(Path(venv) / name)
    return sys.executable
