"""docker_update_lock on the real engine: uv inside the image (the dir also depends on an
in-repo package by a uv path source), the lock written back, the next build installing
from it. Needs PyPI from inside containers, through the host's CA
bundle (`extra_ca_certs`), as ENGINE.md describes."""

from __future__ import annotations

import re

import pytest

from helpers.ops.adoption import sync
from tests.integration.conftest import ClientFactory, one_line_error

pytestmark = pytest.mark.integration

HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
UV_DOCKERFILE = sync.template_text("devops/Dockerfile").replace(
    "RUN sh /tmp/helpers-build/install-ca.sh \\\n",
    "RUN sh /tmp/helpers-build/install-ca.sh \\\n && python3 -m pip install --quiet uv \\\n",
)
SVC = """[project]
name = "svc"
version = "0.3.0"
requires-python = ">=3.11"
dependencies = ["iniconfig>=2", "x-lib"]

[project.optional-dependencies]
test = ["pytest"]

[tool.uv]
package = false

[tool.uv.sources]
x-lib = { path = "../libs/x lib" }
"""
X_LIB = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "x-lib"
version = "0.1.0"
"""
TEST = """import importlib.metadata
import pathlib
import re


def test_installed_from_the_lock():
    import x_lib

    assert x_lib.VALUE == 42
    lock = (pathlib.Path(__file__).parents[1] / "uv.lock").read_text()
    pinned = re.search(r'name = "iniconfig"\\nversion = "([^"]+)"', lock).group(1)
    assert importlib.metadata.version("iniconfig") == pinned
"""
POETRY = '[tool.poetry]\nname = "po"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\n'


def test_uv_lock_written_then_installed_from(client_factory: ClientFactory) -> None:
    client = client_factory(
        "svc",
        "po",
        "plain",
        files={
            "repo_config.yaml": f"extra_ca_certs: [{HOST_CA}]\n",
            "svc/devops/Dockerfile": UV_DOCKERFILE,
            "svc/pyproject.toml": SVC,
            "svc/tests/test_svc.py": TEST,
            "libs/x lib/pyproject.toml": X_LIB,
            "libs/x lib/src/x_lib/__init__.py": "VALUE = 42\n",
            "po/devops/Dockerfile": sync.template_text("devops/Dockerfile"),
            "po/pyproject.toml": POETRY,
        },
    )
    # Nothing to lock: one line, no container.
    plain = one_line_error(client.invoke("docker_update_lock", "--dir", "plain"))
    assert "supports uv" in plain
    # A tool the image lacks: one line, nothing written.
    assert client.invoke("docker_build_local_image", "--dir", "po").returncode == 0
    lacking = client.invoke("docker_update_lock", "--dir", "po")
    assert "has no `poetry`" in one_line_error(lacking)
    assert not (client.root / "po/poetry.lock").exists()
    # uv in the image: the lock comes back into the repo.
    locked = client.invoke("docker_update_lock", "--dir", "svc", "--if-missing", "build")
    assert locked.returncode == 0, locked.stdout + locked.stderr
    assert locked.stdout.split() == ["svc/uv.lock"]
    lock = (client.root / "svc/uv.lock").read_text()
    pinned = re.search(r'name = "iniconfig"\nversion = "([^"]+)"', lock)
    assert pinned and not pinned.group(1).startswith("1.")  # the base image has 1.1.1
    assert 'source = { directory = "../libs/x lib" }' in lock  # the path source, resolved
    # The image no longer matches the lock: refused, then rebuilt from it.
    stale = one_line_error(client.invoke("run_tests", "--dir", "svc"))
    assert "svc/uv.lock" in stale
    rebuilt = client.invoke("run_tests", "--dir", "svc", "--if-missing", "build")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "svc: 1 passed, 0 failed" in rebuilt.stdout
