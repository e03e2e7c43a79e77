"""A dependency graph between units: cycles with their path, closures, text views; pure.

A graph maps each node to the nodes it depends on. Iteration is always in
sorted order, so every answer (including which cycle is reported) is stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Optional

from helpers.errors import UserError

Graph = Mapping[str, Sequence[str]]
ARROW = " → "


def _rotated(loop: list[str]) -> list[str]:
    """The loop starting (and ending) at its smallest node, so a cycle reads the same always."""
    i = loop.index(min(loop))
    return [*loop[i:], *loop[:i], loop[i]]


def find_cycle(g: Graph) -> Optional[list[str]]:
    """A cycle as its path, first node repeated at the end (`[a, b, a]`); None if acyclic."""
    done: set[str] = set()
    for start in sorted(g):
        if start in done:
            continue
        path = [start]
        on_path = {start}
        stack = [iter(sorted(g.get(start, ())))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif nxt in on_path:
                return _rotated(path[path.index(nxt) :])
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter(sorted(g.get(nxt, ()))))
    return None


def check_acyclic(g: Graph) -> None:
    cycle = find_cycle(g)
    if cycle:
        raise UserError(
            f"dependency cycle: {ARROW.join(cycle)}; remove one of these dependencies "
            "(pyproject.toml dependencies or depends_on in repo_config.yaml)"
        )


def reverse(g: Graph) -> dict[str, tuple[str, ...]]:
    """Who depends on each node."""
    out: dict[str, list[str]] = {node: [] for node in g}
    for node, deps in g.items():
        for dep in deps:
            out.setdefault(dep, []).append(node)
    return {node: tuple(sorted(users)) for node, users in out.items()}


def closure(g: Graph, seeds: Iterable[str]) -> set[str]:
    """The seeds and everything reachable from them."""
    seen = set(seeds)
    todo = list(seen)
    while todo:
        for nxt in g.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def edge_lines(g: Graph, arrow: str = ARROW) -> list[str]:
    """One line per node: `a → b, c` (or just `a`)."""
    return [
        f"{node}{arrow}{', '.join(g[node])}" if g[node] else node
        for node in sorted(g, key=lambda n: (n != ".", n))
    ]


def tree_lines(g: Graph, start: str) -> list[str]:
    """`start` and what it reaches, as an indented tree; a repeated subtree is shown once."""
    lines = [start]
    shown: set[str] = set()

    def walk(node: str, indent: str) -> None:
        children = sorted(g.get(node, ()))
        for i, child in enumerate(children):
            last = i == len(children) - 1
            again = child in shown and bool(g.get(child))
            branch = "└── " if last else "├── "
            lines.append(f"{indent}{branch}{child}{' (see above)' if again else ''}")
            if not again:
                shown.add(child)
                walk(child, indent + ("    " if last else "│   "))

    walk(start, "")
    return lines


def _holds(within: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for inner, holder in sorted(within.items()):
        out.setdefault(holder, []).append(inner)
    return out


def deps_text(g: Graph, within: Mapping[str, str], node: Optional[str], users: bool) -> str:
    """`deps`: every edge (`a → b, c`), or one node's tree; `users`: who depends instead.

    `within` maps a package to the runnable dir holding it: not an edge, but the
    dir is tested (and so affected) with it, which the text says.
    """
    view = reverse(g) if users else g
    holds = _holds(within)
    if node is None:
        lines = edge_lines(view, " ← " if users else ARROW)
        held = [f"  {d} holds {', '.join(inner)}" for d, inner in sorted(holds.items())]
        if held:
            lines += ["", "tested in the container of the runnable dir holding them:", *held]
        return "\n".join(lines)
    lines = tree_lines(view, node)
    if node in within:
        lines.append(f"(tested in the container of {within[node]})")
    if node in holds:
        lines.append(f"(holds {', '.join(holds[node])}, tested in its container)")
    return "\n".join(lines)
