"""The one plain-text table renderer: left-aligned columns two spaces apart."""

from __future__ import annotations

from collections.abc import Sequence


def first(items: Sequence[str], limit: int) -> list[str]:
    """At most `limit` items, then `and N more` for the rest (as one more item)."""
    rest = len(items) - limit
    return [*items[:limit], f"and {rest} more"] if rest > 0 else list(items)


def listed(items: Sequence[str], limit: int) -> str:
    """`a, b, c and 4 more`: the first `limit` items of a long list, in one phrase."""
    rest = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {rest} more" if rest > 0 else "")


def count(n: int, noun: str, plural: str = "") -> str:
    """`1 dir`, `3 dirs`, `1 library`, `2 libraries`: counts read as English."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def render(rows: Sequence[Sequence[str]], *, rule: bool = False) -> str:
    """`rows[0]` is the header; `rule` puts a dashed line under it. Trailing blanks are cut."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
