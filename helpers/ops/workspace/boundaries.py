"""check_boundaries: units use each other only through public modules, and declare it.

Opt-in with `boundaries: {public_modules: [api]}` in repo_config.yaml; a unit's
own repo_config.yaml may override its list (an empty list: all of it is public).
A unit's import packages are found in its files: `src/<pkg>/` (src layout, also
namespace packages `src/<ns>/<pkg>/`) or `<pkg>/__init__.py` at its top.

One pass over the repo's Python files (tracked and untracked-not-ignored): each
is parsed with `ast`; every absolute import of another unit's package is
  - an *internal* import when the target unit has public modules and the import
    reaches a module of its package that is not one of them or below one
    (`import pkg`, and `from pkg import name` of a non-module name, are fine);
  - an *undeclared* import when the importing unit does not depend on the
    target unit (pyproject dependency or depends_on) nor holds it: the graph
    that change detection uses would be wrong.
A package name that several units provide (two services with an `app`) is the
importer's own when it has one, and is not checked otherwise (ambiguous).
A file that does not parse is a problem line (file:line) and the pass goes on.
"""

from __future__ import annotations

import ast
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from helpers.model import units

INTERNAL = "internal"
UNDECLARED = "undeclared"
_NOT_PACKAGES = frozenset({"tests", "test", "devops", "docs", "scripts", "examples", "src"})


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    unit: str  # the importing unit
    target: str  # the imported unit
    module: str  # the module imported, dotted
    kind: str  # INTERNAL or UNDECLARED
    allowed: tuple[str, ...] = ()  # the target's public modules, dotted (INTERNAL)
    project: str = ""  # the target's project name (UNDECLARED: what to declare)

    def text(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.kind == INTERNAL:
            allowed = ", ".join(self.allowed)
            return f"{where}: unit {self.unit} imports {self.module} (allowed: {allowed})"
        declare = f'"{self.project}" to its pyproject dependencies' if self.project else ""
        fix = f"add {declare or 'it'} or depends_on: [{self.target}] to its repo_config.yaml"
        return (
            f"{where}: unit {self.unit} imports {self.module} of unit {self.target} "
            f"without declaring it; {fix}"
        )


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    problems: tuple[str, ...]
    files: int  # Python files read

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else (1 if self.findings else 0)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.unit] = out.get(f.unit, 0) + 1
        return out

    def edges(self) -> dict[tuple[str, str], int]:
        """(importing unit, imported unit) -> findings: the red edges of `deps`."""
        out: dict[tuple[str, str], int] = {}
        for f in self.findings:
            out[(f.unit, f.target)] = out.get((f.unit, f.target), 0) + 1
        return out


@dataclass(frozen=True)
class Packages:
    """Import names of the units (`names[pkg]`: the units providing it), every module's
    dotted name."""

    names: Mapping[str, tuple[str, ...]]
    modules: frozenset[str]

    def owner(self, module: str, importer: str) -> Optional[tuple[str, str]]:
        """(package, unit) of the longest package name `module` starts with; the importer's
        own package wins (two services may both have an `app`); None if ambiguous."""
        parts = module.split(".")
        for n in range(len(parts), 0, -1):
            head = ".".join(parts[:n])
            units_ = self.names.get(head)
            if units_:
                if importer in units_:
                    return head, importer
                return (head, units_[0]) if len(units_) == 1 else None
        return None


def _module_name(rel: str) -> str:
    """`pkg/sub/mod.py` -> `pkg.sub.mod`; `pkg/__init__.py` -> `pkg`."""
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def packages(ws: units.Workspace, files: Iterable[str]) -> Packages:
    """Each unit's import packages and modules, from its files (src layout first)."""
    src_mods: dict[str, set[str]] = {}
    flat_mods: dict[str, set[str]] = {}
    for file in files:
        if not file.endswith(".py"):
            continue
        unit = ws.owner(file)
        if unit is None:
            continue
        rel = file if unit == "." else file[len(unit) + 1 :]
        if rel.startswith("src/"):
            src_mods.setdefault(unit, set()).add(_module_name(rel[4:]))
        elif "/" in rel and rel.split("/", 1)[0] not in _NOT_PACKAGES:
            flat_mods.setdefault(unit, set()).add(_module_name(rel))
    names: dict[str, list[str]] = {}
    modules: set[str] = set()
    for unit, mods in {**flat_mods, **src_mods}.items():
        if unit not in src_mods:  # flat layout: only dirs with an __init__.py are packages
            tops = {m for m in mods if "." not in m}
            mods = {m for m in mods if m.split(".", 1)[0] in tops}
        modules |= mods
        for pkg in _tops(mods):
            names.setdefault(pkg, []).append(unit)
    return Packages({k: tuple(sorted(v)) for k, v in names.items()}, frozenset(modules))


