"""A uv workspace whose root is the app (the shape of lmmx/uv-ws-demo) on the real engine:
the root project depends on a member, which depends on another, both under `packages/`
and built by hatchling. The root becomes the runnable dir; its image installs the members
(editable, hatchling from the index in pip's isolated build), its tests import them, and
an edit to a member's code reaches the next run through the mount, without a rebuild."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import write
from tests.integration.conftest import ClientFactory

pytestmark = pytest.mark.integration

HATCH = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'


def _member(name: str, deps: list[str]) -> str:
    quoted = ", ".join(f'"{d}"' for d in deps)
    sources = "".join(f"[tool.uv.sources]\n{d} = {{ workspace = true }}\n" for d in deps)
    return (
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{quoted}]\n'
        f"{sources}{HATCH}"
    )


ROOT = _member("app", ["tpt"]) + '[tool.uv.workspace]\nmembers = ["packages/*"]\n'
TEST = """from bolded import make_text_bold
from tpt.main import two_plus_two


def test_the_chain_of_members():
    assert two_plus_two() == make_text_bold(4) == "{want}"
"""
FILES = {
    "pyproject.toml": ROOT,
    "src/app/__init__.py": "",
    "packages/tpt/pyproject.toml": _member("tpt", ["bolded"]),
    "packages/tpt/src/tpt/__init__.py": "",
    "packages/tpt/src/tpt/main.py": "from bolded import make_text_bold\n\n\n"
    "def two_plus_two() -> str:\n    return make_text_bold(2 + 2)\n",
    "packages/bolded/pyproject.toml": _member("bolded", []),
    "packages/bolded/src/bolded/__init__.py": "from bolded.main import make_text_bold\n",
    "packages/bolded/src/bolded/main.py": "def make_text_bold(text) -> str:\n"
    '    return f"**{text}**"\n',
    "tests/test_app.py": TEST.format(want="**4**"),
}


def _image_id(ref: str) -> str:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.mark.slow  # a build that fetches hatchling into pip's isolated builds, twice
def test_a_root_app_of_a_uv_workspace_imports_its_members(client_factory: ClientFactory) -> None:
    client = client_factory(files=FILES)
    made = client.invoke("create_runnable_dir", ".")
    assert made.returncode == 0, made.stdout + made.stderr
    client.commit("the root app is runnable")
    run = client.script("dev_scripts/main_pytest.py", "--if-missing", "build")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "ok     .  1 passed, 0 failed" in run.stdout
    ref = f"{client.name}:local-tester-0.1.0"
    built = _image_id(ref)
    assert built

    main = "packages/bolded/src/bolded/main.py"
    write(client.root / main, 'def make_text_bold(text) -> str:\n    return f"__{text}__"\n')
    write(client.root / "tests/test_app.py", TEST.format(want="__4__"))
    edited = client.invoke("run_tests")  # a code edit: no stale refusal, no rebuild
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert ".: 1 passed, 0 failed" in edited.stdout and _image_id(ref) == built
