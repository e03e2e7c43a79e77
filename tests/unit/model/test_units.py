"""Units and their declared edges, built from plain data (no git, no files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.errors import UserError
from helpers.model import pyprojects, units

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
    assert rule.matches(".github/workflows/ci.yml") and rule.matches("helpers_root")
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