def _tops(mods: set[str]) -> set[str]:
    """Top packages; a dir without an __init__ holding packages is a namespace (`ns.pkg`)."""
    out = set()
    for mod in mods:
        head = mod.split(".", 1)[0]
        if head in mods or "." not in mod:
            out.add(head)
        else:
            out.add(".".join(mod.split(".", 2)[:2]))
    return out


def _statements(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """Every statement, nested ones too (imports are statements: expressions are skipped)."""
    todo = list(body)
    while todo:
        node = todo.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, name, None)
            if isinstance(inner, list):
                todo.extend(inner)


def _imports(tree: ast.Module, modules: frozenset[str]) -> Iterable[tuple[int, str]]:
    found = []
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((node.lineno, sub if sub in modules else node.module))
    return sorted(found)


def _is_public(module: str, package: str, public: Sequence[str]) -> bool:
    if not public or module == package:
        return True
    return any(module == f"{package}.{p}" or module.startswith(f"{package}.{p}.") for p in public)


def check(
    ws: units.Workspace,
    files: Sequence[str],
    public: Mapping[str, Sequence[str]],
    scope: Optional[Iterable[str]] = None,
) -> Report:
    """One pass over `files`; `public`: each unit's public modules; `scope`: importing units."""
    pkgs = packages(ws, files)
    wanted = None if scope is None else set(scope)
    findings: list[Finding] = []
    problems: list[str] = []
    read = 0
    for file in files:
        unit = ws.owner(file) if file.endswith(".py") else None
        if unit is None or (wanted is not None and unit not in wanted):
            continue
        read += 1
        tree = _parse(str(ws.root), file, problems)
        if tree is not None:
            findings += _findings(ws, pkgs, public, file, unit, tree)
    return Report(tuple(findings), tuple(problems), read)


def _parse(root: str, file: str, problems: list[str]) -> Optional[ast.Module]:
    """The file's syntax tree; None when it is gone, or cannot be read or parsed (then a
    problem line is added)."""
    try:
        with open(os.path.join(root, file), "rb") as handle:
            source = handle.read()
    except FileNotFoundError:
        return None  # deleted in the work tree
    except OSError as exc:
        problems.append(f"{file}: cannot read it ({exc}); check the file")
        return None
    try:
        with warnings.catch_warnings():  # `"\d"` in a string: not ours to warn about
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=file)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        msg = getattr(exc, "msg", None) or str(exc)
        problems.append(f"{file}:{line}: does not parse as Python ({msg}); fix the syntax")
        return None


def _findings(
    ws: units.Workspace,
    pkgs: Packages,
    public: Mapping[str, Sequence[str]],
    file: str,
    unit: str,
    tree: ast.Module,
) -> list[Finding]:
    """The file's imports of other units that are undeclared or reach internal modules."""
    declared = set(ws.deps.get(unit, ()))
    found: list[Finding] = []
    for line, module in _imports(tree, pkgs.modules):
        hit = pkgs.owner(module, unit)
        if hit is None or hit[1] == unit:
            continue
        package, target = hit
        if target not in declared and ws.within.get(target) != unit:
            project = ws.units[target].project
            found.append(Finding(file, line, unit, target, module, UNDECLARED, project=project))
        pubs = tuple(public.get(target, ()))
        if not _is_public(module, package, pubs):
            allowed = tuple(f"{package}.{p}" for p in pubs)
            found.append(Finding(file, line, unit, target, module, INTERNAL, allowed))
    return found


def render(report: Report) -> str:
    return "\n".join(f.text() for f in report.findings)


def summary(report: Report) -> str:
    internal = sum(1 for f in report.findings if f.kind == INTERNAL)
    undeclared = len(report.findings) - internal
    return (
        f"check_boundaries: {report.files} Python files, {internal} imports of internal "
        f"modules, {undeclared} undeclared in-repo imports"
    )
