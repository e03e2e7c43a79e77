""".dockerignore matching with Docker's rules (moby/patternmatcher), pure.

- one pattern a line; `#` comments; blank lines ignored; a leading `/` is dropped
- `*` any run of non-`/` chars, `?` one non-`/` char, `[...]` a class, `**` any dirs
- `!pattern` re-includes; the last matching pattern wins
- a pattern that matches a dir excludes everything below it
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    negate: bool
    text: str


def _translate(pattern: str) -> str:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                if i + 1 < n and pattern[i + 1] == "/":
                    i += 1
                out.append(".*" if i + 1 == n else "(?:.*/)?")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif char == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)


def parse(text: str) -> tuple[Pattern, ...]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        body = line[1:].strip() if negate else line
        body = posixpath.normpath(body).lstrip("/")
        if body in ("", "."):
            continue
        patterns.append(Pattern(re.compile(_translate(body)), negate, line))
    return tuple(patterns)


def _matches(pattern: Pattern, path: str) -> bool:
    if pattern.regex.match(path):
        return True
    parts = path.split("/")
    return any(pattern.regex.match("/".join(parts[:k])) for k in range(1, len(parts)))


def excluded(patterns: tuple[Pattern, ...], path: str) -> bool:
    """Whether the context-relative POSIX `path` is left out of the build context."""
    result = False
    for pattern in patterns:
        if _matches(pattern, path):
            result = not pattern.negate
    return result


def dir_hits(
    patterns: tuple[Pattern, ...], parent: tuple[bool, ...], dir_path: str
) -> tuple[bool, ...]:
    """Per pattern: does it match `dir_path` or one of its ancestors (`parent`, the same
    answer for the parent dir). Walks compute it once per dir instead of once per file."""
    return tuple(hit or bool(p.regex.match(dir_path)) for p, hit in zip(patterns, parent))


def any_of(patterns: tuple[Pattern, ...]) -> re.Pattern[str]:
    """One regex matching what any of the patterns matches: most files match none."""
    return re.compile("|".join(f"(?:{p.regex.pattern})" for p in patterns) or "(?!)")


def excluded_in(
    patterns: tuple[Pattern, ...],
    hits: tuple[bool, ...],
    path: str,
    combined: Optional[re.Pattern[str]] = None,
) -> bool:
    """`excluded(patterns, path)` for a file whose dir's `dir_hits` are `hits`;
    `combined`: `any_of(patterns)`, made once per walk."""
    combined = combined or any_of(patterns)
    if True not in hits and not combined.match(path):
        return False  # one regex call instead of one per pattern
    for pattern, hit in zip(reversed(patterns), reversed(hits)):
        if hit or pattern.regex.match(path):
            return not pattern.negate  # the last matching pattern wins
    return False


def _literal_prefix(pattern: str) -> str:
    for i, char in enumerate(pattern):
        if char in "*?[\\":
            return pattern[:i]
    return pattern


def may_prune(patterns: tuple[Pattern, ...], dir_path: str) -> bool:
    """A dir can be skipped whole when it is excluded and no `!pattern` can reach inside it."""
    if not excluded(patterns, dir_path):
        return False
    below = dir_path + "/"
    for p in patterns:
        if p.negate:
            prefix = _literal_prefix(p.text[1:].strip().lstrip("/"))
            if prefix.startswith(below) or below.startswith(prefix):
                return False
    return True
