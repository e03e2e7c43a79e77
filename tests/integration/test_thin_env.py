"""The thin env scripts: dev_scripts/thin_env/{build,setenv}.sh, run for real.

Tests marked `slow` build a real env (once per module, with the default
installer: uv when on PATH, else pip); the others cover the error paths and
setenv.sh, which need no installed packages.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIN = ROOT / "dev_scripts" / "thin_env"
BUILD = THIN / "build.sh"
SETENV = THIN / "setenv.sh"
MARKER = ".helpers-thin-env-complete"
BUILT_RE = re.compile(r"thin env built in \d+\.\d s \((uv|pip)\): (\S.*)")
# Printed by the sourcing shells below, one `NAME=value` line each.
SHOW = "\n".join(
    f'printf "%s\\n" "{v}=${{{v}:-}}"'
    for v in ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "HELPERS_ROOT", "HELPERS_CLIENT_ROOT")
)
FAKE_PYTHON = """#!{python}
# A python that runs `-c CODE` like the real one but reports itself as {version}.
import importlib.util, sys
sys.version_info = {version_info!r}
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name in {missing!r} else _find_spec(name, *a)
args = [a for a in sys.argv[1:] if a not in ("-E", "-S")]
code = args[args.index("-c") + 1]
sys.argv = ["-c"] + args[args.index("-c") + 2 :]
exec(code, {{"__name__": "__main__"}})
"""


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """os.environ without the variables these scripts read, plus an env home in tmp."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HELPERS_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["HELPERS_THIN_ENV_HOME"] = str(tmp / "envs")
    env["XDG_CONFIG_HOME"] = str(tmp / "config")  # no machine.env of this machine
    env.update(extra)
    return env


