"""check_libs, check_boundaries, `deps --format` and `info` counts in real client repos.

The client repos have helpers as a real git submodule, src-layout packages that depend
on each other by name and through a poetry path source, requirements files, and a
runnable dir whose path has a space. These tasks need git, not the container engine.
"""

from __future__ import annotations

import json
import subprocess

from tests.conftest import git, write
from tests.integration.conftest import Client, ClientFactory, one_line_error

CORE = """[project]
name = "acme-core"
version = "1.0.0"
dependencies = [
    "requests>=2.31,<3",  # http
    "PyYAML>=6.0",
]

[project.optional-dependencies]
test = ["pytest>=8"]
"""
STORE = """[tool.poetry]
name = "acme-store"
version = "0.3.0"

[tool.poetry.dependencies]
python = "^3.11"
requests = "^2.28"  # old, from the fork
acme-core = { path = "../core", develop = true }

[tool.poetry.group.test.dependencies]
pytest = ">=8"
"""
SVC = """[project]
name = "svc-app"
version = "1.0.0"
dependencies = ["acme-core", "pyyaml>=6"]

[tool.uv.sources]
acme-core = { path = "../libs/core" }
"""
FILES = {
    "libs/core/pyproject.toml": CORE,
    "libs/core/src/acme_core/__init__.py": "",
    "libs/core/src/acme_core/api.py": "def get():\n    return 1\n",
    "libs/core/src/acme_core/_wire.py": "TIMEOUT = 3\n",
    "libs/store/pyproject.toml": STORE,
    "libs/store/src/acme_store/__init__.py": "",
    "libs/store/src/acme_store/api.py": "from acme_core import api\n\nget = api.get\n",
    "libs/store/src/acme_store/db.py": "ROWS: list[int] = []\n",
    "svc/pyproject.toml": SVC,
    "svc/src/svc_app/__init__.py": "",
    "svc/src/svc_app/main.py": "import acme_core.api\nfrom acme_store import api\n",
    "svc/devops/requirements.txt": "# runtime\nrequests==2.31.0  # pinned for the image\nuvicorn\n",
    "web app/changelog.txt": "# web-app-0.1.0\n- 2026-11-22\n- first\n",
    "web app/requirements-dev.txt": "requests>=2.31,<3\n",
    "web app/server/__init__.py": "",
    "web app/server/main.py": "print('hi')\n",
}


def run_ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def columns(table: list[str]) -> list[list[str]]:
    """A table's rows cut at its header's column starts (cells may hold spaces)."""
    starts = [table[0].index(title) for title in table[0].split()] + [None]
    return [[line[a:b].strip() for a, b in zip(starts, starts[1:])] for line in table[1:]]


def client(client_factory: ClientFactory, **extra: str) -> Client:
    return client_factory("svc", "web app", files={**FILES, **extra})


def test_check_libs_finds_a_mismatch_and_fixes_it_to_the_pin(
    client_factory: ClientFactory,
) -> None:
    c = client(client_factory)
    table = run_ok(c.invoke("check_libs"), 1).splitlines()
    assert table[0].split() == ["library", "unit", "specifier", "file:line"]
    rows = columns(table)
    assert rows == [
        ["requests", "libs/core", ">=2.31,<3", "libs/core/pyproject.toml:5"],
        ["requests", "libs/store", "^2.28", "libs/store/pyproject.toml:7"],
        ["requests", "svc", "==2.31.0", "svc/devops/requirements.txt:2"],
        ["requests", "web app", ">=2.31,<3", "web app/requirements-dev.txt:1"],
    ]  # pytest >=8 twice, PyYAML>=6.0 and pyyaml>=6 agree: not listed

    refused = one_line_error(c.invoke("check_libs", "--fix"))
    assert "--fix needs a pin for requests" in refused
    assert ">=2.31,<3 (libs/core, web app); ^2.28 (libs/store); ==2.31.0 (svc)" in refused
    assert git(c.root, "status", "--porcelain") == ""

    write(c.root / "repo_config.yaml", "library_pins:\n  requests: '>=2.31,<3'\n")
    c.commit("pin requests")
    fixed = run_ok(c.invoke("check_libs", "--fix")).splitlines()
    assert fixed == [
        "libs/store/pyproject.toml:7: requests ^2.28 -> >=2.31,<3",
        "svc/devops/requirements.txt:2: requests ==2.31.0 -> >=2.31,<3",
    ]
    diff = git(c.root, "diff", "-U0", "--no-color")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == [
        '-requests = "^2.28"  # old, from the fork',
        '+requests = ">=2.31,<3"  # old, from the fork',
        "-requests==2.31.0  # pinned for the image",
        "+requests>=2.31,<3  # pinned for the image",
    ]
    assert run_ok(c.invoke("check_libs")) == ""
    assert list((c.root / "svc/devops").glob(".*.tmp")) == []


