"""check_libs, check_boundaries and the `deps` pictures over small workspaces on disk (no git)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from helpers.errors import UserError
from helpers.model import config, pyprojects, units
from helpers.ops.workspace import boundaries, graph_render, libs_collect, libs_fix
from tests.conftest import write


def workspace(root: Path, files: dict[str, str]) -> tuple[units.Workspace, tuple[str, ...]]:
    """Write `files` under `root` and build its workspace the way `units.load` does."""
    for rel, text in files.items():
        write(root / rel, text)
    names = tuple(sorted(files))
    parsed = pyprojects.read_all(root, names)
    return units.build(units.Inputs(root, names, parsed, {})), names


SVC = {"svc/changelog.txt": "# svc-1.0.0\n", "svc/devops/Dockerfile": "FROM x\n"}


# ---------------------------------------------------------------- check_libs


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^2.31", ">=2.31,<3"),
        ("^0.2.3", ">=0.2.3,<0.3"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1", ">=1,<2"),
        ("2.31.0", "==2.31.0"),
        ("*", ""),
        (">=1.0,<2", ">=1.0,<2"),
    ],
)
def test_poetry_constraints_mean_their_pep440_range(poetry: str, pep440: str) -> None:
    assert libs_collect.to_specifier(poetry, libs_collect.POETRY) == SpecifierSet(pep440)


def test_respec_keeps_name_extras_marker_and_spacing() -> None:
    assert libs_fix._respec("requests>=2.0", ">=2.31") == "requests>=2.31"
    assert libs_fix._respec("Requests[socks] >= 2.0 ; os_name=='nt'", "==2.31.0") == (
        "Requests[socks] ==2.31.0 ; os_name=='nt'"
    )
    assert libs_fix._respec("requests; python_version<'3.12'", ">=2.31") == (
        "requests>=2.31; python_version<'3.12'"
    )
    assert libs_fix._respec("requests (>=2.0)", ">=2.31") == "requests >=2.31"


PYPROJECT_A = """[project]
name = "acme-a"
version = "1.0.0"
dependencies = [
    "Requests>=2.28",  # the old one
    "acme-b",
    'PyYAML>=6.0 ; python_version >= "3.9"',
]
"""
PYPROJECT_B = """[tool.poetry]
name = "acme-b"

