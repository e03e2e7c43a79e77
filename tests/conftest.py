"""Shared fixtures. Unit tests block the engine; integration tests need a real one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]


def git(cwd: Path, *args: str) -> str:
    """Run git with a pinned identity and no user templates (pre-commit's fixture style)."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TEMPLATE_DIR": "",
        "HOME": str(cwd),
    }
    out = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def fresh_python(code: str, cwd: Optional[Path] = None) -> str:
    """What `code` prints in a new interpreter with this checkout's helpers importable
    (what a user's process has loaded, and does at exit, is seen only there)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-c", code]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_runnable(root: Path, rel: str, name: str = "", version: str = "0.1.0") -> Path:
    d = root if rel == "." else root / rel
    label = name or (root.name if rel == "." else rel.replace("/", "-"))
    write(d / "changelog.txt", f"# {label}-{version}\n- 2026-11-22\n- first\n")
    write(d / "devops" / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    return d
