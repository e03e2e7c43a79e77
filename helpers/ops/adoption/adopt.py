"""The Python half of `dev_scripts/adopt.sh`: sync the client files, then list the
Dockerfiles that are not runnable dirs yet with the lines that would make them so
(never written unasked).

    python -m helpers.cli.adopt [--force]     (adopt.sh runs it in the thin env)
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional

from helpers.model import config, pyprojects, workspace
from helpers.ops.adoption import sync
from helpers.ops.images import dockerfile
from helpers.ops.testing import selection
from helpers.outcome import Outcome


@dataclass(frozen=True)
class Candidate:
    dir: str  # repo-relative
    dockerfile: str  # relative to the dir
    prod_dockerfile: Optional[str]
    has_changelog: bool
    has_pyproject: bool = False  # a package: its changelog starts at the package's version

    def hint(self) -> list[str]:
        where = "" if self.dir == "." else f"{self.dir}/"
        lines = [
            f"{self.dir}: {where}{self.dockerfile} is not in a runnable dir yet; to make it one:"
        ]
        if not self.has_changelog and self.has_pyproject:
            fix = f"invoke create_runnable_dir {shlex.quote(self.dir)}"
            lines.append(f"  add {where}changelog.txt: `{fix}` writes it at the package's version")
        elif not self.has_changelog:
            name = "app" if self.dir == "." else self.dir.replace("/", "-").replace(" ", "-")
            lines.append(f"  add {where}changelog.txt starting with '# {name}-0.1.0'")
        keys = []
        if self.dockerfile != config.DEFAULT_DOCKERFILE:
            keys.append(f"dockerfile: {self.dockerfile}")
        if self.prod_dockerfile:
            keys.append(f"prod_dockerfile: {self.prod_dockerfile}")
        if keys:
            lines.append(f"  add to {where}{config.FILENAME}:")
            lines += [f"    {key}" for key in keys]
        return lines


def _is_dockerfile(name: str) -> bool:
    return name == "Dockerfile" or name.endswith(".Dockerfile") or name.startswith("Dockerfile.")


def _is_prod(name: str) -> bool:
    return name.lower().startswith("prod") or name.lower().endswith(".prod")


def _owner(path: str) -> str:
    """The dir a Dockerfile belongs to: above `devops/` (and `devops/docker_build/`)."""
    parts = PurePosixPath(path).parent.parts
    for tail in (("devops", "docker_build"), ("devops",)):
        if parts[-len(tail) :] == tail:
            parts = parts[: -len(tail)]
            break
    return "/".join(parts) or "."


def candidates(files: Iterable[str], runnable: Sequence[str]) -> list[Candidate]:
    """Dockerfiles outside every runnable dir's own Dockerfile, grouped by their dir."""
    present = set(files)
    found: dict[str, dict[str, str]] = {}
    for path in sorted(present):
        name = PurePosixPath(path).name
        if not _is_dockerfile(name):
            continue
        owner = _owner(path)
        if owner in runnable:
            continue
        rel = path if owner == "." else path[len(owner) + 1 :]
        slot = "prod" if _is_prod(name) else "dev"
        found.setdefault(owner, {}).setdefault(slot, rel)
    out = []
    for owner, kinds in sorted(found.items(), key=lambda kv: (kv[0] != ".", kv[0])):
        dev = kinds.get("dev") or kinds["prod"]
        prod = kinds.get("prod") if kinds.get("prod") != dev else None
        changelog = workspace.CHANGELOG if owner == "." else f"{owner}/{workspace.CHANGELOG}"
        manifest = pyprojects.FILENAME if owner == "." else f"{owner}/{pyprojects.FILENAME}"
        out.append(Candidate(owner, dev, prod, changelog in present, manifest in present))
    return out


def _migration(root: Path, files: Sequence[str], helpers_dir: str) -> list[str]:
    """What a repo laid out for the older tool still has to change (README: Migrating)."""
    from helpers.ops.adoption import migration

    dockerfiles = [
        (f, _is_prod(PurePosixPath(f).name))
        for f in files
        if _is_dockerfile(PurePosixPath(f).name) and not workspace.is_under(f, helpers_dir)
    ]
    notes = migration.findings(root, files, helpers_dir, dockerfiles)
    if not notes:
        return []
    head = "from the older tool's layout, still to change (README: Migrating from the older tool):"
    return [head, *(f"  {note}" for note in notes)]


def adopt(here: Path, force: bool) -> Outcome:
    """Write or sync the client files, then say what is runnable and what to run next."""
    client = sync.locate(here)
    how = f"bash {client.helpers_dir}/dev_scripts/adopt.sh"
    synced = sync.sync(here, force=force, how=how)
    root = client.root
    ignore = config.load(root, ".").ignore_dirs
    files = workspace.list_files(root)
    runnable = workspace.runnable_in_work_tree(root, files, ignore)
    lines = [synced.text] if synced.text else []
    lines.append(f"runnable dirs: {', '.join(runnable) if runnable else 'none yet'}")
    present = set(files)
    for cand in candidates(files, runnable):
        notes = dockerfile.candidate_notes(root, cand.dir, cand.dockerfile, present)
        lines += cand.hint() + notes
    lines += _migration(root, files, client.helpers_dir)
    lines += devcontainer_offer(root, runnable)
    lines += ["", "next, in each new shell:"]
    lines.append(f"  source ./{client.helpers_dir}/dev_scripts/thin_env/setenv.sh")
    if runnable:
        lines.append("then run the tests of every runnable dir:")
        lines.append(
            f"  python ./{client.helpers_dir}/dev_scripts/main_pytest.py --dir . --if-missing build"
        )
    else:
        lines.append("then make one (a new dir, or an existing pyproject package):")
        packages = selection.untested_packages(files, runnable, ".", ignore)
        for rel in packages[:5] or ["DIR"]:
            lines.append(f"  invoke create_runnable_dir {shlex.quote(rel) if packages else rel}")
    return Outcome.of(lines, synced.code)


def devcontainer_offer(root: Path, runnable: Sequence[str]) -> list[str]:
    """The editor's container, offered (never written unasked) while no dir has one."""
    from helpers.ops.adoption import devcontainer

    if not runnable or any((root / devcontainer.dest(d)).is_file() for d in runnable):
        return []
    return [
        "VS Code / devcontainers CLI: `invoke devcontainer --all-dirs` writes "
        f"{devcontainer.FOLDER}/<dir>/devcontainer.json for each runnable dir (the container "
        "docker_bash gives; sync_files keeps them current)"
    ]
