"""What adopt says about a repo laid out for the older tool (each finding one line, per file).

The older tool's repos symlink devops files, `tasks.py`, `conftest.py` and `pytest.ini`
into its submodule, run an ENTRYPOINT before every command, keep Python in a venv at
`/venv` that the entrypoint activates, and build prod from `${ECR_BASE_PATH}/...:dev-${VERSION}`.
None of it is changed here: adopt lists what to change, and the README's migration
section says how.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

OLD_MODULES = re.compile(r"^\s*(?:import|from)\s+helpers\.(h\w+)", re.MULTILINE)
# A tasks.py of the older tool imports its task library (helpers.lib_tasks, ...).
_ANY_HELPERS_MODULE = re.compile(r"^\s*(?:import|from)\s+helpers\.(\w+)", re.MULTILINE)
_VENV = re.compile(r"(^|[\s=\"'/])(/?venv)\b|ENV_NAME=\"?venv|-m venv", re.MULTILINE)
_VENV_ON_PATH = re.compile(r"^\s*ENV\s+PATH[= ].*venv", re.MULTILINE | re.IGNORECASE)
_ENTRYPOINT = re.compile(r"^\s*ENTRYPOINT\s+(.+)$", re.MULTILINE | re.IGNORECASE)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


DANGLE = "dangle"
INTO = "into"
_SAY = {
    DANGLE: "symlink(s) dangle (most pointed into the older tool's submodule, gone now)",
    INTO: "symlink(s) point into the helpers submodule, so they read helpers' own files "
    "now, not the older tool's",
}


def symlinks(root: Path, files: Iterable[str], helpers_dir: str) -> list[str]:
    """Each symlink that dangles, or that points into the helpers submodule, named one by
    one, one line per top-level dir and kind."""
    found: dict[tuple[str, str], list[str]] = {}
    sub = (root / helpers_dir).resolve()
    for rel in sorted(files):
        path = root / rel
        if not path.is_symlink():
            continue
        resolved = path.parent.joinpath(os.readlink(path)).resolve()
        into = resolved == sub or sub in resolved.parents
        kind = DANGLE if not path.exists() else INTO if into else ""
        if kind:
            top, _, rest = rel.partition("/")
            group = (top, rest) if rest else (".", rel)
            found.setdefault((group[0], kind), []).append(group[1])
    return [
        f"{top}: {len(names)} {_SAY[kind]}: {', '.join(names)}; replace each with a file "
        "of your own (or delete it)"
        for (top, kind), names in sorted(found.items())
    ]


def dockerfile_notes(rel: str, text: str) -> list[str]:
    """The ENTRYPOINT and a /venv that only the entrypoint put on PATH."""
    out = []
    entry = _ENTRYPOINT.search(text)
    if entry:
        out.append(
            f"{rel}: ENTRYPOINT {entry.group(1).strip()}: helpers' run and exec commands "
            "start with it off (config `keep_entrypoint: true` runs it)"
        )
    if _VENV.search(text) and not _VENV_ON_PATH.search(text):
        out.append(
            f"{rel}: a venv in the image is not on PATH (the entrypoint activated it): add "
            "`ENV PATH=/venv/bin:$PATH` after it is made, so python3 and pytest are the venv's"
        )
    return out


def prod_notes(rel: str, text: str) -> list[str]:
    if "DEV_IMAGE" in text or "BASE_IMAGE" in text:
        return []
    return [
        f"{rel}: a prod Dockerfile gets the dev image as `ARG DEV_IMAGE` then "
        "`FROM ${DEV_IMAGE}` (no ECR_BASE_PATH or VERSION is passed), and the code goes "
        "to /app/<dir>"
    ]


def conftest_notes(root: Path, files: Iterable[str]) -> list[str]:
    """conftest.py files importing the older tool's modules (pytest stops with exit 4)."""
    out = []
    for rel in sorted(f for f in files if PurePosixPath(f).name == "conftest.py"):
        path = root / rel
        if path.is_symlink():
            continue  # said with the symlinks
        found = sorted(set(OLD_MODULES.findall(_read(path))))
        if found:
            names = ", ".join(f"helpers.{m}" for m in found)
            out.append(
                f"{rel}: imports the older tool's {names}: pytest stops before any test "
                "(exit 4); remove those lines (helpers' plugin comes from the root conftest.py)"
            )
    return out


def tasks_notes(root: Path, files: Iterable[str]) -> list[str]:
    """A dir's own tasks.py importing the older tool's task library: `invoke` run in that
    dir loads it instead of the root one (invoke takes the nearest tasks.py) and fails."""
    out = []
    for rel in sorted(f for f in files if PurePosixPath(f).name == "tasks.py" and "/" in f):
        path = root / rel
        if path.is_symlink():
            continue  # said with the symlinks
        found = sorted(set(_ANY_HELPERS_MODULE.findall(_read(path))) - {"tasks"})
        if found:
            names = ", ".join(f"helpers.{m}" for m in found)
            where = str(PurePosixPath(rel).parent)
            out.append(
                f"{rel}: imports the older tool's {names}: `invoke` in {where}/ loads it "
                "instead of the root tasks.py and stops (ModuleNotFoundError); delete it "
                "(the root tasks.py serves every dir)"
            )
    return out


def findings(
    root: Path,
    files: Sequence[str],
    helpers_dir: str,
    dockerfiles: Iterable[tuple[str, bool]],
) -> list[str]:
    """Every finding; `dockerfiles`: (repo path, is a prod one) of each dir's Dockerfiles."""
    notes = symlinks(root, files, helpers_dir)
    for rel, prod in dockerfiles:
        text = _read(root / rel)
        if text:
            notes += prod_notes(rel, text) if prod else dockerfile_notes(rel, text)
    notes += conftest_notes(root, files)
    notes += tasks_notes(root, files)
    return notes
