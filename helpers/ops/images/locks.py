"""docker_update_lock: resolve a runnable dir's dependencies inside its image, write the lock.

The tool is the one the dir uses: uv (`uv.lock`, or `[tool.uv]` in pyproject.toml),
poetry (`poetry.lock`, or `[tool.poetry]`), or pip-tools (`requirements.in`, compiled
with `uv pip compile` when the image has uv, else `pip-compile`). The image must
have the tool. It runs on a scratch copy of the dir's files inside the container (the
rest of the repo, its subdirs too, is reached through links to the mount, so path
sources resolve as they do in place); the new lock comes back on stdout and is written
into the repo atomically, only when the tool succeeded. A uv workspace member is locked
at its workspace's root, where uv keeps the one lock of every member, and installs
from that lock.

Builds install from the lock: `depunits` turns the dir's lock into pip constraints
(`.helpers/constraints.txt`, registry packages pinned `name==version`, in-repo
packages left out) that `install-deps.sh` applies to the third-party install.
A lock whose resolution forks (uv forks whenever `requires-python` spans versions a
dependency split on; poetry per `markers`) holds one package at several versions,
each for its own environment: each pin carries its entry's markers (uv's
`resolution-markers`, poetry's `markers`) as `name==version ; marker`, so pip
applies in the image only the pin for the image's Python. A package locked at
several versions without markers to tell them apart is not pinned at all (two
unconditional pins can never both hold).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from helpers.errors import UserError
from helpers.model import project, pyprojects

SCRATCH = "/tmp/helpers-lock"
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"
TOOLS_ARG = "LOCK_TOOLS"  # the generated Dockerfile's build arg: pip packages it installs
SUPPORTED = (
    "uv (uv.lock or [tool.uv] in pyproject.toml), poetry (poetry.lock or [tool.poetry]), "
    "pip-tools (requirements.in)"
)


@dataclass(frozen=True)
class LockJob:
    tool: str  # uv, poetry, pip-tools
    lock_file: str  # relative to `where`
    probe: str  # the executable the image must have
    command: str  # shell line run in the scratch copy of `where`; the lock lands in lock_file
    package: str = ""  # the pip package that gives `probe` (default: the same name)
    where: str = "."  # where the tool runs, relative to the dir: a uv workspace's root

    @property
    def pip_package(self) -> str:
        return self.package or self.probe

    def lock_path(self, path: Path) -> Path:
        """The lock file of the dir at `path`."""
        return Path(os.path.normpath(path / self.where / self.lock_file))


def _pyproject(path: Path) -> Mapping[str, Any]:
    file = path / pyprojects.FILENAME
    if not file.is_file():
        return {}
    return pyprojects.load(file, str(file))


def uv_workspace(path: Path, root: Optional[Path]) -> Optional[Path]:
    """The root of the uv workspace the dir is a member of (`[tool.uv.workspace]` members,
    less excludes, above it, up to the repo root); None when it is none's member. uv keeps
    one lock, at the workspace root, for every member."""
    if root is None or (path != root and root not in path.parents):
        return None
    for folder in path.parents:
        table = pyprojects.table(_pyproject(folder), "tool", "uv", "workspace")
        rel = path.relative_to(folder).as_posix()
        members = [m for m in table.get("members") or [] if isinstance(m, str)]
        excluded = [m for m in table.get("exclude") or [] if isinstance(m, str)]
        if any(fnmatch.fnmatchcase(rel, m.strip("/")) for m in members) and not any(
            fnmatch.fnmatchcase(rel, m.strip("/")) for m in excluded
        ):
            return folder
        if folder == root:
            return None
    return None


def detect(path: Path, has: Optional[set[str]] = None, root: Optional[Path] = None) -> LockJob:
    """What locks this dir; `has` = executables the image has (for pip-tools' choice);
    `root`: the repo root, to find the uv workspace a member dir belongs to."""
    workspace_root = uv_workspace(path, root)
    if workspace_root is not None:
        where = os.path.relpath(workspace_root, path)
        return LockJob("uv", "uv.lock", "uv", "uv lock 1>&2", where=Path(where).as_posix())
    tools = pyprojects.table(_pyproject(path), "tool")
    if (path / "uv.lock").is_file() or "uv" in tools:
        return LockJob("uv", "uv.lock", "uv", "uv lock 1>&2")
    if (path / "poetry.lock").is_file() or "poetry" in tools:
        return LockJob("poetry", "poetry.lock", "poetry", "poetry lock 1>&2")
    if (path / "requirements.in").is_file():
        out = "--output-file requirements.txt requirements.in 1>&2"
        if has is None or "uv" in has:
            return LockJob("pip-tools", "requirements.txt", "uv", f"uv pip compile {out}")
        command = f"pip-compile {out}"
        return LockJob("pip-tools", "requirements.txt", "pip-compile", command, "pip-tools")
    raise UserError(
        f"{path}: nothing to lock here; docker_update_lock supports {SUPPORTED}: "
        "add one of those to the dir"
    )


def scratch_script(root: Path, rel_dir: str, job: LockJob) -> str:
    """Shell that mirrors the repo under SCRATCH by links, copies the files of `rel_dir` (the
    dir where the tool runs; its subdirs are links too), locks, prints the lock."""
    q = shlex.quote
    mount = project.MOUNT
    lines = ["set -e", f"rm -rf {SCRATCH}", f"mkdir -p {SCRATCH}"]
    parts = [] if rel_dir == "." else rel_dir.split("/")
    here_host, here_box = root, SCRATCH
    for part in parts:
        for entry in sorted(p.name for p in here_host.iterdir()):
            if entry != part:
                rel = here_host.relative_to(root).as_posix()
                src = f"{mount}/{entry}" if rel == "." else f"{mount}/{rel}/{entry}"
                lines.append(f"ln -s {q(src)} {q(here_box + '/' + entry)}")
        here_host, here_box = here_host / part, f"{here_box}/{part}"
        lines.append(f"mkdir -p {q(here_box)}")
    # The dir's own files are copied (the tool writes its lock there), its subdirs linked.
    for item in sorted(here_host.iterdir(), key=lambda e: e.name):
        src = q(mount if not parts else f"{mount}/{rel_dir}") + "/" + q(item.name)
        dest = q(f"{here_box}/{item.name}")
        is_dir = item.is_dir() and not item.is_symlink()
        lines.append(f"ln -s {src} {dest}" if is_dir else f"cp -a {src} {dest}")
    lines += [
        f"cd {q(here_box)}",
        "export UV_NATIVE_TLS=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        # The bundle install-ca.sh fed: uv reads SSL_CERT_FILE, poetry (requests) the other.
        f"[ -f {SYSTEM_CA} ] && export SSL_CERT_FILE={SYSTEM_CA} REQUESTS_CA_BUNDLE={SYSTEM_CA}",
        job.command,
        f"cat {q(job.lock_file)}",
    ]
    return "\n".join(lines) + "\n"


_LOCAL_KEYS = {"editable", "directory", "path", "virtual", "git", "url"}
_LOCAL_TYPES = ("directory", "file", "git", "url")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")


def _is_local(source: Any) -> bool:
    """A uv or poetry lock entry that is not from an index (a path, git, a URL)."""
    if not isinstance(source, dict):
        return False
    return bool(_LOCAL_KEYS & set(source)) or source.get("type") in _LOCAL_TYPES


def _marker_texts(package: Mapping[str, Any]) -> list[str]:
    """uv's `resolution-markers` (a list: any of them) or poetry's `markers` (a string, or
    one per dependency group)."""
    raw = package.get("resolution-markers")
    if raw is None:
        raw = package.get("markers")
    if isinstance(raw, str):
        raw = [raw]
    elif isinstance(raw, dict):
        raw = list(raw.values())
    texts = [m.strip() for m in raw if isinstance(m, str)] if isinstance(raw, list) else []
    return list(dict.fromkeys(t for t in texts if t))


def pin_marker(package: Mapping[str, Any], where: str) -> str:
    """The environments a lock entry is for, as one PEP 508 marker ("" = every one)."""
    from packaging.markers import InvalidMarker, Marker

    texts = _marker_texts(package)
    try:
        markers = [str(Marker(t)) for t in texts]
    except InvalidMarker as exc:
        name = package.get("name")
        raise UserError(
            f"{where}: package {name!r} has markers that are not PEP 508 ({exc}); "
            "re-lock it (invoke docker_update_lock)"
        ) from None
    if len(markers) > 1:
        return " or ".join(f"({m})" for m in markers)
    return markers[0] if markers else ""


def _toml_pins(text: str, where: str, in_repo: set[str]) -> list[str]:
    """uv.lock / poetry.lock: `[[package]]` name and version of each index package, with
    the markers of the environments it is locked for."""
    entries: dict[str, list[tuple[str, str]]] = {}
    for package in pyprojects.parse(text, where).get("package", []):
        if not isinstance(package, dict) or _is_local(package.get("source")):
            continue
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        name = pyprojects.normalize(name)
        if name not in in_repo:
            entries.setdefault(name, []).append((version, pin_marker(package, where)))
    pins = []
    for name, found in entries.items():
        forked = len({version for version, _ in found}) > 1
        for version, marker in found:
            if marker:
                pins.append(f"{name}=={version} ; {marker}")
            elif not forked:
                pins.append(f"{name}=={version}")
    return pins


def _requirements_pins(text: str, where: str, in_repo: set[str]) -> list[str]:
    """A compiled requirements.txt: its `name==version` lines with their markers (a
    universal `uv pip compile` forks like a lock); options, URLs, paths skipped."""
    pins = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = _PIN.match(line)
        if not match or pyprojects.normalize(match.group(1)) in in_repo:
            continue
        pin = f"{pyprojects.normalize(match.group(1))}=={match.group(2)}"
        _, semi, rest = line.partition(";")
        marker = re.split(r"\s--|\\", rest, maxsplit=1)[0].strip() if semi else ""
        if marker:
            pin += f" ; {pin_marker({'markers': marker, 'name': match.group(1)}, where)}"
        pins.append(pin)
    return pins


def constraints(path: Path, in_repo: set[str], root: Optional[Path] = None) -> list[str]:
    """The dir's lock as pip constraints (registry pins only); empty without a lock. A uv
    workspace member's lock is its workspace's (`root`: the repo root, to find it)."""
    workspace_root = uv_workspace(path, root)
    if workspace_root is not None and (workspace_root / "uv.lock").is_file():
        lock = workspace_root / "uv.lock"
        return sorted(set(_toml_pins(lock.read_text(encoding="utf-8"), str(lock), in_repo)))
    for name in ("uv.lock", "poetry.lock"):
        if (path / name).is_file():
            text = (path / name).read_text(encoding="utf-8")
            return sorted(set(_toml_pins(text, f"{path / name}", in_repo)))
    compiled = path / "requirements.txt"
    if (path / "requirements.in").is_file() and compiled.is_file():
        text = compiled.read_text(encoding="utf-8")
        return sorted(set(_requirements_pins(text, str(compiled), in_repo)))
    return []
