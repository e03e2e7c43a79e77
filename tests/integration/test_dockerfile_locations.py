"""A runnable dir's Dockerfile where the `dockerfile` key puts it: fresh after its own
build, stale (naming the file) after an edit to a file its Dockerfile copies (issue 16.1)."""

from __future__ import annotations

import pytest

from tests.conftest import write
from tests.integration.conftest import ClientFactory, one_line_error

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # many builds: the slow time-out

# dir -> the Dockerfile its repo_config.yaml names (None: the default devops/Dockerfile)
LOCATIONS = {
    "plain": None,
    "svc": "Dockerfile",
    "old": "devops/docker_build/dev.Dockerfile",  # the older tool's layout
}
RECIPE = """ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
COPY devops/settings.ini /etc/app/{name}.ini
"""


def _files() -> dict[str, str]:
    files = {}
    for name, dockerfile in LOCATIONS.items():
        files[f"{name}/changelog.txt"] = f"# {name}-0.1.0\n- 2026-11-22\n- first\n"
        files[f"{name}/{dockerfile or 'devops/Dockerfile'}"] = RECIPE.format(name=name)
        files[f"{name}/devops/settings.ini"] = f"[app]\nname = {name}\n"
        # The dev image needs only devops/: the Dockerfile itself is outside that list.
        files[f"{name}/.dockerignore"] = "*\n!devops/\n"
        # Runs in the dir's container: the working dir is the dir, mounted where helpers says.
        files[f"{name}/tests/test_it.py"] = (
            f"import os\n\n\ndef test_it():\n    assert os.getcwd() == '/app/{name}'\n"
        )
        if dockerfile:
            files[f"{name}/repo_config.yaml"] = f"dockerfile: {dockerfile}\n"
    return files


def test_every_dockerfile_location_is_fresh_after_its_build_and_stale_after_an_edit(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(files=_files())
    for name in LOCATIONS:
        built = client.invoke("docker_build_local_image", "--dir", name)
        assert built.returncode == 0, built.stdout + built.stderr
        again = client.invoke("docker_build_local_image", "--dir", name)
        assert "up to date" in again.stdout, again.stdout + again.stderr
        tests = client.invoke("run_tests", "--dir", name)
        assert tests.returncode == 0, f"{name}: {tests.stdout}{tests.stderr}"
        cmd = client.invoke("docker_cmd", "--dir", name, "--cmd", f"cat /etc/app/{name}.ini")
        assert cmd.returncode == 0 and f"name = {name}" in cmd.stdout, cmd.stdout + cmd.stderr
    many = client.script("dev_scripts/main_pytest.py", "--dir", ".")
    assert many.returncode == 0, many.stdout + many.stderr
    assert "stale" not in many.stdout + many.stderr

    for name in LOCATIONS:
        write(client.root / name / "devops/settings.ini", f"[app]\nname = {name}2\n")
    for name in LOCATIONS:
        for task in (("run_tests",), ("docker_cmd", "--cmd", "true")):
            line = one_line_error(client.invoke(task[0], "--dir", name, *task[1:]))
            assert f"is stale: {name}/devops/settings.ini changed" in line, line
    many = client.script("dev_scripts/main_pytest.py", "--dir", ".")
    assert many.returncode != 0
    for name in LOCATIONS:
        assert f"{name}/devops/settings.ini" in many.stdout + many.stderr, many.stdout
