"""Units and their declared edges, built from plain data (no git, no files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers.errors import UserError
from helpers.model import pyprojects, units
from tests.shapes import POLY_PROJECT, POLY_ROOT

RUNNABLE_FILES = (
    "changelog.txt",
    "devops/Dockerfile",
    "svc/changelog.txt",
    "svc/devops/Dockerfile",
)


def toml(text: str) -> dict[str, Any]:
    return pyprojects.parse(text, "x/pyproject.toml")


def build(pyprojects: dict[str, str], files: tuple[str, ...] = (), **kw: Any) -> units.Workspace:
    all_files = (*RUNNABLE_FILES, *files, *(f"{p}/pyproject.toml" for p in pyprojects))
    parsed = {path: toml(text) for path, text in pyprojects.items()}
    return units.build(units.Inputs(Path("/r"), all_files, parsed, {}, **kw))


def test_names_are_normalized_and_markers_and_extras_stripped() -> None:
    ws = build(
        {
            "libs/core": '[project]\nname = "My.Core_Lib"\nversion = "1.2.0"\n',
            "svc/app": '[project]\nname = "app"\n'
            "dependencies = [\"my-core-lib[fast]>=1; python_version>'3.8'\"]\n"
            'optional-dependencies = {test = ["app[dev]"]}\n',
        }
    )
    assert ws.units["libs/core"] == units.Unit("libs/core", units.PACKAGE, "my-core-lib", "1.2.0")
    assert ws.deps["svc/app"] == ("libs/core",)  # and no self-edge from app[dev]
    assert ws.find("My_Core.Lib") == "libs/core"
    assert ws.find("./libs/core/") == "libs/core"


def test_uv_sources_poetry_paths_and_dependency_groups() -> None:
    ws = build(
        {
            "libs/a": '[project]\nname = "a"\n',
            "libs/b": '[project]\nname = "b"\n',
            "libs/c": '[project]\nname = "c"\n',
            "svc/app": '[project]\nname = "app"\n'
            '[tool.uv.sources]\nanything = { path = "../../libs/a" }\n'
            '[dependency-groups]\ndev = ["c", {include-group = "x"}]\n',
            "svc/old": '[tool.poetry.dependencies]\npython = "^3.11"\n'
            'b = { path = "../../libs/b", develop = true }\n',
        }
    )
    assert ws.deps["svc/app"] == ("libs/a", "libs/c")
    assert ws.deps["svc/old"] == ("libs/b",)
    assert ws.units["svc/old"].project == ""


def test_owner_within_and_kinds() -> None:
    ws = build({"svc/pkg": '[project]\nname = "p"\n', "svc/pkg/sub": "", "libs/x": ""})
    assert ws.runnable() == [".", "svc"]
    assert ws.owner("svc/pkg/sub/mod.py") == "svc/pkg/sub"
    assert ws.owner("svc/pkg/mod.py") == "svc/pkg"
    assert ws.owner("svc/devops/Dockerfile") == "svc"
    assert ws.owner("README.md") == "."
    assert ws.within == {"svc/pkg": "svc", "svc/pkg/sub": "svc", "libs/x": "."}


def test_global_rule_defaults_helpers_checkout_and_configured() -> None:
    ws = build({}, helpers_path="helpers_root")
    rule = ws.globals
    assert not rule.explicit
    assert rule.matches(".github/workflows/helpers.yml") and rule.matches("helpers_root")
    assert not rule.matches(".github/workflows/docs.yml") and rule.matches("conftest.py")
    assert rule.matches("tasks.py") and not rule.matches("svc/tasks.py")
    configured = build({}, global_inputs=("ci/**", "*.cfg")).globals
    assert configured.explicit
    assert configured.matches("ci/a/b.yml") and configured.matches("setup.cfg")
    assert not configured.matches("tasks.py")


def test_depends_on_outside_the_repo_is_refused() -> None:
    inputs = units.Inputs(
        Path("/r"), RUNNABLE_FILES, {}, {"svc": (("../elsewhere",), "svc/repo_config.yaml")}
    )
    with pytest.raises(UserError, match=r"svc/repo_config.yaml: depends_on '../elsewhere' must"):
        units.build(inputs)


def test_invalid_toml_names_the_file_and_line() -> None:
    with pytest.raises(UserError, match=r"^x/pyproject.toml: invalid TOML \(.*line 2.*\); fix"):
        toml('[project]\nname = "unterminated\n')


def test_unknown_unit_suggests_close_matches() -> None:
    ws = build({"libs/core": '[project]\nname = "core"\n'})
    with pytest.raises(UserError, match=r"no unit 'libs/cor' .*did you mean libs/core\?"):
        ws.find("libs/cor")


def test_a_pinned_dependency_is_that_unit_not_every_package_of_its_name() -> None:
    """A stray package named like the dependency (here inside its src/) must not ride along."""
    ws = build(
        {
            "libs/core": '[project]\nname = "core"\n',
            "libs/core/src/core": '[project]\nname = "core"\n',  # a mistaken second "core"
            "svc/uv": '[project]\nname = "uv-app"\ndependencies = ["core"]\n'
            '[tool.uv.sources]\ncore = { path = "../../libs/core" }\n',
            "svc/ref": '[project]\nname = "ref-app"\n'
            'dependencies = ["core @ file:///r/libs/core"]\n',
            "svc/name": '[project]\nname = "name-app"\ndependencies = ["core"]\n',
        }
    )
    assert ws.deps["svc/uv"] == ("libs/core",)
    assert ws.deps["svc/ref"] == ("libs/core",)
    assert ws.deps["svc/name"] == ("libs/core", "libs/core/src/core")  # by name: ambiguous


POLY_FILES = (
    "bases/example/greet_api/__init__.py",
    "components/example/greeting/__init__.py",
    "components/example/log/core.py",
    "components/example/db/src/example/db/__init__.py",
    "projects/api/changelog.txt",
    "projects/api/devops/Dockerfile",
)


def _polylith() -> units.Workspace:
    parsed = {
        ".": toml(POLY_ROOT),
        "projects/api": toml(POLY_PROJECT),
        "components/example/db": toml('[tool.poetry]\nname = "db"\nversion = "0.1.0"\n'),
    }
    files = (*POLY_FILES, "pyproject.toml", *(f"{p}/pyproject.toml" for p in parsed if p != "."))
    return units.build(units.Inputs(Path("/r"), files, parsed, {}, runnable=("projects/api",)))


def test_poetry_packages_from_elsewhere_are_edges_or_watched() -> None:
    ws = _polylith()
    api = ws.units["projects/api"]
    assert (api.kind, api.project) == (units.RUNNABLE, "my-fastapi-project")
    assert ws.units["."].version == "1.0.0"
    # A component that is a package is an edge; plain component and base dirs are
    # watched (a missing one is nothing); the root's own packages are its own files.
    assert ws.deps["projects/api"] == ("components/example/db",)
    assert ws.deps["."] == ()
    assert sorted(ws.watches) == [
        ("bases/example/greet_api", "projects/api"),
        ("components/example/greeting", "projects/api"),
        ("components/example/log", "projects/api"),
    ]


def test_a_component_edit_changes_the_project_that_packages_it() -> None:
    from helpers.ops.workspace import changes

    by_unit, global_files, _ = changes.classify(_polylith(), ["components/example/log/core.py"])
    assert by_unit == {
        ".": ["components/example/log/core.py"],
        "projects/api": ["components/example/log/core.py"],
    }
    assert global_files == []


def test_poetry_package_roots_are_import_roots() -> None:
    data = toml(POLY_PROJECT)
    assert pyprojects.import_roots_of("projects/api", data) == ["components", "bases"]
    assert pyprojects.import_roots_of(".", toml(POLY_ROOT)) == ["bases", "components"]
    assert pyprojects.import_roots_of("x", toml('[project]\nname = "x"\n')) == []


def test_a_pyproject_that_is_not_utf8_is_bad_input_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc/pyproject.toml").write_bytes(b'[project]\nname = "x"\n# caf\xe9\n')
    with pytest.raises(UserError) as err:
        pyprojects.read_all(tmp_path, ["svc/pyproject.toml"])
    assert err.value.message.startswith("svc/pyproject.toml:3: not UTF-8 text (byte 0xe9")
    assert err.value.message.endswith("save the file as UTF-8")


def test_a_closure_view_holds_the_edges_one_dir_needs_and_only_those() -> None:
    projects = {
        "svc": '[project]\nname = "svc"\ndependencies = ["a"]\n',
        "svc/pkg": '[project]\nname = "held"\ndependencies = ["c"]\n',
        "libs/a": '[project]\nname = "a"\ndependencies = ["b"]\n',
        "libs/b": '[project]\nname = "b"\n',
        "libs/c": '[project]\nname = "c"\n',
        "libs/other": '[project]\nname = "other"\ndependencies = ["b"]\n',
    }
    parsed = {path: toml(text) for path, text in projects.items()}
    files = (*RUNNABLE_FILES, *(f"{p}/pyproject.toml" for p in projects))
    broken = {"libs/other": (("no/such/dir",), "libs/other/repo_config.yaml")}
    inputs = units.Inputs(Path("/r"), files, parsed, broken)
    with pytest.raises(UserError, match="libs/other/repo_config.yaml: depends_on 'no/such/dir'"):
        units.build(inputs)  # the whole repo's view meets the broken unit
    view = units.build(inputs, closure_of="svc")  # one dir's view never does
    assert set(view.deps) == {"svc", "svc/pkg", "libs/a", "libs/b", "libs/c"}
    assert view.deps["svc"] == ("libs/a",) and view.deps["libs/a"] == ("libs/b",)
    assert view.deps["svc/pkg"] == ("libs/c",)  # a package the dir holds is a seed
    assert set(view.units) == {".", *projects}  # every unit is still known by name
    whole = units.build(units.Inputs(Path("/r"), files, parsed, {}))
    assert all(whole.deps[path] == edges for path, edges in view.deps.items())


def test_a_dir_view_walks_only_the_dirs_its_closure_spans(tmp_path: Path) -> None:
    from helpers.effects import commands
    from tests.conftest import git, make_runnable, write

    make_runnable(tmp_path, "svc")
    write(tmp_path / "svc/pyproject.toml", '[project]\nname = "svc"\ndependencies = ["a"]\n')
    for name in ("a", "other"):
        write(tmp_path / f"libs/{name}/pyproject.toml", f'[project]\nname = "{name}"\n')
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    walks: list[tuple[str, ...]] = []

    def recording(argv: Sequence[str], **kw: Any) -> commands.Result:
        if "--others" in argv:
            walks.append(tuple(argv[argv.index("--") + 1 :]) if "--" in argv else ("<all>",))
        return commands.run(argv, **kw)

    first = units.load_view(tmp_path, "svc", recording)
    assert walks == [("<all>",)] and set(first.deps) == {"svc", "libs/a"}
    write(tmp_path / "libs/other/new.py")  # untracked, outside the closure
    write(tmp_path / "libs/a/new.py")  # untracked, inside it
    again = units.load_view(tmp_path, "svc", recording)
    assert walks[1] == ("libs/a", "svc")  # git walked those two dirs only
    assert again.untracked == ("libs/a/new.py",) and "libs/a/new.py" in again.files
    write(tmp_path / "svc/pyproject.toml", '[project]\nname = "svc"\ndependencies = ["other"]\n')
    moved = units.load_view(tmp_path, "svc", recording)  # past the dirs walked: all again
    assert walks[2:] == [("libs/a", "svc"), ("<all>",)]
    assert set(moved.deps) == {"svc", "libs/other"} and "libs/other/new.py" in moved.files
    assert units.load_view(tmp_path, "svc", recording).deps == moved.deps
    assert walks[4] == ("libs/other", "svc")


def test_a_dir_view_walks_the_brick_dirs_its_poetry_packages_take(tmp_path: Path) -> None:
    from tests.conftest import git, make_runnable, write

    make_runnable(tmp_path, "projects/app")  # polylith's shape: bricks are plain dirs
    packages = '[{include = "ex/greet", from = "../../components"}]'
    write(
        tmp_path / "projects/app/pyproject.toml",
        f'[tool.poetry]\nname = "app"\nversion = "1.0.0"\npackages = {packages}\n',
    )
    write(tmp_path / "components/ex/greet/core.py", "X = 1\n")
    write(tmp_path / "components/ex/other/core.py", "Y = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    units.load_view(tmp_path, "projects/app")  # the whole tree, once
    write(tmp_path / "components/ex/greet/new.py")
    write(tmp_path / "components/ex/other/new.py")
    view = units.load_view(tmp_path, "projects/app")
    assert view.untracked == ("components/ex/greet/new.py",)  # the brick it takes, not another
