"""Packages that depend on each other, as runnable dirs, on the real engine.

A temp client repo holds three src-layout pyproject packages: libs/a; "libs/c lib",
which depends on A through a uv path source; and apps/b, which depends on A
through a PEP 508 `file://` direct reference and on C through a uv path source.
Their only third-party dependency (pytest, iniconfig) is already in the base
image, so no index is needed inside the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write
from tests.integration.conftest import Client, ClientFactory, one_line_error

pytestmark = pytest.mark.integration

BUILD_SYSTEM = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"
"""


def _pyproject(name: str, version: str, deps: list[str], extra: str = "") -> str:
    return (
        f"{BUILD_SYSTEM}\n[project]\nname = {json.dumps(name)}\nversion = {json.dumps(version)}\n"
        f"dependencies = {json.dumps(deps)}\n\n"
        '[project.optional-dependencies]\ntest = ["pytest"]\n' + extra
    )


def _files(root: Path) -> dict[str, str]:
    a_url = (root / "libs" / "a").as_uri()
    return {
        "libs/a/pyproject.toml": _pyproject("pkg-a", "0.2.0", []),
        "libs/a/src/pkg_a/__init__.py": 'def greet() -> str:\n    return "hello"\n',
        "libs/a/tests/test_a.py": "import pkg_a\n\n\ndef test_a():\n"
        '    assert pkg_a.greet() == "hello"\n',
        "libs/c lib/pyproject.toml": _pyproject(
            "pkg-c", "0.1.0", ["pkg-a"], '\n[tool.uv.sources]\npkg-a = { path = "../a" }\n'
        ),
        "libs/c lib/src/pkg_c/__init__.py": "import pkg_a\n\n\ndef shout() -> str:\n"
        '    return pkg_a.greet() + " from c"\n',
        "apps/b/pyproject.toml": _pyproject(
            "pkg-b",
            "1.4.0",
            [f"pkg-a @ {a_url}", "pkg-c"],
            '\n[tool.uv.sources]\npkg-c = { path = "../../libs/c lib" }\n',
        ),
        "apps/b/src/pkg_b/__init__.py": "import pkg_c\n\n\ndef combined() -> str:\n"
        "    return pkg_c.shout()\n",
        "apps/b/tests/test_b.py": B_TEST.format(expected="hello from c"),
    }


B_TEST = """import importlib.metadata

import pkg_a
import pkg_b


def test_b_uses_a_and_c():
    assert pkg_b.combined() == "{expected}"


def test_a_is_installed_with_its_metadata_and_runs_from_the_mount():
    assert importlib.metadata.version("pkg-a") == "0.2.0"
    assert pkg_a.__file__.startswith("/app/libs/a/src/")
"""


def _image_id(ref: str) -> str:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", ref],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def _layers(ref: str) -> list[str]:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref],
        capture_output=True,
        text=True,
    )
    return list(json.loads(out.stdout or "[]"))


def _caches(root: Path) -> list[str]:
    found = []
    for name in (".pytest_cache", "__pycache__"):
        for path in root.rglob(name):
            rel = path.relative_to(root).as_posix()
            if not rel.startswith((".helpers/", "helpers_root/")):
                found.append(rel)
    return found


def _made(client_factory: ClientFactory) -> Client:
    client = client_factory()
    for rel, text in _files(client.root).items():
        write(client.root / rel, text)
    for rel in ("libs/a", "apps/b"):
        made = client.invoke("create_runnable_dir", rel)
        assert made.returncode == 0, made.stdout + made.stderr
        assert f"{rel}/devops/Dockerfile" in made.stdout.split()
    assert (client.root / "apps/b/changelog.txt").read_text().startswith("# pkg-b-1.4.0\n")
    write(client.root / "apps/b/devops/Dockerfile", "FROM mine\n")
    again = client.invoke("create_runnable_dir", "apps/b")
    assert "apps/b/devops/Dockerfile already exist" in one_line_error(again)
    forced = client.invoke("create_runnable_dir", "apps/b", "--force")
    assert forced.stdout.split() == ["apps/b/devops/Dockerfile"], forced.stdout + forced.stderr
    assert "kept as they were: apps/b/changelog.txt" in forced.stderr
    client.commit("two runnable packages")
    return client


