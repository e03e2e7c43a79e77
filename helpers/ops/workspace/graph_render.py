"""`deps --format text|json|mermaid|dot`: the unit graph as data or as a picture; pure.

Marks are `info`'s: `*` changed, `(*)` affected through a dependency (with
`--since`). Edges: `depends` (declared), `holds` (a runnable dir and a package
inside it, tested in its container) and `import` (an in-repo import the unit
does not declare). An edge with boundary violations (check_boundaries) carries
their count and is drawn red. Mermaid renders in GitHub markdown and job step
summaries; dot is for Graphviz (`dot -Tsvg`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from helpers.effects import commands
from helpers.errors import UserError
from helpers.model import graph, units

if TYPE_CHECKING:
    pass
from helpers.ops.workspace import loader

FORMATS = ("text", "json", "mermaid", "dot")


DEPENDS, HOLDS, IMPORT = "depends", "holds", "import"


RED = "#d32f2f"
FILL = {"*": "#ffb74d", "(*)": "#fff59d"}
CLASS = {"*": "changed", "(*)": "affected"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # DEPENDS, HOLDS or IMPORT
    violations: int = 0


@dataclass(frozen=True)
class Picture:
    kinds: Mapping[str, str]  # unit -> units.RUNNABLE / units.PACKAGE, in display order
    edges: tuple[Edge, ...]
    marks: Mapping[str, str]  # unit -> "*" / "(*)"
    legend: str = ""  # what the marks are relative to

    def label(self, unit: str) -> str:
        mark = self.marks.get(unit)
        return f"{unit} {mark}" if mark else unit


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def picture(
    ws: units.Workspace,
    marks: Optional[Mapping[str, str]] = None,
    violations: Optional[Mapping[tuple[str, str], int]] = None,
    focus: Optional[str] = None,
    reverse: bool = False,
    legend: str = "",
) -> Picture:
    """The units, their edges and marks; `focus`: only what it reaches (`reverse`: its users)."""
    found = dict(violations or {})
    edges = []
    for source in ws.units:
        for target in ws.deps.get(source, ()):
            edges.append(Edge(source, target, DEPENDS, found.pop((source, target), 0)))
    for package, holder in sorted(ws.within.items()):
        edges.append(Edge(holder, package, HOLDS, found.pop((holder, package), 0)))
    edges += [Edge(s, t, IMPORT, n) for (s, t), n in sorted(found.items())]
    keep = set(ws.units)
    if focus is not None:
        view: dict[str, list[str]] = {}
        for e in edges:
            a, b = (e.target, e.source) if reverse else (e.source, e.target)
            view.setdefault(a, []).append(b)
        keep = graph.closure(view, [focus])
    kinds = {u: ws.units[u].kind for u in ws.units if u in keep}
    kept = tuple(e for e in edges if e.source in keep and e.target in keep)
    shown = {u: m for u, m in (marks or {}).items() if u in keep}
    return Picture(kinds, kept, shown, legend)


def _edge_note(e: Edge) -> str:
    plural = "s" if e.violations != 1 else ""
    return f"{e.violations} boundary violation{plural}" if e.violations else ""


def render_text(pic: Picture) -> str:
    """`a → b, c` per unit (marked), holds and undeclared imports below, then the legend."""
    deps: dict[str, list[str]] = {pic.label(u): [] for u in pic.kinds}
    for e in pic.edges:
        if e.kind == DEPENDS:
            note = f" ({_edge_note(e)})" if e.violations else ""
            deps[pic.label(e.source)].append(pic.label(e.target) + note)
    lines = graph.edge_lines(deps)
    held = [
        f"  {pic.label(e.source)} holds {pic.label(e.target)}" for e in pic.edges if e.kind == HOLDS
    ]
    if held:
        lines += ["", "tested in the container of the runnable dir holding them:", *held]
    imports = [
        f"  {e.source} → {e.target}: {_edge_note(e) or 'imported'}"
        for e in pic.edges
        if e.kind == IMPORT
    ]
    if imports:
        lines += ["", "imported but not declared (check_boundaries):", *imports]
    if pic.legend:
        lines += ["", pic.legend]
    return "\n".join(lines)


def render_json(pic: Picture) -> str:
    data = {
        "legend": pic.legend or None,
        "units": [
            {"path": u, "kind": k, "mark": pic.marks.get(u, "")} for u, k in pic.kinds.items()
        ],
        "edges": [
            {"from": e.source, "to": e.target, "kind": e.kind, "violations": e.violations}
            for e in pic.edges
        ],
    }
    return json.dumps(data, indent=2)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def render_mermaid(pic: Picture) -> str:
    ids = {u: f"u{i}" for i, u in enumerate(pic.kinds)}
    lines = ["flowchart LR"]
    for unit, kind in pic.kinds.items():
        label = _mermaid_text(pic.label(unit))
        shape = f'(["{label}"])' if kind == units.RUNNABLE else f'["{label}"]'
        lines.append(f"  {ids[unit]}{shape}")
    red = []
    for i, e in enumerate(pic.edges):
        note = _edge_note(e) or (IMPORT if e.kind == IMPORT else HOLDS if e.kind == HOLDS else "")
        arrow = "-->" if e.kind == DEPENDS else "-.->"  # dotted: not a declared dependency
        link = f"{arrow}|{note}|" if note else arrow
        lines.append(f"  {ids[e.source]} {link} {ids[e.target]}")
        if e.violations or e.kind == IMPORT:
            red.append(str(i))
    for mark, cls in CLASS.items():
        marked = [ids[u] for u, m in pic.marks.items() if m == mark]
        if marked:
            lines.append(f"  classDef {cls} fill:{FILL[mark]},stroke:#333")
            lines.append(f"  class {','.join(marked)} {cls}")
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:{RED},stroke-width:2px,color:{RED}")
    return "\n".join(lines)


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_attrs(pairs: Iterable[tuple[str, str]]) -> str:
    listed = ", ".join(f"{k}={v}" for k, v in pairs)
    return f" [{listed}]" if listed else ""


def render_dot(pic: Picture) -> str:
    lines = ["digraph deps {", "  rankdir=LR;", "  node [shape=box];"]
    for unit, kind in pic.kinds.items():
        attrs = [("label", _dot_text(pic.label(unit)))]
        style = ["rounded"] if kind == units.RUNNABLE else []
        mark = pic.marks.get(unit)
        if mark:
            style.append("filled")
            attrs.append(("fillcolor", _dot_text(FILL[mark])))
        if style:
            attrs.append(("style", _dot_text(",".join(style))))
        lines.append(f"  {_dot_text(unit)}{_dot_attrs(attrs)};")
    for e in pic.edges:
        attrs = []
        if e.kind != DEPENDS:
            attrs += [("style", "dashed"), ("label", _dot_text(e.kind))]
        if e.violations or e.kind == IMPORT:
            attrs = [a for a in attrs if a[0] != "label"]
            attrs += [("color", _dot_text(RED)), ("fontcolor", _dot_text(RED))]
            attrs.append(("label", _dot_text(_edge_note(e) or e.kind)))
        lines.append(f"  {_dot_text(e.source)} -> {_dot_text(e.target)}{_dot_attrs(attrs)};")
    if pic.legend:
        lines.append(f"  label={_dot_text(pic.legend)};")
    lines.append("}")
    return "\n".join(lines)


RENDER = {"text": render_text, "json": render_json, "mermaid": render_mermaid, "dot": render_dot}


def render(pic: Picture, fmt: str) -> str:
    return RENDER[check_format(fmt)](pic)


def deps_view(
    root: Path,
    fmt: str,
    unit: Optional[str] = None,
    reverse: bool = False,
    since: Optional[str] = None,
    runner: commands.Runner = commands.run,
) -> str:
    """`deps`: the graph in `fmt`, marked since `since`, red edges when boundaries are set."""

    check_format(fmt)
    loaded = loader.load(root, runner)
    ws = loaded.ws
    focus = ws.find(unit) if unit else None
    marks: dict[str, str] = {}
    legend = ""
    if since:
        from helpers.ops.workspace import info

        cs = loader.changeset(ws, since, runner)
        marks = info.marks(cs)
        changed, affected = info.CHANGED, info.AFFECTED
        legend = f"{changed} changed, {affected} affected, since {cs.base.label}"
    public = loader.public_modules(loaded.ws, loaded.root_cfg)
    violations = None
    if public is not None:
        from helpers.ops.workspace import boundaries

        violations = boundaries.check(ws, loaded.files, public).edges()
        legend = "; ".join(filter(None, [legend, "red: boundary violations (check_boundaries)"]))
    if fmt == "text" and (focus is not None or not (marks or violations)):
        return graph.deps_text(ws.deps, ws.within, focus, reverse)
    pic = picture(ws, marks, violations, focus, reverse, legend)
    return render(pic, fmt)
