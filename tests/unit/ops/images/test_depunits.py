"""In-repo dependency units in a build context: which units, in what order, which requirements."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from helpers import events
from helpers.errors import UserError
from helpers.model import pyprojects, units
from helpers.ops.adoption import scaffold, sync
from helpers.ops.images import build_context, depunits, install_inputs, requirements
from tests.conftest import make_runnable, write


def pyproject(name: str, deps: list[str], extra: str = "") -> str:
    quoted = ", ".join(f'"{d}"' for d in deps)
    return f'[project]\nname = "{name}"\nversion = "1.0.0"\ndependencies = [{quoted}]\n{extra}'


def repo(tmp_path: Path, files: dict[str, str]) -> units.Workspace:
    """A repo on disk (in a dir with a space), read the way `deps` reads it, minus git."""
    root = tmp_path / "my repo"
    for rel, text in files.items():
        write(root / rel, text)
    listed = tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()))
    parsed = pyprojects.read_all(root, listed)
    return units.build(units.Inputs(root, listed, parsed, {}))


A_URL = "file:///somewhere/libs/a"
FILES = {
    "libs/a/pyproject.toml": pyproject("pkg-a", ["requests>=2", "rich[jupyter]"]),
    "libs/a/src/pkg_a/__init__.py": "",
    "libs/a/.dockerignore": "docs\n",
    "libs/a/docs/big.md": "x",
    "libs/c/pyproject.toml": pyproject(
        "pkg-c", ["pkg-a[speed]"], '[tool.uv.sources]\npkg-a = { path = "../a" }\n'
    ),
    "libs/a/extras.toml": "",
    "apps/b/changelog.txt": "# b-0.1.0\n",
    "apps/b/devops/Dockerfile": "FROM x\n",
    "apps/b/pyproject.toml": pyproject(
        "pkg-b",
        [f"pkg-a @ {A_URL}", "pkg-c", "attrs"],
        '[project.optional-dependencies]\ntest = ["pytest>=7"]\ndocs = ["sphinx"]\n'
        '[tool.uv.sources]\npkg-c = { path = "../../libs/c" }\n',
    ),
    "apps/b/libs/inner/pyproject.toml": pyproject("inner", ["pkg-a"]),
    "apps/other/changelog.txt": "# o-0.1.0\n",
    "apps/other/devops/Dockerfile": "FROM x\n",
}


def test_dependency_units_are_transitive_dependencies_first(tmp_path: Path) -> None:
    ws = repo(tmp_path, FILES)
    assert depunits.dependency_units(ws, "apps/b") == ["libs/a", "libs/c"]
    assert depunits.dependency_units(ws, "apps/other") == []


def test_a_root_app_gets_the_workspace_members_it_depends_on(tmp_path: Path) -> None:
    """lmmx/uv-ws-demo's shape: the repo root is the runnable app, its uv workspace
    members live inside it (packages/), app -> tpt -> bolded. Their files are in the
    root's context, yet only an install makes them importable: they are units to install.
    A member the app does not depend on stays out."""
    sources = "[tool.uv.sources]\n{} = {{ workspace = true }}\n"
    files = {
        "changelog.txt": "# app-0.1.0\n",
        "devops/Dockerfile": "FROM x\n",
        "pyproject.toml": pyproject("app", ["pydantic>=2", "tpt"], sources.format("tpt")),
        "packages/tpt/pyproject.toml": pyproject("tpt", ["bolded"], sources.format("bolded")),
        "packages/tpt/src/tpt/__init__.py": "",
        "packages/bolded/pyproject.toml": pyproject("bolded", []),
        "packages/bolded/src/bolded/__init__.py": "",
        "packages/unused/pyproject.toml": pyproject("unused", []),
    }
    ws = repo(tmp_path, files)
    assert depunits.dependency_units(ws, ".") == ["packages/bolded", "packages/tpt"]


def test_requirements_leave_in_repo_names_out_and_keep_test_extras(tmp_path: Path) -> None:
    ws = repo(tmp_path, FILES)
    reqs = requirements.requirements(ws, "apps/b", ["libs/a", "libs/c"])
    # file:// and uv path sources of in-repo packages are satisfied by their copies;
    # B's test extra is in, its docs extra is not; A's own dependencies come along.
    assert reqs == ("attrs", "pytest>=7", "requests>=2", "rich[jupyter]")


def test_unit_copies_follow_their_dockerignore_and_skip_nested_units(tmp_path: Path) -> None:
    ws = repo(tmp_path, FILES)
    files = depunits._unit_files(ws, "libs/a")
    deps = depunits.DepUnits(("libs/a",), files, ("attrs",))
    assert sorted(deps.files) == [
        ".helpers/units/libs/a/.dockerignore",
        ".helpers/units/libs/a/extras.toml",
        ".helpers/units/libs/a/pyproject.toml",
        ".helpers/units/libs/a/src/pkg_a/__init__.py",
    ]
    assert deps.injected()[depunits.ORDER_FILE] == b"libs/a\n"
    assert deps.injected()[depunits.REQUIREMENTS_FILE] == b"attrs\n"


def test_a_path_dependency_outside_the_repo_is_refused(tmp_path: Path) -> None:
    files = {
        **FILES,
        "apps/other/pyproject.toml": pyproject("other", ["far @ file:///opt/far"]),
    }
    ws = repo(tmp_path, files)
    with pytest.raises(UserError, match=r"apps/other/pyproject.toml: dependency 'far @ file"):
        requirements.requirements(ws, "apps/other", [])
    files["apps/other/pyproject.toml"] = pyproject(
        "other", ["far"], '[tool.uv.sources]\nfar = { path = "../../../far" }\n'
    )
    ws = repo(tmp_path / "2", files)
    with pytest.raises(UserError, match=r"\(path ../../../far\) is a path that holds no"):
        requirements.requirements(ws, "apps/other", [])


def test_a_dependency_without_project_table_is_refused(tmp_path: Path) -> None:
    ws = repo(tmp_path, {**FILES, "libs/a/pyproject.toml": "[tool.ruff]\nline-length = 100\n"})
    assert depunits.dependency_units(ws, "libs/c") == ["libs/a"]  # by its uv path source
    with pytest.raises(UserError, match=r"libs/a/pyproject.toml: no \[project\] table"):
        requirements.requirements(ws, "libs/c", ["libs/a"])


def test_poetry_dependencies_are_translated() -> None:
    assert requirements.poetry_requirement("x", "^1.2.3") == "x>=1.2.3,<2"
    assert requirements.poetry_requirement("x", "^0.2.3") == "x>=0.2.3,<0.3"
    assert requirements.poetry_requirement("x", "~1.2") == "x>=1.2,<1.3"
    assert requirements.poetry_requirement("x", "1.0.0") == "x==1.0.0"
    assert requirements.poetry_requirement("x", "*") == "x"
    assert requirements.poetry_requirement("x", {"version": ">=2", "extras": ["a"]}) == "x[a]>=2"
    assert requirements.poetry_requirement("x", {"path": "../x"}) is None


def test_topo_order_puts_dependencies_first() -> None:
    g = {"b": ["a", "c"], "c": ["a"], "a": [], "d": ["b"]}
    assert depunits.topo_order(g, ["c", "a", "b"]) == ["a", "c", "b"]


def test_install_script_is_valid_sh_and_names_the_mount() -> None:
    checked = subprocess.run(["sh", "-n"], input=depunits.INSTALL_SCRIPT, text=True)
    assert checked.returncode == 0
    assert 'dest="/app/$unit"' in depunits.INSTALL_SCRIPT


def test_context_carries_units_and_the_hash_tracks_them(tmp_path: Path) -> None:
    ws = repo(tmp_path, FILES)
    files = depunits._unit_files(ws, "libs/a")
    ctx = build_context.Context(
        ws.root / "apps/b", ("pyproject.toml",), "devops/Dockerfile", {}, files
    )
    before = build_context.inputs_hash(ctx, {}, build_context.file_digests(ctx))
    write(ws.root / "libs/a/src/pkg_a/__init__.py", "x = 1\n")
    assert build_context.inputs_hash(ctx, {}, build_context.file_digests(ctx)) != before
    with build_context.write_tar(ctx) as tar, tarfile.open(fileobj=tar) as opened:
        names = opened.getnames()
    assert ".helpers/units/libs/a/src/pkg_a/__init__.py" in names


def test_scaffold_refuses_to_overwrite_and_seeds_the_version(tmp_path: Path) -> None:
    root = tmp_path
    write(root / "pkg/pyproject.toml", '[project]\nname = "pkg"\nversion = "2.1"\n')
    made = scaffold.create(root, root, "pkg")
    assert made.version == "2.1.0"
    assert (root / "pkg/changelog.txt").read_text().startswith("# pkg-2.1.0\n")
    assert scaffold.create(root, root, "pkg").written == ()  # again: nothing differs
    write(root / "pkg/devops/Dockerfile", "FROM mine\n")
    with pytest.raises(UserError, match="pkg/devops/Dockerfile already exist"):
        scaffold.create(root, root, "pkg")
    assert scaffold.create(root, root, "pkg", force=True).written == ("pkg/devops/Dockerfile",)
    write(root / "bad/pyproject.toml", "[tool.ruff]\n")
    with pytest.raises(UserError, match=r"no \[project\] table"):
        scaffold.create(root, root, "bad")
    assert not (root / "bad/changelog.txt").exists()
    make_runnable(root, "other")
    new = scaffold.create(root, root, "fresh-app")
    assert "fresh-app/src/fresh_app/__init__.py" in new.written


def test_scaffold_refuses_a_packages_source_folder(tmp_path: Path) -> None:
    write(tmp_path / "libs/a pkg/pyproject.toml", '[project]\nname = "a"\nversion = "1.0"\n')
    write(tmp_path / "libs/a pkg/src/a/__init__.py", "")
    cwd = tmp_path / "libs"
    with pytest.raises(UserError) as err:
        scaffold.create(tmp_path, cwd, "a pkg/src")
    assert err.value.message.endswith("invoke create_runnable_dir 'a pkg'")
    assert not (tmp_path / "libs/a pkg/src/src").exists()
    assert not (tmp_path / "libs/a pkg/src/changelog.txt").exists()
    with pytest.raises(UserError, match="inside the source folder of the package"):
        scaffold.create(tmp_path, cwd, "a pkg/src/a")  # deeper: the import package itself
    assert not (tmp_path / "libs/a pkg/src/a/pyproject.toml").exists()


def test_scaffold_names_a_dir_with_spaces_as_a_valid_package(tmp_path: Path) -> None:
    made = scaffold.create(tmp_path, tmp_path, "services/new svc")
    text = (tmp_path / "services/new svc/pyproject.toml").read_text()
    assert 'name = "new-svc"' in text
    assert "services/new svc/src/new_svc/__init__.py" in made.written


def test_scaffold_plan_is_dated_by_its_caller(tmp_path: Path) -> None:
    files, version = scaffold.plan(tmp_path, tmp_path / "app", "2026-01-02")
    assert version == "0.1.0"
    assert (
        files["changelog.txt"]
        == "# app-0.1.0\n- 2026-01-02\n- Made a runnable dir (create_runnable_dir)\n"
    )


FAKE_PIP = """#!/bin/sh
# pip as far as the install script sees it: a resolution that fails, and (like pip) the
# lines that name the clash are info-level, so --quiet hides them.
case " $* " in *" --quiet "*) quiet=1 ;; *) quiet= ;; esac
echo "ERROR: Cannot install iniconfig because these package versions have conflicting" \
    "dependencies." >&2