@pytest.mark.slow  # three builds and six runs: ~50 s alone, past a minute on a busy engine
def test_dependent_packages_build_run_and_go_stale(client_factory: ClientFactory) -> None:
    client = _made(client_factory)
    ref = f"{client.name}-apps-b:local-tester-1.4.0"
    # Missing images: refused, then built (one line per build, no build log).
    refused = client.script("dev_scripts/main_pytest.py")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    run = client.script("dev_scripts/main_pytest.py", "--if-missing", "build", "-j", "2")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "build  apps/b" in out and "Step 1/" not in out
    assert "ok     apps/b  2 passed, 0 failed" in run.stdout
    built = _image_id(ref)
    assert built

    # An edit to A's code reaches B's next run through the mount: no rebuild.
    write(client.root / "libs/a/src/pkg_a/__init__.py", 'def greet() -> str:\n    return "hi"\n')
    write(client.root / "apps/b/tests/test_b.py", B_TEST.format(expected="hi from c"))
    edited = client.invoke("run_tests", "--dir", "apps/b")
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "apps/b: 2 passed, 0 failed" in edited.stdout
    assert "stale" not in edited.stderr and _image_id(ref) == built
    # A rebuild for it (the inputs hash covers A's code) reruns only the unit steps: the
    # layers up to the third-party pip install are the ones the first build made.
    before = _layers(ref)
    assert client.invoke("docker_build_local_image", "--dir", "apps/b").returncode == 0
    after, built = _layers(ref), _image_id(ref)
    assert after[:-2] == before[:-2] and after[-2] != before[-2]

    # A new dependency in A's pyproject makes B's image stale.
    write(client.root / "libs/a/pyproject.toml", _pyproject("pkg-a", "0.2.0", ["iniconfig"]))
    stale = client.invoke("run_tests", "--dir", "apps/b")
    line = one_line_error(stale)
    assert "is stale: libs/a/pyproject.toml (dependency unit)" in line, line
    assert "--if-missing build" in line
    cmd = one_line_error(client.invoke("docker_cmd", "--dir", "apps/b", "--cmd", "true"))
    assert "is stale" in cmd
    many = client.script("dev_scripts/main_pytest.py", "--dir", "apps")
    assert many.returncode == 2, many.stdout + many.stderr  # the dir counts as not run
    assert "libs/a/pyproject.toml (dependency unit)" in many.stdout
    assert "invoke docker_build_local_image --dir apps/b" in many.stdout
    anyway = client.invoke("run_tests", "--dir", "apps/b", "--allow-stale")
    assert anyway.returncode == 0 and "is stale" in anyway.stderr, anyway.stderr
    rebuilt = client.invoke("run_tests", "--dir", "apps/b", "--if-missing", "build")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "build  apps/b" in rebuilt.stderr
    assert _image_id(ref) not in ("", built)
    fresh = client.invoke("run_tests", "--dir", "apps/b")
    assert fresh.returncode == 0 and "stale" not in fresh.stderr, fresh.stderr
    # Container runs left no caches in the repo.
    assert _caches(client.root) == []


def test_a_path_outside_the_repo_is_one_line(client_factory: ClientFactory) -> None:
    client = client_factory(
        "app",
        files={
            "app/pyproject.toml": _pyproject("app", "0.1.0", ["far @ file:///opt/far"]),
        },
    )
    result = client.invoke("docker_build_local_image", "--dir", "app")
    line = one_line_error(result)
    assert "app/pyproject.toml" in line and "far @ file:///opt/far" in line


CONFTEST = """import importlib.util, pathlib, sys
sys.path.append(str(pathlib.Path(__file__).with_name("helpers_root")))  # the submodule
if importlib.util.find_spec("helpers"):
    pytest_plugins = ["helpers.pytest_plugin"]
"""


