"""`check_libs --fix`: rewrite the declarations that differ from their `library_pins`
entry, only the specifier part of each string or line, each file replaced atomically.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.effects import fsutil
from helpers.errors import UserError
from helpers.model import pyprojects, units
from helpers.ops.workspace import libs_collect


@dataclass(frozen=True)
class Change:
    decl: libs_collect.Decl
    new: str  # the new specifier


def _choices(report: libs_collect.Report, lib: str) -> str:
    seen: dict[str, list[str]] = {}
    for d in report.rows([lib]):
        if d.style != libs_collect.LOCK:
            seen.setdefault(libs_collect.shown(d.spec), []).append(d.unit)
    return "; ".join(f"{spec} ({', '.join(sorted(set(us)))})" for spec, us in seen.items())


def plan(report: libs_collect.Report) -> list[Change]:
    """The declarations to rewrite to their pin; a UserError naming unpinned mismatches."""
    unpinned = [lib for lib in report.mismatched if lib not in report.pins]
    if unpinned:
        detail = " | ".join(f"{lib}: {_choices(report, lib)}" for lib in unpinned)
        raise UserError(
            f"--fix needs a pin for {', '.join(unpinned)}; choose one and add it to "
            f"repo_config.yaml as library_pins: {{{unpinned[0]}: '<specifier>'}} "
            f"(declared now: {detail}); nothing was changed"
        )
    changes = []
    for d in report.rows():
        pin = report.pins[d.library]
        if d.style != libs_collect.LOCK and libs_collect.differs(d, pin):
            changes.append(Change(d, pin))
    return changes


def _respec(written: str, new: str) -> str:
    """`written` (a PEP 508 string) with its specifier replaced: name, extras, marker stay."""
    head = libs_collect._NAME.match(written)
    end_name = head.end() if head else 0
    marker_at = written.find(";", end_name)
    marker = written[marker_at:] if marker_at >= 0 else ""
    body = written[end_name : marker_at if marker_at >= 0 else len(written)]
    name = written[:end_name] if new else written[:end_name].rstrip()
    tail = body[len(body.rstrip()) :] if body.strip() else ""
    return f"{name}{new}{tail}{marker}"


def _new_line(line: str, change: Change) -> str:
    d = change.decl
    if d.style == libs_collect.POETRY:
        quoted = re.compile(r"""(["'])""" + re.escape(d.written) + r"\1")
        found = quoted.search(line, line.find("=") + 1)
        if found is None:
            raise UserError(f"{d.where}: cannot find {d.written!r} on the line; fix it by hand")
        q = found.group(1)
        return line[: found.start()] + f"{q}{change.new or '*'}{q}" + line[found.end() :]
    new_req = _respec(d.written, change.new)
    for q in ('"', "'") if d.style == libs_collect.PEP508 else ("",):
        old = f"{q}{d.written}{q}"
        if old in line:
            return line.replace(old, f"{q}{new_req}{q}", 1)
    raise UserError(f"{d.where}: cannot find {d.written!r} on the line; fix it by hand")


def new_texts(root: Path, changes: Sequence[Change]) -> dict[str, str]:
    """The new text of every file to change; each pyproject is re-parsed before anything moves."""
    by_file: dict[str, list[Change]] = {}
    for change in changes:
        by_file.setdefault(change.decl.file, []).append(change)
    out = {}
    for file, items in sorted(by_file.items()):
        text = (root / file).read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        for change in items:
            i = change.decl.line - 1
            ending = lines[i][len(lines[i].rstrip("\r\n")) :]
            lines[i] = _new_line(lines[i].rstrip("\r\n"), change) + ending
        new = "".join(lines)
        if file.endswith(units.PYPROJECT):
            pyprojects.parse(new, f"{file} (after --fix, not written)")
        out[file] = new
    return out


def apply(root: Path, changes: Sequence[Change]) -> list[str]:
    """Write the pinned specifiers; one line per rewritten declaration (what changed)."""
    texts = new_texts(root, changes)
    read_only = [file for file in texts if not fsutil.writable(root / file)]
    if read_only:
        raise UserError(
            f"{', '.join(read_only)}: read-only, so check_libs --fix will not replace "
            f"{'it' if len(read_only) == 1 else 'them'}; make "
            f"{'it' if len(read_only) == 1 else 'them'} writable (chmod u+w) and rerun; "
            "nothing was changed"
        )
    for file, text in texts.items():
        fsutil.write_atomic(root / file, text)
    return [
        f"{c.decl.where}: {c.decl.library} {libs_collect.shown(c.decl.spec)} -> "
        f"{libs_collect.shown(c.new)}"
        for c in changes
    ]
