"""adopt.sh and sync_files in temp client repos with helpers as a real git submodule."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Callable, Optional

import pytest

from tests.conftest import git, write
from tests.integration.conftest import PREFIX, base_image, remove_traces

pytestmark = pytest.mark.integration

SUB = "vendor/helpers"  # any submodule dir name works
TEST = "def test_ok():\n    assert 2 + 2 == 4\n"
DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
"""
SYNCED = ("tasks.py", "invoke.yaml", "conftest.py", ".github/workflows/helpers.yml")


def _env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPERS_", "VIRTUAL_ENV"))}
    env.pop("PYTHONPATH", None)
    env.update(HELPERS_BASE_IMAGE=base_image(), USER="tester", NO_COLOR="1")
    for var in ("HELPERS_EXTRA_CA_CERTS", "HELPERS_SHARED_TMP"):
        if os.environ.get(var):
            env[var] = os.environ[var]
    env.update(extra or {})
    return env


def sh(root: Path, script: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """A bash command at the client root, as a user types it (no thin env active yet)."""
    return subprocess.run(
        ["bash", "-c", script],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def adopt(root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return sh(root, f"bash {SUB}/dev_scripts/adopt.sh {' '.join(flags)}")


def in_env(root: Path, command: str) -> subprocess.CompletedProcess[str]:
    return sh(root, f"source ./{SUB}/dev_scripts/thin_env/setenv.sh && {command}")


def status(root: Path) -> str:
    return git(root, "status", "--porcelain", "--untracked-files=all")


@pytest.fixture()
def empty_repo(shared_tmp: Path, helpers_snapshot: Path) -> Iterator[Callable[[], Path]]:
    """A new repo (its path has a space) holding only helpers as a submodule."""
    made: list[Path] = []

    def make() -> Path:
        root = shared_tmp / f"{PREFIX}{secrets.token_hex(4)} client"
        root.mkdir()
        git(root, "init", "-q")
        git(root, "submodule", "add", "-q", str(helpers_snapshot), SUB)
        git(root, "commit", "-q", "-m", "helpers as a submodule")
        made.append(root)
        return root

    yield make
    for root in made:
        remove_traces(root)


@pytest.mark.slow  # adopts three times and builds an image: over the fast list's 60 s under load
def test_adopt_from_empty_repo_to_green_main_pytest_and_twice_changes_nothing(
    empty_repo: Callable[[], Path],
) -> None:
    root = empty_repo()
    first = adopt(root)
    assert first.returncode == 0, first.stdout + first.stderr
    for rel in SYNCED:
        assert (root / rel).is_file(), rel
        assert f"wrote   {rel}" in first.stdout
    assert ".helpers/" in (root / ".gitignore").read_text().splitlines()
    assert "vendor/helpers/dev_scripts/main_pytest.py" in (root / SYNCED[3]).read_text()
    assert "runnable dirs: none yet" in first.stdout
    assert f"source ./{SUB}/dev_scripts/thin_env/setenv.sh" in first.stdout
    assert "invoke create_runnable_dir DIR" in first.stdout  # nothing to test yet
    assert "main_pytest.py" not in first.stdout
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "adopt helpers")

    again = adopt(root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "wrote" not in again.stdout
    assert status(root) == ""  # a second run changes nothing

    listed = in_env(root, "invoke --list")
    assert listed.returncode == 0 and "docker_build_local_image" in listed.stdout

    # A package with tests (untracked here: adopt reads the work tree) is named as the step.
    write(root / "libs" / "my core" / "pyproject.toml", '[project]\nname = "core"\n')
    write(root / "libs" / "my core" / "tests" / "test_core.py", TEST)
    named = adopt(root)
    assert "  invoke create_runnable_dir 'libs/my core'" in named.stdout, named.stdout
    shutil.rmtree(root / "libs")

    write(root / "svc" / "changelog.txt", "# svc-0.1.0\n- 2026-11-29\n- first\n")
    write(root / "svc" / "devops" / "Dockerfile", DOCKERFILE)
    write(root / "svc" / "tests" / "test_svc.py", TEST)
    green = in_env(root, f"python ./{SUB}/dev_scripts/main_pytest.py --dir . --if-missing build")
    assert green.returncode == 0, green.stdout + green.stderr
    assert "1 passed, 0 failed in 1 dir;" in green.stdout
    hinted = adopt(root)  # now there is a runnable dir: the next step is to test it
    assert f"python ./{SUB}/dev_scripts/main_pytest.py --dir . --if-missing build" in hinted.stdout


def test_existing_file_shown_as_diff_never_overwritten_force_replaces(
    empty_repo: Callable[[], Path],
) -> None:
    root = empty_repo()
    mine = "from helpers.tasks import ns  # noqa: F401\n\n# my own tasks below\n"
    write(root / "tasks.py", mine)
    first = adopt(root)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "differs tasks.py: left alone" in first.stdout
    assert "-# my own tasks below" in first.stdout  # the unified diff
    assert "adopt.sh --force` replaces them" in first.stdout
    assert (root / "tasks.py").read_text() == mine
    assert (root / "invoke.yaml").is_file()  # the rest was written
    forced = adopt(root, "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "wrote   tasks.py" in forced.stdout
    assert (root / "tasks.py").read_text() != mine


def test_drift_found_by_check_and_fixed_by_sync(empty_repo: Callable[[], Path]) -> None:
    root = empty_repo()
    assert adopt(root).returncode == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "adopt")
    clean = in_env(root, "invoke sync_files --check")
    assert clean.returncode == 0 and clean.stdout.startswith("in sync: ")
    linter = shutil.which("actionlint")
    if linter:  # the dev thin env has it; tests/unit/ops/adoption/test_sync.py insists on it in CI
        linted = subprocess.run([linter, SYNCED[3]], cwd=root, capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr

    # The client edits the workflow: --check shows the diff; sync leaves it; --force fixes it.
    workflow = root / SYNCED[3]
    workflow.write_text(workflow.read_text().replace("fail-fast: false", "fail-fast: true"))
    check = in_env(root, "invoke sync_files --check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "drift   .github/workflows/helpers.yml (differs)" in check.stdout
    assert "-      fail-fast: true" in check.stdout and "+      fail-fast: false" in check.stdout
    assert "`invoke sync_files --force` also replaces files you changed" in check.stdout
    kept = in_env(root, "invoke sync_files")
    assert kept.returncode == 1 and "fail-fast: true" in workflow.read_text()
    assert in_env(root, "invoke sync_files --force").returncode == 0
    assert in_env(root, "invoke sync_files --check").returncode == 0

    # An upgraded helpers: an untouched file is updated by plain sync_files (no --force).
    template = root / SUB / "templates" / "invoke.yaml"
    template.write_text(template.read_text() + "# new in this helpers version\n")
    outdated = in_env(root, "invoke sync_files --check")
    assert outdated.returncode == 1 and "drift   invoke.yaml (outdated)" in outdated.stdout
    synced = in_env(root, "invoke sync_files")
    assert synced.returncode == 0 and "wrote   invoke.yaml" in synced.stdout
    assert (root / "invoke.yaml").read_text().endswith("# new in this helpers version\n")

    # The devops files create_runnable_dir wrote follow the templates too: an untouched
    # Dockerfile is updated, a customised .dockerignore is shown and left alone.
    made = in_env(root, "invoke create_runnable_dir svc")
    assert made.returncode == 0, made.stdout + made.stderr
    assert in_env(root, "invoke sync_files --check").returncode == 0
    (root / "svc" / ".dockerignore").write_text("mine\n")
    devops = root / SUB / "templates" / "devops" / "Dockerfile"
    devops.write_text(devops.read_text() + "# newer recipe\n")
    drift = in_env(root, "invoke sync_files --check")
    assert "drift   svc/devops/Dockerfile (outdated)" in drift.stdout
    assert "drift   svc/.dockerignore (differs)" in drift.stdout
    in_env(root, "invoke sync_files")
    assert (root / "svc" / "devops" / "Dockerfile").read_text().endswith("# newer recipe\n")
    assert (root / "svc" / ".dockerignore").read_text() == "mine\n"

    # Files the client owns: sync_exclude, left alone even when they differ.
    write(root / "repo_config.yaml", "sync_exclude: [conftest.py, svc/.dockerignore]\n")
    write(root / "conftest.py", 'pytest_plugins = ["helpers.pytest_plugin", "mine"]\n')
    owned = in_env(root, "invoke sync_files --check")
    assert owned.returncode == 0, owned.stdout + owned.stderr


def test_older_tool_layout_through_the_dockerfile_key(empty_repo: Callable[[], Path]) -> None:
    root = empty_repo()
    write(root / "changelog.txt", "# legacy-1.0.0\n- 2026-11-29\n- first\n")
    write(root / "devops" / "docker_build" / "dev.Dockerfile", DOCKERFILE)
    write(root / "devops" / "docker_build" / "prod.Dockerfile", DOCKERFILE + "ENV STAGE=prod\n")
    write(root / "tests" / "test_legacy.py", TEST)
    hinted = adopt(root)
    assert hinted.returncode == 0, hinted.stdout + hinted.stderr
    assert "runnable dirs: none yet" in hinted.stdout
    assert (
        (  # lines to paste as they are: valid YAML
            "add to repo_config.yaml:\n    dockerfile: devops/docker_build/dev.Dockerfile\n"
            "    prod_dockerfile: devops/docker_build/prod.Dockerfile\n"
        )
        in hinted.stdout
    )
    assert not (root / "repo_config.yaml").exists()  # printed, never written unasked

    write(
        root / "repo_config.yaml",
        "dockerfile: devops/docker_build/dev.Dockerfile\n"
        "prod_dockerfile: devops/docker_build/prod.Dockerfile\n",
    )
    assert "runnable dirs: ." in adopt(root).stdout
    built = in_env(root, "invoke docker_build_local_image --dry-run")
    assert (
        "docker build --force-rm --file devops/docker_build/dev.Dockerfile" in built.stdout
    ), built.stderr
    ran = in_env(root, f"python ./{SUB}/dev_scripts/main_pytest.py --if-missing build")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed, 0 failed in 1 dir;" in ran.stdout


def test_adopt_bad_usage_is_one_line(empty_repo: Callable[[], Path]) -> None:
    root = empty_repo()
    for result in (
        adopt(root, "--frce"),
        sh(root / "vendor", "bash helpers/dev_scripts/adopt.sh"),
    ):
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert status(root) == ""  # nothing written


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