[tool.poetry.dependencies]
python = "^3.11"
requests = "^2.31"  # keep
pyyaml = { version = ">=6", extras = ["x"] }
"""


def test_mismatches_are_found_with_file_and_line_and_in_repo_names_skipped(
    tmp_path: Path,
) -> None:
    ws, files = workspace(
        tmp_path,
        {
            **SVC,
            "libs/a/pyproject.toml": PYPROJECT_A,
            "libs/b/pyproject.toml": PYPROJECT_B,
            "svc/requirements-dev.txt": "# tools\n-r base.txt\nrequests==2.31.0  # pinned\n",
        },
    )
    report = libs_collect.collect(ws, files, {})
    assert report.mismatched == ("requests",)  # pyyaml >=6.0 and >=6 mean the same
    rows = [(d.unit, d.spec, d.where) for d in report.rows()]
    assert rows == [
        ("libs/a", ">=2.28", "libs/a/pyproject.toml:5"),
        ("libs/b", "^2.31", "libs/b/pyproject.toml:6"),
        ("svc", "==2.31.0", "svc/requirements-dev.txt:3"),
    ]
    assert "acme-b" not in {d.library for d in report.decls}
    table = libs_collect.render_table(report).splitlines()
    assert table[0].split() == ["library", "unit", "specifier", "file:line"]
    assert table[1].split() == ["requests", "libs/a", ">=2.28", "libs/a/pyproject.toml:5"]
    assert report.exit_code == 1
    assert libs_collect.collect(ws, files, {}, scope=["svc"]).mismatched == ("requests",)
    unrelated = libs_collect.collect(ws, files, {}, scope=["libs/nothing"])
    assert unrelated.mismatched == () and unrelated.exit_code == 0


def test_fix_rewrites_to_the_pin_keeping_comments(tmp_path: Path) -> None:
    ws, files = workspace(
        tmp_path,
        {
            **SVC,
            "libs/a/pyproject.toml": PYPROJECT_A,
            "libs/b/pyproject.toml": PYPROJECT_B,
            "svc/requirements.txt": "requests==2.31.0  # pinned\n",
            "svc/devops/requirements-lock.txt": (
                "pyyaml==6.0.1 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\n"
            ),
        },
    )
    pins = {"requests": ">=2.31,<3", "pyyaml": "==6.0.1"}
    report = libs_collect.collect(ws, files, pins)
    assert report.mismatched == ("pyyaml", "requests")
    done = libs_fix.apply(tmp_path, libs_fix.plan(report))
    assert "libs/a/pyproject.toml:5: requests >=2.28 -> >=2.31,<3" in done
    assert not any(line.startswith("libs/b/pyproject.toml:6") for line in done)  # ^2.31 is it
    a = (tmp_path / "libs/a/pyproject.toml").read_text()
    assert '"Requests>=2.31,<3",  # the old one' in a
    assert "'PyYAML==6.0.1 ; python_version >= \"3.9\"'," in a
    b = (tmp_path / "libs/b/pyproject.toml").read_text()
    assert 'pyyaml = { version = "==6.0.1", extras = ["x"] }' in b
    assert 'requests = "^2.31"  # keep' in b
    assert (tmp_path / "svc/requirements.txt").read_text() == "requests>=2.31,<3  # pinned\n"
    assert (tmp_path / "svc/devops/requirements-lock.txt").read_text().splitlines()[:2] == [
        "pyyaml==6.0.1 \\",
        "    --hash=sha256:abc \\",
    ]
    assert libs_collect.collect(ws, files, pins).exit_code == 0


UV_LOCK = """version = 1

[[package]]
name = "acme-a"
version = "1.0.0"
source = { editable = "." }