def test_check_boundaries_reports_internal_and_undeclared_imports(
    client_factory: ClientFactory,
) -> None:
    c = client(
        client_factory,
        **{
            "repo_config.yaml": "boundaries: {public_modules: [api]}\n",
            "libs/store/src/acme_store/db.py": "from acme_core._wire import TIMEOUT\n",
            "web app/server/main.py": "import json\n\nfrom acme_store.db import ROWS\n",
        },
    )
    out = run_ok(c.invoke("check_boundaries"), 1).splitlines()
    assert out == [
        "libs/store/src/acme_store/db.py:1: unit libs/store imports acme_core._wire "
        "(allowed: acme_core.api)",
        "svc/src/svc_app/main.py:2: unit svc imports acme_store.api of unit libs/store without "
        'declaring it; add "acme-store" to its pyproject dependencies or depends_on: '
        "[libs/store] to its repo_config.yaml",
        "web app/server/main.py:3: unit web app imports acme_store.db of unit libs/store without "
        'declaring it; add "acme-store" to its pyproject dependencies or depends_on: '
        "[libs/store] to its repo_config.yaml",
        "web app/server/main.py:3: unit web app imports acme_store.db (allowed: acme_store.api)",
    ]

    info = run_ok(c.invoke("info")).splitlines()
    table = info[: info.index("")]
    assert table[0].split()[-1] == "violations"  # no library_pins: no mismatches column
    counts = {row[0]: row[-1] for row in columns(table)}
    assert counts == {"libs/core": "0", "libs/store": "1", "svc": "1", "web app": "2"}

    # only the units affected since HEAD: a change in `web app` reaches nothing else
    write(c.root / "web app/server/extra.py", "from acme_core import _wire\n")
    scoped = run_ok(c.invoke("check_boundaries", "--changed-since", "HEAD"), 1).splitlines()
    assert [line.split(":")[0] for line in scoped] == ["web app/server/extra.py"] * 2 + [
        "web app/server/main.py"
    ] * 2
    assert (
        "1 unit affected since HEAD"
        in c.invoke("check_boundaries", "--changed-since", "HEAD").stderr
    )

    # a file that does not parse is one line with file:line, and the rest is still checked
    write(c.root / "libs/core/src/acme_core/broken.py", "x = 1\ndef f(:\n")
    result = c.invoke("check_boundaries")
    assert result.returncode == 2
    assert "error: libs/core/src/acme_core/broken.py:2: does not parse as Python" in result.stderr
    assert result.stdout.count("\n") == 6  # the four above and the new file's two


def test_a_clean_repo_passes_both_checks_and_info_counts_zero(
    client_factory: ClientFactory,
) -> None:
    c = client(
        client_factory,
        **{
            "repo_config.yaml": (
                "# hygiene\nlibrary_pins: {requests: '>=2.31,<3'}\n"
                "boundaries:\n  public_modules: [api]\n"
            ),
            "libs/store/pyproject.toml": STORE.replace('"^2.28"', '">=2.31,<3"'),
            "svc/pyproject.toml": SVC.replace('"acme-core",', '"acme-core", "acme-store",'),
            "svc/devops/requirements.txt": "requests>=2.31,<3\nuvicorn\n",
            # a unit may widen its own interface: all of acme_core is public to its users
            "libs/core/repo_config.yaml": "boundaries: {public_modules: []}\n",
            "libs/store/src/acme_store/db.py": "from acme_core._wire import TIMEOUT\n",
        },
    )
    libs = c.invoke("check_libs")
    assert run_ok(libs) == "" and "all consistent" in libs.stderr
    assert run_ok(c.invoke("check_boundaries")) == ""
    info = run_ok(c.invoke("info")).splitlines()
    assert info[0].split()[-2:] == ["mismatches", "violations"]
    counts = {line.split()[0]: line.split()[-2:] for line in info[1:] if line.startswith("libs/")}
    assert counts == {"libs/core": ["0", "0"], "libs/store": ["0", "0"]}
    mermaid = run_ok(c.invoke("deps", "--format", "mermaid")).splitlines()
    assert mermaid[0] == "flowchart LR" and not any("linkStyle" in line for line in mermaid)


def test_deps_json_marks_changes_and_violations(client_factory: ClientFactory) -> None:
    c = client(
        client_factory,
        **{
            "repo_config.yaml": "boundaries: {public_modules: [api]}\n",
            "libs/store/src/acme_store/db.py": "from acme_core._wire import TIMEOUT\n",
        },
    )
    write(c.root / "libs/core/src/acme_core/api.py", "def get():\n    return 2\n")
    data = json.loads(run_ok(c.invoke("deps", "--format", "json", "--since", "HEAD")))
    marks = {u["path"]: u["mark"] for u in data["units"]}
    assert marks == {
        "libs/core": "*",
        "libs/store": "(*)",
        "svc": "(*)",
        "web app": "",
    }
    edges = {(e["from"], e["to"]): (e["kind"], e["violations"]) for e in data["edges"]}
    assert edges[("libs/store", "libs/core")] == ("depends", 1)
    assert edges[("svc", "libs/store")] == ("import", 1)  # imported, not declared
    assert edges[("svc", "libs/core")] == ("depends", 0)
    dot = run_ok(c.invoke("deps", "--format", "dot", "--since", "HEAD"))
    assert '"libs/store" -> "libs/core" [color="#d32f2f"' in dot


def test_bad_input_is_one_line(client_factory: ClientFactory) -> None:
    c = client(client_factory)
    assert "check_boundaries is not configured" in one_line_error(c.invoke("check_boundaries"))
    write(c.root / "repo_config.yaml", "library_pins: {requests: 'latest'}\n")
    assert "'library_pins.requests' = 'latest' is not a PEP 440" in one_line_error(
        c.invoke("check_libs")
    )
    write(c.root / "repo_config.yaml", "library_pins: {}\n")
    write(c.root / "libs/store/pyproject.toml", "[tool.poetry\n")
    assert "libs/store/pyproject.toml: invalid TOML" in one_line_error(c.invoke("check_libs"))
    write(c.root / "libs/store/pyproject.toml", STORE)
    write(c.root / "svc/devops/requirements.txt", "requests=2.31\n")
    bad = c.invoke("check_libs", "--fix")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "error: svc/devops/requirements.txt:1: invalid requirement 'requests=2.31' "
        + bad.stderr.split("'requests=2.31' ", 1)[1].splitlines()[0],
        "error: --fix changed nothing: fix the bad input above first",
    ]
