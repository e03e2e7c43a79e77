"""adopt on a dir laid out for the older tool: symlinks, ENTRYPOINT, /venv, conftest, prod."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.ops.adoption import migration
from tests.conftest import write

OLD_DEV = """FROM ubuntu:24.04 AS builder
ENV ENV_NAME="venv"
RUN python3 -m venv /venv && /venv/bin/pip install pytest
WORKDIR /app
ENTRYPOINT ["devops/docker_run/entrypoint.sh"]
"""
OLD_TASKS = """import helpers.repo_config_utils as hrecouti
from helpers.lib_tasks import (  # This is not an invoke target.
    parse_command_line,
)
from helpers.tasks import ns
"""
OLD_PROD = "ARG VERSION\nARG ECR_BASE_PATH\nFROM ${ECR_BASE_PATH}/x:dev-${VERSION}\nCOPY . /app\n"


def _older_tool_dir(root: Path) -> list[str]:
    """An older-tool-shaped dir: devops files symlinked into the old submodule."""
    (root / "helpers_root").mkdir(parents=True)
    write(root / "helpers_root/tasks.py", "from helpers.tasks import ns\n")
    d = root / "tutorial_x"
    (d / "devops/docker_build").mkdir(parents=True)
    os.symlink(
        "../../../helpers_root/devops/docker_build/dev.Dockerfile",
        d / "devops/docker_build/dev.Dockerfile",
    )  # gone with the old submodule
    os.symlink("../helpers_root/tasks.py", d / "tasks.py")  # now helpers' own file
    write(d / "devops/docker_build/prod.Dockerfile", OLD_PROD)
    write(d / "conftest.py", "import helpers.hdbg as dbg\nimport helpers.hunit_test as hut\n")
    write(d / "changelog.txt", "# x-1.0.0\n- first\n")
    # A link into the old submodule made a real file (README: Migrating): its tasks.py.
    write(root / "tutorial_y/tasks.py", OLD_TASKS)
    write(root / "old/devops/Dockerfile", OLD_DEV)
    return [
        "tutorial_x/devops/docker_build/dev.Dockerfile",
        "tutorial_x/tasks.py",
        "tutorial_x/devops/docker_build/prod.Dockerfile",
        "tutorial_x/conftest.py",
        "tutorial_x/changelog.txt",
        "tutorial_y/tasks.py",
        "old/devops/Dockerfile",
    ]


def test_findings_name_each_file_and_what_to_change(tmp_path: Path) -> None:
    files = _older_tool_dir(tmp_path)
    dockerfiles = [
        ("tutorial_x/devops/docker_build/dev.Dockerfile", False),
        ("tutorial_x/devops/docker_build/prod.Dockerfile", True),
        ("old/devops/Dockerfile", False),
    ]
    notes = migration.findings(tmp_path, files, "helpers_root", dockerfiles)
    text = "\n".join(notes)
    assert (
        "tutorial_x: 1 symlink(s) dangle (most pointed into the older tool's submodule, gone "
        "now): devops/docker_build/dev.Dockerfile; replace each with a file of your own"
    ) in text
    assert "tutorial_x: 1 symlink(s) point into the helpers submodule, so they read" in text
    assert "helpers' own files now, not the older tool's: tasks.py; replace each" in text
    assert "prod.Dockerfile: a prod Dockerfile gets the dev image as `ARG DEV_IMAGE`" in text
    assert 'old/devops/Dockerfile: ENTRYPOINT ["devops/docker_run/entrypoint.sh"]: ' in text
    assert "`keep_entrypoint: true`" in text
    assert "a venv in the image is not on PATH" in text
    assert (
        "tutorial_x/conftest.py: imports the older tool's helpers.hdbg, helpers.hunit_test" in text
    )
    assert (
        "tutorial_y/tasks.py: imports the older tool's helpers.lib_tasks, "
        "helpers.repo_config_utils: `invoke` in tutorial_y/ loads it instead of the root "
        "tasks.py"
    ) in text
    assert len(notes) == 7  # one line per finding


def test_a_venv_already_on_path_is_not_a_finding() -> None:
    text = OLD_DEV.replace("WORKDIR", "ENV PATH=/venv/bin:$PATH\nWORKDIR")
    notes = migration.dockerfile_notes("d/Dockerfile", text.replace("ENTRYPOINT", "#"))
    assert notes == []
