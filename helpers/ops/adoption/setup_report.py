"""`print_setup`: what the tools resolved for one runnable dir, and what the engine can do."""

from __future__ import annotations

import dataclasses
import platform
import sys
from typing import Optional

from helpers import __version__
from helpers.effects import commands, engine
from helpers.model import images, project
from helpers.ops.images import dockerfile, platforms

PRECEDENCE = (
    "  (each value's source in brackets; first wins: a flag, an exported $HELPERS_*, "
    "the dir's repo_config.yaml, the repo's, a machine default in machine.env, the default)"
)


def _config_lines(target: project.Target) -> list[str]:
    lines = [PRECEDENCE]
    for field in dataclasses.fields(target.cfg):
        if field.name == "origin":
            continue
        value = getattr(target.cfg, field.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        source = target.cfg.origin.get(field.name, "default")
        lines.append(f"  {field.name:<16} {value!r:<40} ({source})")
    return lines


def _multiarch_lines(target: project.Target, reachable: bool, runner: commands.Runner) -> list[str]:
    if not reachable:
        return ["  multi-arch     unknown (no engine)"]
    path = platforms.multiarch_path(runner)
    native = platforms.native(runner)
    missing = platforms.emulator_missing(target.cfg.platforms, native)
    lines = [
        f"  multi-arch     {path.name}: {path.why}",
        f"  platforms      {', '.join(target.cfg.platforms)} (native {native})",
    ]
    if missing:
        lines.append(f"  emulation      missing: {missing}")
    registries = ", ".join(target.cfg.registries) or "none (releases need one)"
    return [*lines, f"  registries     {registries}"]


def render(dir_flag: Optional[str] = None, runner: commands.Runner = commands.run) -> str:
    target = project.target(dir_flag)
    user = images.user_name()
    version = target.version
    st = engine.status(runner)
    out = [
        f"repo root        {target.root}",
        f"runnable dir     {target.rel_dir}",
        f"version          {version} ({target.changelog.path.name})",
        "config:",
        *_config_lines(target),
        *(f"  note           {note}" for note in dockerfile.base_notes(target)),
        "images:",
        *(f"  {s:<6} {images.ref(target.cfg, s, version, user)}" for s in images.STAGES),
        "engine:",
        f"  reachable      {'yes, server ' + st.server_version if st.reachable else 'no'}"
        f" ({st.where})",
        f"  buildx         {'yes' if st.reachable and engine.has_buildx(runner) else 'no'}",
        *_multiarch_lines(target, st.reachable, runner),
        f"  socket mount   {'yes' if engine.socket_mountable() else 'no'}",
        "versions:",
        f"  helpers        {__version__}",
        f"  python         {platform.python_version()} ({sys.executable})",
    ]
    return "\n".join(out)