def run_build(
    env: dict[str, str], *args: str, cwd: Path | None = None, script: Path = BUILD
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def source(
    body: str, env: dict[str, str], cwd: Path | None = None, shell: str = "bash"
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Runs `body` (which sources setenv.sh) in a fresh shell, then prints its variables."""
    argv = ["zsh", "-f", "-c"] if shell == "zsh" else ["bash", "--norc", "-c"]
    proc = subprocess.run(
        [*argv, f"{body}\n{SHOW}"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    shown = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return proc, shown


def fake_python(tmp: Path, version: str = "3.8.10", missing: tuple[str, ...] = ()) -> Path:
    """A `python3` in its own bin dir that behaves like an old or stripped-down python."""
    bin_dir = tmp / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "python3"
    info = (*map(int, version.split(".")), "final", 0)
    fake.write_text(
        FAKE_PYTHON.format(
            python=sys.executable, version=version, version_info=info, missing=missing
        )
    )
    fake.chmod(0o755)
    return fake


def env_dirs(home: Path) -> list[Path]:
    return sorted(p for p in home.iterdir() if p.is_dir()) if home.exists() else []


def pins() -> dict[str, str]:
    lines = (THIN / "requirements.txt").read_text().splitlines()
    return dict(
        line.split("==", 1) for line in (ln.split("#")[0].strip() for ln in lines) if "==" in line
    )


def make_client(tmp: Path, name: str = "hr") -> tuple[Path, Path]:
    """A client repo with a copy of this checkout's thin env scripts as submodule `name`."""
    client = tmp / "client"
    (client / ".git").mkdir(parents=True)
    helpers = client / name
    shutil.copytree(THIN, helpers / "dev_scripts" / "thin_env")
    shutil.copy(ROOT / "pyproject.toml", helpers / "pyproject.toml")
    (helpers / ".git").write_text("gitdir: ../.git/modules/hr\n")  # as a submodule has
    return client.resolve(), helpers.resolve()


# ---------------------------------------------------------------- real builds


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    tmp = tmp_path_factory.mktemp("thin_env")
    env = clean_env(tmp)
    proc = run_build(env, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    m = BUILT_RE.fullmatch(proc.stdout.strip())
    assert m, proc.stdout
    return env, Path(m.group(2))


@pytest.mark.slow
def test_build_installs_the_pins_outside_the_repo(built: tuple[dict[str, str], Path]) -> None:
    env, env_dir = built
    assert env_dir.parent == Path(env["HELPERS_THIN_ENV_HOME"])
    assert re.fullmatch(r"[0-9a-f]{16}", env_dir.name)
    assert (env_dir / MARKER).read_text().strip() == env_dir.name
    code = (
        "import importlib.metadata as m, importlib.util, json, sys\n"
        "import invoke, yaml, dotenv, packaging\n"
        "names = sys.argv[1:]\n"
        "print(json.dumps({'versions': {n: m.version(n) for n in names},\n"
        "  'helpers': importlib.util.find_spec('helpers') is not None}))\n"
    )
    proc = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", code, *pins()],
        env={**env, "PYTHONPATH": ""},
        cwd=env_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert out["versions"] == pins()
    assert {"invoke", "pyyaml", "python-dotenv", "packaging"} <= set(pins())
    assert "docker" not in pins(), "the CLI beats the SDK here (README: Thin env)"
    assert out["helpers"] is False, "the shared env must not hold the helpers project"
    launcher = (THIN / "invoke_launcher.py").read_text()
    for name in ("invoke", "inv"):  # ours: an early Ctrl-C is one line and 130
        script = (env_dir / "bin" / name).read_text()
        assert script == f"#!{env_dir}/bin/python -S\n{launcher}"


@pytest.mark.slow
def test_rerun_is_a_no_op_from_any_cwd(built: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, env_dir = built
    home = env_dir.parent

    def snapshot() -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in home.rglob("*") if not p.is_symlink()}

    before = snapshot()
    for cwd in (ROOT, tmp_path):
        proc = run_build(env, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"thin env up to date: {env_dir}\n"
        assert proc.stderr == ""
    assert snapshot() == before


@pytest.mark.slow
def test_rerun_with_the_env_active_is_the_same_env(built: tuple[dict[str, str], Path]) -> None:
    """After `source setenv.sh`, python3 is the env's own: the key must not change."""
    env, env_dir = built
    body = f"source {SETENV} >/dev/null && {BUILD} && echo ACTIVE=$VIRTUAL_ENV"
    proc = subprocess.run(["bash", "--norc", "-c", body], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"thin env up to date: {env_dir}\n" in proc.stdout
    assert f"ACTIVE={env_dir}" in proc.stdout


@pytest.mark.slow
def test_another_checkout_with_the_same_pins_shares_the_env(
    built: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, env_dir = built
    client, helpers = make_client(tmp_path, name="any_name")
    proc = run_build(env, cwd=client, script=Path("any_name/dev_scripts/thin_env/build.sh"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"thin env up to date: {env_dir}\n"


@pytest.mark.slow
def test_setenv_activates_the_built_env(built: tuple[dict[str, str], Path]) -> None:
    env, env_dir = built
    env = {**env, "HELPERS_IN_CONTAINER": "0"}
    body = f'source "{SETENV}" && source "{SETENV}" && command -v python && command -v invoke'
    proc, shown = source(body, env, cwd=env_dir.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert shown["VIRTUAL_ENV"] == str(env_dir)
    path = shown["PATH"].split(":")
    assert path[:2] == [str(env_dir / "bin"), str(ROOT / "dev_scripts")]
    assert path.count(path[0]) == path.count(path[1]) == 1
    assert f"{env_dir}/bin/python\n{env_dir}/bin/invoke\n" in proc.stdout
    # The checkout is importable through PYTHONPATH, not installed.
    code = "import importlib.util; print(importlib.util.find_spec('helpers').origin)"
    proc = subprocess.run(
        ["bash", "--norc", "-c", f'source "{SETENV}" && python -c "{code}"'],
        env=env,
        cwd=env_dir.parent,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(ROOT / "helpers" / "__init__.py")


@pytest.mark.slow
def test_dir_without_marker_is_rebuilt(built: tuple[dict[str, str], Path]) -> None:
    env, env_dir = built
    (env_dir / MARKER).unlink()
    (env_dir / "half-built-leftover").write_text("")
    proc = run_build(env)
    assert proc.returncode == 0, proc.stderr
    m = BUILT_RE.fullmatch(proc.stdout.strip())
    assert m and Path(m.group(2)) == env_dir, proc.stdout
    assert not (env_dir / "half-built-leftover").exists()
    assert (env_dir / MARKER).read_text().strip() == env_dir.name
    assert run_build(env).stdout == f"thin env up to date: {env_dir}\n"


# ---------------------------------------------------------------- build errors


def assert_clean_error(proc: subprocess.CompletedProcess[str], home: Path, *words: str) -> str:
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0]
    assert env_dirs(home) == [], "nothing half-built may stay"
    return lines[0]


@pytest.mark.parametrize("how", ["PATH", "HELPERS_PYTHON"])
def test_old_python_is_refused(tmp_path: Path, how: str) -> None:
    fake = fake_python(tmp_path, "3.8.10")
    env = clean_env(tmp_path)
    if how == "PATH":
        env["PATH"] = f"{fake.parent}:{env['PATH']}"
    else:
        env["HELPERS_PYTHON"] = str(fake)
    client, helpers = make_client(tmp_path)
    proc = run_build(env, cwd=client, script=Path("hr/dev_scripts/thin_env/build.sh"))
    line = assert_clean_error(proc, tmp_path / "envs", "3.8.10", "HELPERS_PYTHON")
    assert str(fake) in line


def test_missing_python_is_refused(tmp_path: Path) -> None:
    env = clean_env(tmp_path, HELPERS_PYTHON=str(tmp_path / "no-such-python"))
    assert_clean_error(run_build(env), tmp_path / "envs", "not found", "no-such-python")


def test_missing_venv_module_is_refused_for_pip(tmp_path: Path) -> None:
    fake = fake_python(tmp_path, "3.11.0", missing=("ensurepip",))
    env = clean_env(tmp_path, HELPERS_PYTHON=str(fake), HELPERS_THIN_ENV_INSTALLER="pip")
    assert_clean_error(run_build(env), tmp_path / "envs", "python3-venv")


@pytest.mark.parametrize(
    ("args", "installer", "words"),
    [
        (["--bogus"], "", ["--bogus", "usage"]),
        ([], "conda", ["conda", "uv or pip"]),
    ],
)
def test_bad_usage_is_refused(
    tmp_path: Path, args: list[str], installer: str, words: list[str]
) -> None:
    env = clean_env(tmp_path, HELPERS_THIN_ENV_INSTALLER=installer)
    assert_clean_error(run_build(env, *args), tmp_path / "envs", *words)


def test_forced_uv_without_uv_is_refused(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    path = f"{bin_dir}:/usr/bin:/bin"
    if shutil.which("uv", path=path):
        pytest.skip("uv is installed system-wide")
    env = clean_env(tmp_path, PATH=path, HELPERS_THIN_ENV_INSTALLER="uv")
    assert_clean_error(run_build(env), tmp_path / "envs", "uv not found")


@pytest.mark.slow  # creates a venv with pip: seconds
@pytest.mark.skipif(
    importlib.util.find_spec("ensurepip") is None, reason="this python has no ensurepip"
)
def test_failed_install_keeps_nothing(tmp_path: Path) -> None:
    # pip with no index and no config (so no local wheel dirs) cannot find the pins.
    env = clean_env(
        tmp_path,
        HELPERS_PYTHON=sys.executable,
        HELPERS_THIN_ENV_INSTALLER="pip",
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS="",
    )
    line = assert_clean_error(run_build(env), tmp_path / "envs", "pip failed", "nothing was kept")
    found = re.search(r"log: (\S+)\)", line)
    assert found, line
    log = Path(found.group(1))
    assert "invoke" in log.read_text()


# ---------------------------------------------------------------- setenv.sh


def entries(value: str) -> list[str]:
    return [e for e in value.split(":") if e]


def test_setenv_twice_sets_paths_once_and_asks_for_a_build(tmp_path: Path) -> None:
    env = clean_env(tmp_path, HELPERS_IN_CONTAINER="0", PYTHONPATH="/already/there")
    proc, shown = source(f'source "{SETENV}"; echo "rc=$?"; source "{SETENV}"', env)
    assert "rc=1" in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and all("build.sh" in line for line in lines), proc.stderr
    assert str(BUILD) in lines[0]
    path, pythonpath = entries(shown["PATH"]), entries(shown["PYTHONPATH"])
    assert path[0] == str(ROOT / "dev_scripts")
    assert path.count(path[0]) == 1
    assert pythonpath[0] == str(ROOT)
    assert pythonpath.count(str(ROOT)) == 1
    assert "/already/there" in pythonpath
    assert shown["VIRTUAL_ENV"] == ""
    assert shown["HELPERS_ROOT"] == str(ROOT)


def test_setenv_in_a_container_without_env_is_silent(tmp_path: Path) -> None:
    env = clean_env(tmp_path, HELPERS_IN_CONTAINER="1")
    proc, shown = source(f'source "{SETENV}" && echo ok', env)
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert "ok" in proc.stdout.splitlines()
    assert entries(shown["PATH"])[0] == str(ROOT / "dev_scripts")
    assert entries(shown["PYTHONPATH"])[0] == str(ROOT)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_setenv_from_a_client_repo(tmp_path: Path, shell: str) -> None:
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    client, helpers = make_client(tmp_path)
    env = clean_env(tmp_path, HELPERS_IN_CONTAINER="1")
    body = "source ./hr/dev_scripts/thin_env/setenv.sh; source ./hr/dev_scripts/thin_env/setenv.sh"
    proc, shown = source(body, env, cwd=client, shell=shell)
    assert proc.returncode == 0, proc.stderr
    assert shown["HELPERS_ROOT"] == str(helpers)
    assert shown["HELPERS_CLIENT_ROOT"] == str(client)
    assert entries(shown["PYTHONPATH"]) == [str(helpers), str(client)]
    assert entries(shown["PATH"]).count(str(helpers / "dev_scripts")) == 1


def test_setenv_loads_machine_env_and_survives_set_eu(tmp_path: Path) -> None:
    conf = tmp_path / "config" / "helpers" / "machine.env"
    conf.parent.mkdir(parents=True)
    conf.write_text("HELPERS_BASE_IMAGE=example.org/base:1\nFOO=from-machine\nBAR=machine\n")
    env = clean_env(tmp_path, HELPERS_IN_CONTAINER="0", HELPERS_PYTHON="no-such-python")
    env["BAR"] = "exported"
    body = (
        f'set -eu; source "{SETENV}" --bogus || echo "bad=$?"\n'
        f'source "{SETENV}" || echo "rc=$?"\n'
        "case $- in *a*) echo allexport-left-on ;; esac\n"
        "python3 -c \"import os; print('child=' + os.environ['FOO'] + ',' + os.environ['BAR'] + "
        "',' + os.environ.get('HELPERS_BASE_IMAGE', 'unset'))\""
    )
    proc, shown = source(body, env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert "bad=2" in out
    assert "rc=1" in out
    # What the user exported wins; the machine's base image stays a machine default
    # (config reads it from the file, below every repo_config.yaml).
    assert "child=from-machine,exported,unset" in out
    assert "allexport-left-on" not in out
    assert "python not found" in proc.stderr
    assert entries(shown["PYTHONPATH"])[0] == str(ROOT)


def test_setenv_keeps_an_exported_base_image(tmp_path: Path) -> None:
    conf = tmp_path / "config" / "helpers" / "machine.env"
    conf.parent.mkdir(parents=True)
    conf.write_text("HELPERS_BASE_IMAGE=example.org/base:1\n")
    env = clean_env(tmp_path, HELPERS_IN_CONTAINER="1", HELPERS_BASE_IMAGE="mine:2")
    proc, _ = source(f'source "{SETENV}"; echo "base=$HELPERS_BASE_IMAGE"', env)
    assert proc.returncode == 0, proc.stderr
    assert "base=mine:2" in proc.stdout.splitlines()


def test_setenv_run_instead_of_sourced_says_so(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(SETENV)], env=clean_env(tmp_path), capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: setenv.sh is meant to be sourced")
    assert proc.stdout == ""