[[package]]
name = "Requests"
version = "2.31.0"
source = { registry = "https://pypi.org/simple" }
"""


def test_lock_files_add_locked_versions_that_fix_leaves_to_the_lock_tool(tmp_path: Path) -> None:
    ws, files = workspace(
        tmp_path,
        {
            **SVC,
            "libs/a/pyproject.toml": PYPROJECT_A.replace("Requests>=2.28", "requests>=2.31,<3"),
            "libs/a/uv.lock": UV_LOCK,
            "svc/poetry.lock": '[[package]]\nname = "requests"\nversion = "2.28.2"\n',
        },
    )
    # By default only direct declarations count: the locks' versions are the images' own.
    assert libs_collect.collect(ws, files, {"requests": ">=2.31,<3"}).mismatched == ()
    report = libs_collect.collect(ws, files, {"requests": ">=2.31,<3"}, locks=True)
    assert report.mismatched == ("requests",)
    rows = [(d.unit, d.spec, d.where, d.style) for d in report.rows()]
    assert rows == [
        ("libs/a", ">=2.31,<3", "libs/a/pyproject.toml:5", libs_collect.PEP508),
        ("libs/a", "2.31.0", "libs/a/uv.lock:9", libs_collect.LOCK),
        ("svc", "2.28.2", "svc/poetry.lock:2", libs_collect.LOCK),
    ]
    assert "2.28.2 (locked) (pin differs)" in libs_collect.render_table(report)
    assert libs_fix.plan(report) == []
    assert [d.where for d in libs_collect.differing(report)] == ["svc/poetry.lock:2"]
    assert libs_collect.relock_hints(report) == [
        "svc/poetry.lock: locked versions differ; re-lock it (uv lock / poetry lock)"
    ]


def test_fix_without_a_pin_refuses_and_names_the_choices(tmp_path: Path) -> None:
    ws, files = workspace(
        tmp_path,
        {**SVC, "libs/a/pyproject.toml": PYPROJECT_A, "svc/requirements.txt": "requests\n"},
    )
    before = (tmp_path / "libs/a/pyproject.toml").read_text()
    with pytest.raises(UserError, match=r"needs a pin for requests.*>=2.28 \(libs/a\); \(any\)"):
        libs_fix.plan(libs_collect.collect(ws, files, {}))
    assert (tmp_path / "libs/a/pyproject.toml").read_text() == before


def test_bad_requirements_and_pyprojects_are_one_line_each(tmp_path: Path) -> None:
    ws, files = workspace(
        tmp_path,
        {
            **SVC,
            "libs/a/pyproject.toml": PYPROJECT_A,
            "svc/requirements.txt": "ok>=1\nrequests>>=2\n",
            "svc/devops/requirements.txt": "pkg ==\n",
        },
    )
    write(tmp_path / "libs/a/pyproject.toml", "[project\n")  # broken after the units were read
    report = libs_collect.collect(ws, files, {})
    assert report.exit_code == 2
    assert len(report.problems) == 3
    assert all("\n" not in p for p in report.problems)
    assert report.problems[0].startswith("libs/a/pyproject.toml: invalid TOML")
    assert any(
        p.startswith("svc/requirements.txt:2: invalid requirement 'requests>>=2'")
        for p in report.problems
    )


def test_invalid_pin_and_boundaries_config_are_rejected(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "library_pins: {requests: '2.31'}\n")
    with pytest.raises(UserError, match=r"repo_config.yaml:1: 'library_pins.requests'.*PEP 440"):
        config.load(tmp_path, ".", env={})
    write(tmp_path / "repo_config.yaml", "boundaries: {public: [api]}\n")
    with pytest.raises(UserError, match="public_modules"):
        config.load(tmp_path, ".", env={})
    write(tmp_path / "repo_config.yaml", "library_pins: {Ruamel.YAML: '>=0.18'}\n")
    assert config.load(tmp_path, ".", env={}).library_pins == {"ruamel-yaml": ">=0.18"}


# ---------------------------------------------------------------- check_boundaries


def boundary_repo(root: Path) -> tuple[units.Workspace, tuple[str, ...]]:
    return workspace(
        root,
        {
            **SVC,
            "svc/app/__init__.py": "",
            "svc/app/main.py": "import os\nfrom acme.core import api\nfrom acme.b.db import x\n",
            "libs/core/pyproject.toml": (
                '[project]\nname = "acme-core"\ndependencies = ["acme-b"]\n'
            ),
            "libs/core/src/acme/core/__init__.py": "",
            "libs/core/src/acme/core/api.py": (
                "from acme.b import api\nfrom acme.b import db\n\n\ndef g():\n    try:\n"
                "        import acme.b.db as d\n    except ImportError:\n        d = None\n"
            ),
            "libs/core/src/acme/core/impl.py": "from . import api\n",
            "libs/b/pyproject.toml": '[project]\nname = "acme-b"\n',
            "libs/b/src/acme/b/__init__.py": "",
            "libs/b/src/acme/b/api.py": "from acme.b.db import x\n",
            "libs/b/src/acme/b/db.py": "x = 1\n",
            "libs/b/tests/test_db.py": "def test(:\n",
            # another service with its own `app` package: its imports are its own
            "svc2/changelog.txt": "# svc2-1.0.0\n",
            "svc2/devops/Dockerfile": "FROM x\n",
            "svc2/app/__init__.py": "from app import main\n",
            "svc2/app/main.py": "import app.main\n",
        },
    )


def test_boundaries_internal_and_undeclared_with_file_and_line(tmp_path: Path) -> None:
    ws, files = boundary_repo(tmp_path)
    pkgs = boundaries.packages(ws, files)
    assert pkgs.names == {
        "acme.core": ("libs/core",),
        "acme.b": ("libs/b",),
        "app": ("svc", "svc2"),
    }
    public: dict[str, tuple[str, ...]] = dict.fromkeys(ws.units, ("api",))
    report = boundaries.check(ws, files, public)
    lines = boundaries.render(report).splitlines()
    assert lines == [
        "libs/core/src/acme/core/api.py:2: unit libs/core imports acme.b.db (allowed: acme.b.api)",
        "libs/core/src/acme/core/api.py:7: unit libs/core imports acme.b.db (allowed: acme.b.api)",
        "svc/app/main.py:2: unit svc imports acme.core.api of unit libs/core without declaring "
        'it; add "acme-core" to its pyproject dependencies or depends_on: [libs/core] to its '
        "repo_config.yaml",
        "svc/app/main.py:3: unit svc imports acme.b.db of unit libs/b without declaring it; "
        'add "acme-b" to its pyproject dependencies or depends_on: [libs/b] to its '
        "repo_config.yaml",
        "svc/app/main.py:3: unit svc imports acme.b.db (allowed: acme.b.api)",
    ]
    assert report.problems == (
        "libs/b/tests/test_db.py:1: does not parse as Python (invalid syntax); fix the syntax",
    )
    assert report.exit_code == 2
    assert report.edges() == {
        ("libs/core", "libs/b"): 2,
        ("svc", "libs/core"): 1,
        ("svc", "libs/b"): 2,
    }
    # an empty list makes a unit all public; the scope limits the importing units
    public["libs/b"] = ()
    only_core = boundaries.check(ws, files, public, scope=["libs/core"])
    assert only_core.findings == () and only_core.exit_code == 0


# ---------------------------------------------------------------- deps pictures


NODE = re.compile(r'^  (u\d+)(\(\["|\[")(.*)("\]\)|"\])$')
EDGE = re.compile(r"^  (u\d+) (-->|-\.->)(?:\|([^|]*)\|)? (u\d+)$")


def parse_mermaid(text: str) -> dict[str, object]:
    """Nodes (id -> label, shape), edges in order (from, to, dotted, label), classes, red links."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str, bool, str]] = []
    classes: dict[str, set[str]] = {}
    red: set[int] = set()
    for line in lines[1:]:
        if m := NODE.match(line):
            nodes[m.group(1)] = (m.group(3), "stadium" if m.group(2) == '(["' else "box")
        elif m := EDGE.match(line):
            dotted = m.group(2) == "-.->"
            edges.append((m.group(1), m.group(4), dotted, m.group(3) or ""))
        elif line.startswith("  class "):
            ids, cls = line.split()[1:]
            classes[cls] = set(ids.split(","))
        elif line.startswith("  linkStyle "):
            assert "stroke:#d32f2f" in line
            red = {int(i) for i in line.split()[1].split(",")}
        else:
            assert line.startswith("  classDef "), line
    return {"nodes": nodes, "edges": edges, "classes": classes, "red": red}