def test_plain_pytest_at_the_root_with_or_without_the_thin_env(
    client_factory: ClientFactory,
) -> None:
    """The README's conftest lines: helpers' plugin when it is there, no hard import."""
    client = client_factory(
        ".",
        "infra",
        files={
            "conftest.py": CONFTEST,
            "tests/test_root.py": "def test_ok():\n    pass\n",
            "infra/tests/test_infra.py": "def test_nested():\n    assert 0\n",
        },
    )
    bare = {k: v for k, v in client.env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for env in (client.env(), bare):
        plain = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=client.root,
            env=env,
            capture_output=True,
            text=True,
        )
        # The plugin loaded: the nested runnable dir's (failing) test is not collected.
        assert plain.returncode == 0 and "1 passed" in plain.stdout, plain.stdout + plain.stderr
    (client.root / "helpers_root").rename(client.root / "elsewhere")  # not checked out
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=client.root,
        env=bare,
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 0 and "1 passed" in plain.stdout, plain.stdout + plain.stderr
    (client.root / "elsewhere").rename(client.root / "helpers_root")


def test_a_new_dir_builds_and_passes_and_a_failed_build_shows_its_log(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(
        "broken",
        files={
            "broken/devops/Dockerfile": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"
            "RUN echo no-such && exit 3\n",
            "broken/tests/test_x.py": "def test_x():\n    pass\n",
        },
    )
    made = client.invoke("create_runnable_dir", "new-app")
    assert made.returncode == 0, made.stderr
    assert "new-app/src/new_app/__init__.py" in made.stdout.split()
    run = client.script("dev_scripts/main_pytest.py", "--if-missing", "build", "-j", "2")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out  # the broken build fails its dir, not the run
    assert "ok     new-app  1 passed, 0 failed" in run.stdout
    assert "no-such" in out and "docker build of" in out  # the failed build's log, shown
    assert "Step 1/" not in out.split("build  broken")[0]  # the good build stayed quiet


def test_a_dependency_cycle_is_one_line(client_factory: ClientFactory) -> None:
    client = client_factory(
        "x",
        files={
            "x/pyproject.toml": _pyproject("x", "0.1.0", ["y"]),
            "y/pyproject.toml": _pyproject("y", "0.1.0", ["x"]),
        },
    )
    line = one_line_error(client.invoke("docker_build_local_image", "--dir", "x"))
    assert "dependency cycle: x → y → x" in line


def test_an_untracked_package_a_dir_starts_to_use_builds_and_runs_before_git_add(
    client_factory: ClientFactory,
) -> None:
    client = client_factory()
    write(client.root / "app/pyproject.toml", _pyproject("pkg-app", "0.1.0", []))
    write(client.root / "app/src/pkg_app/__init__.py")
    assert client.invoke("create_runnable_dir", "app").returncode == 0
    client.commit("app")
    assert client.invoke("docker_build_local_image", "--dir", "app").returncode == 0
    first = client.invoke("docker_cmd", "--dir", "app", "--cmd", "true")
    assert first.returncode == 0, first.stderr  # its check remembers the dirs it walked
    # A new package nobody has `git add`-ed yet, outside those dirs, and the app using it:
    write(client.root / "libs/new/pyproject.toml", _pyproject("pkg-new", "0.1.0", []))
    write(client.root / "libs/new/src/pkg_new/__init__.py", "VALUE = 7\n")
    write(client.root / "app/pyproject.toml", _pyproject("pkg-app", "0.1.0", ["pkg-new"]))
    built = client.invoke("docker_build_local_image", "--dir", "app")
    assert built.returncode == 0 and "built" in built.stdout, built.stdout + built.stderr
    for _ in range(2):  # the build read the whole tree; so does the check that doubts it
        run = client.invoke(
            "docker_cmd",
            "--dir",
            "app",
            "--cmd",
            "python -c 'import pkg_new; print(pkg_new.VALUE)'",
        )
        assert run.returncode == 0 and "stale" not in run.stderr, run.stdout + run.stderr
        assert run.stdout.split()[-1:] == ["7"], run.stdout
