"""A dir in the older tool's layout (the shape of causify-ai/tutorials), adopted as a new
user would: `dockerfile` key, an ENTRYPOINT that cannot run here, a venv at /venv, devops
files symlinked into the old submodule, a container_env PYTHONPATH; and two runs at once.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import write
from tests.integration.conftest import ClientFactory

pytestmark = pytest.mark.integration

OLD_DEV = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
ENV ENV_NAME="venv"
RUN python3 -m venv --system-site-packages /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /app
ENTRYPOINT ["devops/docker_run/entrypoint.sh"]
"""
CONFIG = """dockerfile: devops/docker_build/dev.Dockerfile
container_env: {PYTHONPATH: /opt/extra}
python_paths: [bases]
"""
TEST = """import os
import sys

import shared_mod


def test_runs_in_the_venv_with_every_import_root():
    assert sys.prefix == "/venv"
    assert shared_mod.VALUE == 42
    assert os.environ["PYTHONPATH"].endswith(":/app/bases:/opt/extra")
"""


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_an_older_tool_dir_adopts_and_runs(client_factory: ClientFactory) -> None:
    client = client_factory(
        files={
            "tutorial/changelog.txt": "# tutorial-1.0.0\n- 2024-08-27\n- Initial release\n",
            "tutorial/repo_config.yaml": CONFIG,
            "tutorial/devops/docker_build/dev.Dockerfile": OLD_DEV,
            "tutorial/.dockerignore": "*\n!devops/\n",
            "tutorial/test_tutorial.py": TEST,
            "bases/shared_mod/__init__.py": "VALUE = 42\n",
        }
    )
    # devops files that pointed into the older tool's submodule, gone now
    for link, target in (
        ("tutorial/devops/docker_run/entrypoint.sh", "../../../old_helpers/entrypoint.sh"),
        ("tutorial/pytest.ini", "../old_helpers/pytest.ini"),
    ):
        (client.root / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, client.root / link)
    client.commit("older tool layout")
    adopt = subprocess.run(
        ["bash", str(client.root / "helpers_root/dev_scripts/adopt.sh")],
        cwd=client.root,
        env=client.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert adopt.returncode in (0, 1), adopt.stderr
    assert (
        "tutorial: 2 symlink(s) dangle (most pointed into the older tool's submodule, gone "
        "now): devops/docker_run/entrypoint.sh, pytest.ini"
    ) in adopt.stdout
    assert 'ENTRYPOINT ["devops/docker_run/entrypoint.sh"]: helpers\' run and exec' in adopt.stdout
    ran = client.script("dev_scripts/main_pytest.py", "--dir", ".", "--if-missing", "build")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed, 0 failed in 1 dir" in ran.stdout  # the ENTRYPOINT did not run
    write(client.root / "tutorial/repo_config.yaml", CONFIG + "keep_entrypoint: true\n")
    kept = client.invoke("docker_cmd", "--dir", "tutorial", "--allow-stale", "--cmd", "true")
    assert kept.returncode != 0 and "devops/docker_run/entrypoint.sh" in kept.stderr


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_two_runs_at_once_in_a_fresh_checkout_share_the_warm_container(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(".", "svc", files={"svc/test_a.py": "def test_a():\n    pass\n"})
    built = client.invoke("docker_build_local_image", "--dir", "svc")
    assert built.returncode == 0, built.stderr
    for _ in range(3):  # each round starts with no warm container: both race to make it
        subprocess.run(["docker", "rm", "-f", "none", *_warm(client.root)], capture_output=True)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "invoke", "run_tests", "--dir", "svc"],
                cwd=client.root,
                env=client.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
    assert len(_warm(client.root)) == 1


def _warm(root: object) -> list[str]:
    found = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.helpers.warm={root}:svc"],
        capture_output=True,
        text=True,
    )
    return found.stdout.split()


def test_a_broken_root_env_file_is_one_stderr_line(client_factory: ClientFactory) -> None:
    client = client_factory("a", "b", files={".env": "A=1\nthis is not an assignment\n"})
    ran = client.script("dev_scripts/main_pytest.py", "--dir", ".", "--if-missing", "build")
    assert ran.returncode == 2, ran.stdout + ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert lines[-1].startswith("error: .env:2: cannot parse the line starting 'this'")
    assert sum(".env:2" in line for line in lines) == 1
    assert ".env:2" not in ran.stdout