def test_mermaid_of_a_small_workspace_parses_back(tmp_path: Path) -> None:
    ws, _ = workspace(
        tmp_path,
        {
            **SVC,
            "svc/pkg/pyproject.toml": '[project]\nname = "inner"\ndependencies = ["core"]\n',
            "libs/core/pyproject.toml": '[project]\nname = "core"\n',
            'libs/my "lib"/pyproject.toml': '[project]\nname = "quoted"\n',
        },
    )
    marks = {"libs/core": "*", "svc/pkg": "(*)", "svc": "(*)"}
    violations = {("svc/pkg", "libs/core"): 2, ("libs/core", 'libs/my "lib"'): 1}
    pic = graph_render.picture(ws, marks, violations)
    got = parse_mermaid(graph_render.render(pic, "mermaid"))
    nodes = got["nodes"]
    assert isinstance(nodes, dict)
    by_label = {label: (node_id, shape) for node_id, (label, shape) in nodes.items()}
    assert set(by_label) == {"libs/core *", "libs/my #quot;lib#quot;", "svc (*)", "svc/pkg (*)"}
    assert by_label["svc (*)"][1] == "stadium" and by_label["libs/core *"][1] == "box"
    core, lib = by_label["libs/core *"][0], by_label["libs/my #quot;lib#quot;"][0]
    svc, pkg = by_label["svc (*)"][0], by_label["svc/pkg (*)"][0]
    assert got["edges"] == [
        (pkg, core, False, "2 boundary violations"),  # declared, and red
        (svc, pkg, True, "holds"),  # containment: dotted, not red
        (core, lib, True, "1 boundary violation"),  # undeclared import: dotted, red
    ]
    assert got["red"] == {0, 2}
    assert got["classes"] == {"changed": {core}, "affected": {svc, pkg}}


