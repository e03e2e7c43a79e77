"""The bad-input corpus, engine-free: .env, ports, versions, bump_version, --since names,
the last-run record (each case: one line saying what, where and the fix; exit 2)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from packaging.version import Version

from helpers.cli import main_pytest
from helpers.errors import UserError
from helpers.model import changelog, config, envfile, images, project
from helpers.ops.images import choice
from helpers.ops.run import containers
from helpers.ops.testing import record, selection, single, testplan
from helpers.ops.workspace import changes
from tests.conftest import git as run_git
from tests.conftest import make_runnable, write

# ---------------------------------------------------------------- .env


def _env(text: str) -> envfile.EnvFile:
    return envfile.parse(text, ".env")


def test_dotenv_format_people_write() -> None:
    env = _env(
        "# database\n"
        "export DB_URL=postgres://u@h/db\n"
        'GREETING="hello world"  # a comment\n'
        "SINGLE='a#b'\n"
        "PLAIN=x=y\n"
        "EMPTY=\n"
        "FROM_HOST\n"
        "DOLLAR=pa$word\n"
    )
    assert dict(env.entries) == {
        "DB_URL": "postgres://u@h/db",
        "GREETING": "hello world",
        "SINGLE": "a#b",
        "PLAIN": "x=y",
        "EMPTY": "",
        "FROM_HOST": None,
        "DOLLAR": "pa$word",  # no ${VAR} expansion, as docker's env files
    }
    assert envfile.docker_text(env) == (
        "DB_URL=postgres://u@h/db\nGREETING=hello world\nSINGLE=a#b\nPLAIN=x=y\nEMPTY=\n"
        "FROM_HOST\nDOLLAR=pa$word\n"
    )


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("A=1\nthis is not an assignment\n", 2, "cannot parse the line starting 'this' ("),
        ("A=1\n\n=novalue\n", 3, "cannot parse the line (values are not shown)"),
        ("API_TOKEN: s3cr3t-value\n", 1, "cannot parse the line starting 'API_TOKEN' ("),
        ('A="unclosed\n', 1, "cannot parse"),
        ('"MY VAR"=1\n', 1, "cannot parse"),
        ('OK=1\nKEY="two\nlines"\n', 2, "the value of KEY spans lines"),
    ],
)
def test_a_malformed_line_names_file_and_line(text: str, line: int, says: str) -> None:
    with pytest.raises(UserError) as err:
        _env(text)
    assert str(err.value).startswith(f".env:{line}: ")
    assert says in str(err.value)
    assert "s3cr3t" not in str(err.value) and "novalue" not in str(err.value)


def _target(root: Path, rel: str = ".", **cfg: object) -> project.Target:
    base = config.load(root, rel, env={})
    values = {**base.__dict__, **cfg}
    return project.Target(root, rel, config.Config(**values))


def test_run_argv_checks_the_env_file_and_never_puts_values_on_argv(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    write(tmp_path / ".env", 'export TOKEN="s3cr3t value"\n')
    argv = containers.run_argv(_target(tmp_path), "img:1", containers.RunOptions(), env={})
    assert not any("s3cr3t" in a for a in argv)
    given = Path(argv[argv.index("--env-file") + 1])
    assert given.read_text() == "TOKEN=s3cr3t value\n"  # quotes and `export` resolved
    assert given != tmp_path / ".env"
    write(tmp_path / ".env", "TOKEN=ok\nnot a line\n")
    with pytest.raises(UserError, match=r"^\.env:2: cannot parse the line starting 'not' "):
        containers.run_argv(_target(tmp_path), "img:1", containers.RunOptions(), env={})


def test_a_configured_env_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    write(tmp_path / config.FILENAME, "env_file: secrets/prod.env\n")
    target = project.Target(tmp_path, ".", config.load(tmp_path, ".", env={}))
    with pytest.raises(UserError) as err:
        containers.run_argv(target, "img:1", containers.RunOptions(), env={})
    assert str(err.value) == (
        f"repo_config.yaml: env_file 'secrets/prod.env': no such file "
        f"{tmp_path}/secrets/prod.env; create it, or fix or remove the env_file key"
    )
    # The default `.env` is optional: no file, no flag.
    plain = project.Target(tmp_path, ".", config.Config(image_name="x"))
    assert "--env-file" not in containers.run_argv(plain, "i", containers.RunOptions(), env={})


def _env_file(root: Path, cfg: config.Config) -> Path | None:
    """What a run passes to `docker run --env-file`: the checked text in a private file."""
    text = envfile.docker_text_for(root, cfg)
    return None if text is None else envfile.private_file(text)


def test_the_temp_env_file_is_private_and_shared_per_content(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    write(tmp_path / ".env", "A=1\n")
    cfg = config.Config(image_name="x")
    first = _env_file(tmp_path, cfg)
    assert first is not None and first == _env_file(tmp_path, cfg)
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    write(tmp_path / ".env", "A=2\n")
    second = _env_file(tmp_path, cfg)
    assert second is not None and second != first and second.read_text() == "A=2\n"


# ---------------------------------------------------------------- ports


@pytest.mark.parametrize(
    "spec",
    [
        "80",
        "8080:80",
        "127.0.0.1:8080:80",
        "127.0.0.1::80",
        "8000-8010:8000-8010",
        "53:53/udp",
        "[::1]:8080:80/tcp",
    ],
)
def test_ports_docker_accepts(tmp_path: Path, spec: str) -> None:
    write(tmp_path / config.FILENAME, f"ports: [{json.dumps(spec)}]\n")
    assert config.load(tmp_path, ".", env={}).ports == (spec,)


@pytest.mark.parametrize("spec", ["abc:def", "8080:", "70000:80", "80/tcpx", "1:2:3:4", ":80"])
def test_ports_docker_refuses_are_caught_with_file_and_line(tmp_path: Path, spec: str) -> None:
    write(tmp_path / config.FILENAME, f"image_name: x\nports: [{json.dumps(spec)}]\n")
    with pytest.raises(UserError) as err:
        config.load(tmp_path, ".", env={})
    assert str(err.value) == (
        f"repo_config.yaml:2: 'ports' must be ports like '8080:80' or '127.0.0.1:8080:80/tcp', "
        f"got {spec!r}; fix the value"
    )


# ---------------------------------------------------------------- --version


def test_a_version_that_is_not_one_is_refused(tmp_path: Path) -> None:
    make_runnable(tmp_path, "infra", version="1.3.0")
    target = _target(tmp_path, "infra", image_name="infra")
    for stage in ("local", "dev"):
        with pytest.raises(UserError) as err:
            choice.chosen_ref(target, stage, "notaversion", "ann")
        assert str(err.value) == (
            "--version 'notaversion' is not a version like 1.2.3; omit it to use the changelog's"
        )
    with pytest.raises(UserError, match="--version '1.2' is not a version"):
        images.check_version("1.2")


def test_the_fix_for_a_missing_version_builds_that_version(tmp_path: Path) -> None:
    make_runnable(tmp_path, "infra", version="1.3.0")
    target = _target(tmp_path, "infra", image_name="infra")
    assert choice.fix_command(target, "local", "1.2.0") == (
        "invoke docker_build_local_image --dir infra --version 1.2.0"
    )
    assert choice.fix_command(target, "dev", "1.2.0") == (
        "invoke docker_pull --dir infra --stage dev --version 1.2.0"
    )
    assert choice.fix_command(target, "local") == "invoke docker_build_local_image --dir infra"


def test_build_plan_refuses_a_bad_version(tmp_path: Path) -> None:
    from helpers.ops.images import build

    make_runnable(tmp_path, ".")
    with pytest.raises(UserError, match="--version 'v1' is not a version like 1.2.3"):
        build.prepare(_target(tmp_path), version="v1")


# ---------------------------------------------------------------- bump_version


def _bump_task(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    from helpers.tasks import changelog_tasks

    monkeypatch.chdir(root)
    changelog_tasks.bump_version.body(None, part="minor", message="add psycopg")


def test_bump_version_says_old_then_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    make_runnable(tmp_path, ".", version="1.3.0")
    _bump_task(tmp_path, monkeypatch)
    assert capsys.readouterr().out == "changelog.txt: 1.3.0 -> 1.4.0\n"
    assert changelog.load(tmp_path / "changelog.txt").version == Version("1.4.0")


def test_bump_version_refuses_a_read_only_changelog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    make_runnable(tmp_path, ".", version="1.3.0")
    path = tmp_path / "changelog.txt"
    before = path.read_text()
    path.chmod(0o444)
    with pytest.raises(SystemExit) as exited:
        _bump_task(tmp_path, monkeypatch)
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"error: {path}: the file is read-only, so bump_version will not replace it; "
        "make it writable (chmod u+w changelog.txt) and rerun\n"
    )
    assert path.read_text() == before and stat.S_IMODE(path.stat().st_mode) == 0o444


# ---------------------------------------------------------------- --since names


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "client"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, "svc")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-qm", "init")
    return root


def test_env_var_ref_is_named_as_the_env_var(repo: Path) -> None:
    with pytest.raises(UserError) as err:
        changes.since(repo, None, env={"HELPERS_CHANGED_SINCE": "nope"})
    assert str(err.value).startswith(
        "$HELPERS_CHANGED_SINCE=nope: no such commit, branch or tag in "
    )
    with pytest.raises(UserError, match=r"^--since nope: no such commit"):
        changes.since(repo, "nope", env={"HELPERS_CHANGED_SINCE": "HEAD"})


def test_changed_since_flag_is_named_as_the_flag(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sel = selection.Selection(repo, ("svc",))
    with pytest.raises(UserError, match=r"^--changed-since nope: no such commit"):
        selection.narrow(sel, "nope", "main_pytest . fast")
    assert main_pytest.main(["--changed-since", "nope"], cwd=repo) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: --changed-since nope: no such commit, branch or tag in ")


def test_run_tests_changed_since_is_named_as_the_flag(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "svc")
    request = single.RunRequest(no_docker=True, changed_since="nope")
    with pytest.raises(UserError, match=r"^--changed-since nope: no such commit"):
        single.run_tests(request)


# ---------------------------------------------------------------- the last-run record


def test_a_run_that_ran_nothing_keeps_the_last_record(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    target = project.Target(tmp_path, ".", config.Config(image_name="x"))
    ran = testplan.plan_dir(target, None, ["fast"], "run-1")
    write(ran.junit, "<testsuites/>")
    assert record.record_if_ran(tmp_path, "run-1", [ran], ["fast"])
    nothing = testplan.plan_dir(target, None, ["fast"], "run-2")  # never wrote a report
    assert not record.record_if_ran(tmp_path, "run-2", [nothing], ["fast"])
    assert [d.report_dir for d in record.load_last(tmp_path)] == [str(ran.report_dir)]


# ---------------------------------------------------------- a Dockerfile deleted, still tracked


@pytest.fixture
def lost_dockerfile(tmp_path: Path) -> Path:
    """A root runnable dir and infra, whose Dockerfile is deleted but still tracked."""
    root = tmp_path / "client"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, ".")
    make_runnable(root, "infra")
    write(root / "infra/tests/test_x.py", "def test_x():\n    pass\n")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-qm", "init")
    (root / "infra/devops/Dockerfile").unlink()
    return root


def test_one_definition_of_a_runnable_dir_from_the_work_tree(lost_dockerfile: Path) -> None:
    from helpers.model import units, workspace

    root = lost_dockerfile
    assert "infra/devops/Dockerfile" in workspace.list_files(root)  # git still tracks it
    assert selection.select(".", root).dirs == (".",)
    assert units.load(root).runnable() == ["."]
    with pytest.raises(UserError) as err:
        workspace.resolve_dir(root, root, "infra")
    assert "--dir infra is not a runnable dir" in str(err.value)


def test_inside_a_dir_that_lost_its_dockerfile_the_parent_is_not_used(
    lost_dockerfile: Path,
) -> None:
    from helpers.model import workspace

    with pytest.raises(UserError) as err:
        workspace.resolve_dir(lost_dockerfile, lost_dockerfile / "infra" / "tests", None)
    assert str(err.value) == (
        "infra has changelog.txt but no devops/Dockerfile, so it is not a runnable dir: "
        "restore devops/Dockerfile (e.g. `git checkout -- devops/Dockerfile`), "
        "or pass --dir . for the enclosing one"
    )
    assert workspace.resolve_dir(lost_dockerfile, lost_dockerfile, None) == "."


def test_threads_share_one_temp_env_file(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write(tmp_path / ".env", "SHARED=1\n")
    cfg = config.Config(image_name="x")
    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = set(pool.map(lambda _: _env_file(tmp_path, cfg), range(32)))
    assert len(paths) == 1


# ---------------------------------------------------------------- --platform of a local build


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        ("linux/amd65", "--platform: unknown architecture in 'linux/amd65'; known: linux/arm64"),
        ("linux/amd64,linux/arm64", "--platform: a local build is for one platform"),
        ("amd64", "--platform: 'amd64' is not a platform like linux/amd64"),
    ],
)
def test_a_local_build_refuses_a_platform_it_does_not_know(
    flag: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from invoke.context import Context

    from helpers.tasks import docker_tasks

    with pytest.raises(SystemExit) as exit_:  # before any engine call (they fail in unit tests)
        docker_tasks.docker_build_local_image.body(Context(), platform=flag)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {says}")
    assert images.parse_one_platform("linux/arm64") == "linux/arm64"


def test_env_files_a_killed_run_left_are_swept_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(envfile, "_written", {})
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()  # a pid that has ended
    folder = envfile.private_dir()
    assert folder == tmp_path / f"helpers-env-{os.getuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    left = folder / f"env-{gone}-abc123.list"
    left.write_text("TOKEN=s3cret\n")
    alive = folder / f"env-{os.getppid()}-def456.list"  # another live run's: kept
    alive.write_text("X=1\n")
    path = envfile.private_file("TOKEN=new\n")
    assert path.parent == folder and path.name.startswith(f"env-{os.getpid()}-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not left.exists() and alive.exists()