if [ -z "$quiet" ]; then
    echo "The conflict is caused by:"
    echo "    The user requested iniconfig<2"
    echo "    The user requested (constraint) iniconfig==2.3.1"
fi
exit 1
"""


def _helpers_dir(tmp_path: Path, deps: depunits.DepUnits) -> Path:
    for rel, data in deps.injected().items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    fake = write(tmp_path / "fake-python", FAKE_PIP)
    fake.chmod(0o755)
    return tmp_path / ".helpers"


def test_a_failing_pip_install_shows_which_requirements_conflict(tmp_path: Path) -> None:
    deps = depunits.DepUnits((), {}, ("iniconfig<2",), ("iniconfig==2.3.1",))
    here = _helpers_dir(tmp_path, deps)
    env = {"PATH": "/usr/bin:/bin", "HELPERS_PYTHON": str(tmp_path / "fake-python")}
    ran = subprocess.run(
        ["sh", str(here / "install-deps.sh"), "third-party"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 1
    assert "The conflict is caused by:" in ran.stderr
    assert "The user requested (constraint) iniconfig==2.3.1" in ran.stderr
    assert "re-lock it with invoke docker_update_lock" in ran.stderr
    bad = subprocess.run(["sh", str(here / "install-deps.sh"), "other"], capture_output=True)
    assert bad.returncode == 2


def test_the_dockerfile_installs_third_party_before_copying_unit_sources() -> None:
    """A dependency unit's code edit changes only `.helpers/units/`: the layers before its
    COPY (pip install of the third-party requirements) stay cached."""
    text = sync.template_text("devops/Dockerfile")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    copies = [i for i, line in enumerate(lines) if line.startswith("COPY")]
    third = next(i for i, line in enumerate(lines) if "install-deps.sh third-party" in line)
    units_step = next(i for i, line in enumerate(lines) if "install-deps.sh units" in line)
    assert lines[copies[0]].split()[1:-1] == [".helpers/*.sh", ".helpers/*.txt", ".helpers/*.crt"]
    assert lines[copies[1]].split()[1] == ".helpers/units/"
    assert copies[0] < third < copies[1] < units_step
    # units/ is there with no dependency unit too, so its COPY never fails; the placeholder
    # is no install input (a stale message never names it).
    injected = depunits.DepUnits((), {}, ()).injected()
    assert depunits.UNITS_KEEP in injected
    ctx = build_context.Context(Path("/nowhere"), (), "devops/Dockerfile", injected)
    assert depunits.UNITS_KEEP not in install_inputs.install_inputs(ctx, {}, "base", "", {})


def test_a_reference_outside_the_repo_taken_by_name_says_so_once(tmp_path: Path) -> None:
    ws = repo(tmp_path, FILES)
    with events.collected() as seen:
        requirements.requirements(ws, "apps/b", ["libs/a", "libs/c"])
        requirements.requirements(ws, "apps/b", ["libs/a", "libs/c"])
    assert [e.text for e in seen] == [
        "apps/b/pyproject.toml: pkg-a points outside the repo (file:///somewhere/libs/a); "
        "the image installs the in-repo package of that name instead (libs/a)"
    ]
    inner = tmp_path / "2" / "my repo"  # where `repo` puts the second one
    inside = {
        **FILES,
        "apps/b/pyproject.toml": pyproject("pkg-b", [f"pkg-a @ {(inner / 'libs/a').as_uri()}"]),
    }
    with events.collected() as seen:
        requirements.requirements(repo(tmp_path / "2", inside), "apps/b", ["libs/a"])
    assert seen == []