def test_focus_keeps_what_a_unit_reaches_and_other_formats_agree(tmp_path: Path) -> None:
    ws, _ = workspace(
        tmp_path,
        {
            **SVC,
            "libs/a/pyproject.toml": '[project]\nname = "a"\ndependencies = ["b"]\n',
            "libs/b/pyproject.toml": '[project]\nname = "b"\n',
        },
    )
    users = graph_render.picture(ws, focus="libs/b", reverse=True)
    assert list(users.kinds) == ["libs/a", "libs/b"]
    dot = graph_render.render(graph_render.picture(ws, {"libs/a": "*"}), "dot")
    assert '"libs/a" -> "libs/b";' in dot
    assert '"libs/a" [label="libs/a *", fillcolor="#ffb74d", style="filled"];' in dot
    text = graph_render.render(graph_render.picture(ws, {"libs/a": "*"}, legend="since x"), "text")
    assert text.splitlines()[0] == "libs/a * → libs/b"
    with pytest.raises(UserError, match="--format 'svg' is not one of"):
        graph_render.check_format("svg")


def test_transitive_locked_versions_of_independent_images_are_no_mismatch(tmp_path: Path) -> None:
    """Two images that declare the same thing lock what it pulls in at their own versions."""
    ws, files = workspace(
        tmp_path,
        {
            **SVC,
            "svc/pyproject.toml": '[project]\nname = "svc"\ndependencies = ["fastapi>=0.110"]\n',
            "svc/uv.lock": '[[package]]\nname = "starlette"\nversion = "0.37.2"\n',
            "api/pyproject.toml": '[project]\nname = "api"\ndependencies = ["fastapi>=0.110"]\n',
            "api/uv.lock": '[[package]]\nname = "starlette"\nversion = "0.38.0"\n',
            "job/changelog.txt": "# job-1.0.0\n",
            "job/devops/Dockerfile": "FROM x\n",
            "job/requirements.in": "fastapi>=0.110\n",
            "job/requirements.txt": "fastapi==0.111.0\nstarlette==0.36.0\n",
        },
    )
    assert libs_collect.collect(ws, files, {}).mismatched == ()
    assert libs_collect.collect(ws, files, {}, locks=True).mismatched == ("fastapi", "starlette")
    job = [d for d in libs_collect.collect(ws, files, {}).decls if d.unit == "job"]
    assert [(d.library, d.where) for d in job] == [("fastapi", "job/requirements.in:1")]


def test_fix_refuses_a_read_only_file_and_changes_nothing(tmp_path: Path) -> None:
    ws, files = workspace(
        tmp_path,
        {**SVC, "libs/a/pyproject.toml": PYPROJECT_A, "svc/requirements.txt": "requests==2.0\n"},
    )
    (tmp_path / "svc/requirements.txt").chmod(0o444)
    before = (tmp_path / "libs/a/pyproject.toml").read_text()
    report = libs_collect.collect(ws, files, {"requests": ">=2.31,<3"})
    with pytest.raises(UserError, match=r"^svc/requirements.txt: read-only, so check_libs --fix"):
        libs_fix.apply(tmp_path, libs_fix.plan(report))
    assert (tmp_path / "libs/a/pyproject.toml").read_text() == before
    assert (tmp_path / "svc/requirements.txt").read_text() == "requests==2.0\n"
