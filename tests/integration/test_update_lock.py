"""docker_update_lock on the real engine: uv inside the image (the generated Dockerfile
installs it: `build_args: {LOCK_TOOLS: uv}`), the lock written back, the next build
installing from it. The repo is a uv workspace (a virtual root; members svc and
libs/core, svc depending on core as `workspace = true` and on a non-member by a uv path
source), so uv keeps the one lock at the workspace root. With `requires-python =
">=3.9"` uv forks the resolution (iniconfig dropped 3.9), so the lock holds two
iniconfig versions: the build installs the one for the image's Python. Needs PyPI from
inside containers, through the host's CA bundle (`extra_ca_certs`), as ENGINE.md
describes."""

from __future__ import annotations

import re

import pytest

from helpers.ops.adoption import sync
from tests.integration.conftest import ClientFactory, one_line_error

pytestmark = pytest.mark.integration

HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
WORKSPACE = """[tool.uv.workspace]
members = ["svc", "libs/core"]
"""
SVC = """[project]
name = "svc"
version = "0.3.0"
requires-python = ">=3.9"
dependencies = ["core", "x-lib"]

[project.optional-dependencies]
test = ["pytest"]

[tool.uv]
package = false

[tool.uv.sources]
core = { workspace = true }
x-lib = { path = "../libs/x lib" }
"""
CORE = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "core"
version = "0.2.0"
requires-python = ">=3.9"
dependencies = ["iniconfig>=2"]
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
import tomllib


def test_installed_from_the_lock():
    import core
    import x_lib

    assert x_lib.VALUE == 42 and core.ANSWER == 42
    lock = tomllib.loads((pathlib.Path(__file__).parents[2] / "uv.lock").read_text())
    for_here = [
        p["version"]
        for p in lock["package"]
        if p["name"] == "iniconfig"
        and "python_full_version >= '3.10'" in p.get("resolution-markers", [])
    ]
    assert importlib.metadata.version("iniconfig") == for_here[0]
"""
POETRY = '[tool.poetry]\nname = "po"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\n'


@pytest.mark.slow  # PyPI from inside builds: ~35 s alone, past a minute on a busy engine
def test_uv_lock_written_then_installed_from(client_factory: ClientFactory) -> None:
    client = client_factory(
        "svc",
        "po",
        "plain",
        files={
            "repo_config.yaml": f"extra_ca_certs: [{HOST_CA}]\n",
            "svc/devops/Dockerfile": sync.template_text("devops/Dockerfile"),
            "svc/repo_config.yaml": "build_args: {LOCK_TOOLS: uv}\n",
            "svc/pyproject.toml": SVC,
            "svc/tests/test_svc.py": TEST,
            "pyproject.toml": WORKSPACE,
            "libs/core/pyproject.toml": CORE,
            "libs/core/src/core/__init__.py": "ANSWER = 42\n",
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
    assert "has no `poetry`" in (line := one_line_error(lacking))
    assert "add `build_args: {LOCK_TOOLS: poetry}` to po/repo_config.yaml" in line
    assert not (client.root / "po/poetry.lock").exists()
    # uv in the image: the lock comes back into the repo, at the workspace root.
    locked = client.invoke("docker_update_lock", "--dir", "svc", "--if-missing", "build")
    assert locked.returncode == 0, locked.stdout + locked.stderr
    assert locked.stdout.split() == ["uv.lock"]
    assert not (client.root / "svc/uv.lock").exists()
    lock = (client.root / "uv.lock").read_text()
    versions = re.findall(r'name = "iniconfig"\nversion = "([^"]+)"', lock)
    assert len(versions) == 2 and "resolution-markers" in lock  # forked on requires-python
    assert not any(v.startswith("1.") for v in versions)  # the base image has 1.1.1
    assert 'source = { directory = "libs/x lib" }' in lock  # the path source, resolved
    assert 'source = { editable = "libs/core" }' in lock  # the member
    # The image no longer matches the lock: refused, then rebuilt from it.
    stale = one_line_error(client.invoke("run_tests", "--dir", "svc"))
    assert ".helpers/constraints.txt" in stale
    rebuilt = client.invoke("run_tests", "--dir", "svc", "--if-missing", "build")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "svc: 1 passed, 0 failed" in rebuilt.stdout
    # A requirement the lock contradicts: the build fails, and pip's own lines say which.
    pyproject = client.root / "libs/core/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"iniconfig>=2"', '"iniconfig<2"'))
    clash = client.invoke("docker_build_local_image", "--dir", "svc")
    assert clash.returncode == 1, clash.stdout + clash.stderr
    assert "The conflict is caused by:" in clash.stderr
    assert "The user requested (constraint) iniconfig==" in clash.stderr
    assert "re-lock it with invoke docker_update_lock" in clash.stderr
