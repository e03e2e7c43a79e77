"""A Dockerfile's text, read for what helpers needs of it (pure: text in, facts out).

- `copied_sources`: what COPY/ADD take from the build context and keep visible at run
  time (the install inputs count those files);
- `base_image`: the image the final stage starts from, `ARG` defaults and build args
  substituted, stage names followed (the base whose id an image's inputs record);
- `base_arg_note`: one line when `base_image` cannot reach the build because no FROM
  takes `BASE_IMAGE` (the older tool's Dockerfiles name their base outright);
- `outside_git`: COPY/ADD sources git has no file for (a wheel a build step makes).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Optional

from helpers.model import project, workspace

BASE_ARG = "BASE_IMAGE"
INJECTED_DIR = ".helpers"  # what every build context gets from helpers (build_context)
_VAR = re.compile(r"\$(?:\{(\w+)(?::?-([^}]*))?\}|(\w+))")


def instructions(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        out.append(current + stripped)
        current = ""
    if current:
        out.append(current)
    return out


def _shadowed(dest: str, workdir: str) -> bool:
    """Whether a COPY destination lies under the mount point, hidden at run time."""
    where = posixpath.normpath(posixpath.join(workdir, dest))
    return where == project.MOUNT or where.startswith(project.MOUNT + "/")


def _copy_args(rest: str) -> Optional[list[str]]:
    """The sources and destination of a COPY/ADD (None: from another stage, or unreadable)."""
    tokens = rest.strip().split()
    if any(t.startswith("--from") for t in tokens):
        return None
    args = [t for t in tokens if not t.startswith("--")]
    if args and args[0].startswith("["):
        try:
            parsed = json.loads(" ".join(args))
        except ValueError:
            return None
        args = [a for a in parsed if isinstance(a, str)]
    return args


def copied_sources(text: str) -> list[str]:
    """The context sources of COPY/ADD that stay visible at run time: not `--from` ones,
    URLs or ones with variables, and not those copied under the mount point (/app)."""
    found = []
    workdir = "/"
    for line in instructions(text):
        word, _, rest = line.partition(" ")
        if word.upper() == "WORKDIR" and "$" not in rest:
            workdir = posixpath.join(workdir, rest.strip())
            continue
        if word.upper() not in ("COPY", "ADD"):
            continue
        args = _copy_args(rest)
        if args is None or len(args) < 2 or _shadowed(args[-1], workdir):
            continue
        for src in args[:-1]:
            if "$" in src or "://" in src:
                continue
            found.append(re.sub(r"^(\./|/)+", "", src))
    return found


def _substitute(word: str, values: Mapping[str, str]) -> Optional[str]:
    """`$X`, `${X}` and `${X:-default}` replaced; None when a variable has no value."""
    missing = False

    def one(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1) or match.group(3)
        value = values.get(name) or match.group(2)
        if not value:
            missing = True
            return ""
        return value

    out = _VAR.sub(one, word)
    return None if missing else out


def _stages(text: str, args: Mapping[str, str]) -> list[tuple[Optional[str], str]]:
    """(image, stage name) of each FROM, in order; image None when it cannot be told."""
    values: dict[str, str] = {}
    stages: list[tuple[Optional[str], str]] = []
    for line in instructions(text):
        word, _, rest = line.partition(" ")
        if word.upper() == "ARG" and not stages:  # global ARGs: the ones FROM lines see
            name, _, default = rest.strip().partition("=")
            values[name.strip()] = args.get(name.strip(), default.strip().strip("\"'"))
        elif word.upper() == "FROM":
            tokens = [t for t in rest.split() if not t.startswith("--")]
            image = _substitute(tokens[0], values) if tokens else None
            alias = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else ""
            stages.append((image, alias.lower()))
    return stages


def base_image(text: str, args: Mapping[str, str]) -> Optional[str]:
    """The image the final stage builds on (a stage name followed to its own FROM);
    None for `scratch`, no FROM, or a variable without a value."""
    stages = _stages(text, args)
    image = stages[-1][0] if stages else None
    for earlier in reversed(stages[:-1]):
        if image is not None and image.lower() == earlier[1]:
            image = earlier[0]
    return None if image is None or image.lower() == "scratch" else image


def takes_base_arg(text: str) -> bool:
    """Whether a FROM line takes the BASE_IMAGE build arg."""
    pattern = re.compile(r"\$\{?" + BASE_ARG + r"\b")
    return any(
        line.partition(" ")[0].upper() == "FROM" and pattern.search(line)
        for line in instructions(text)
    )


def base_arg_note(
    where: str, text: str, base: Optional[str] = None, origin: Optional[str] = None
) -> Optional[str]:
    """One line when `base_image` (`base`, set by `origin`) has no effect on the
    Dockerfile at `where` (a repo path), which names its own base; None when it takes
    BASE_IMAGE (or holds no instruction)."""
    if takes_base_arg(text) or not instructions(text):
        return None
    own = base_image(text, {}) or "its FROM image"
    setting = f"base_image {base} (set by {origin})" if base and origin else "base_image"
    return (
        f"{where} has no `ARG {BASE_ARG}` in its FROM (it starts from {own}), so {setting} "
        f"has no effect on it; to use it, start the file with `ARG {BASE_ARG}={own}` and "
        f"`FROM ${{{BASE_ARG}}}`"
    )


def base_notes(target: project.Target, text: Optional[str] = None) -> list[str]:
    """What a build says once (and print_setup shows) when the dir sets `base_image`
    (any config or $HELPERS_BASE_IMAGE) and its Dockerfile cannot take it. `text`: the
    Dockerfile as the build read it (else read here)."""
    origin = target.cfg.origin.get("base_image")
    if not origin:
        return []
    if text is None:
        text = read_text(target.path / target.dockerfile)
    where = target.dockerfile if target.rel_dir == "." else f"{target.rel_dir}/{target.dockerfile}"
    note = base_arg_note(where, text, target.cfg.base_image, origin)
    return [note] if note else []


def _literal_path(src: str) -> str:
    """The context path a COPY source names for sure: itself, or the dir before its first
    variable or glob ("" when that is the whole context, or the source is a URL)."""
    if "://" in src:
        return ""
    clean = re.sub(r"^(\./|/)+", "", src)
    literal = re.split(r"[$*?\[]", clean, maxsplit=1)[0]
    where = clean if literal == clean else posixpath.dirname(literal)
    return "" if where.strip("/") in ("", ".") else where.rstrip("/")


def outside_git(text: str, rel_dir: str, files: Set[str]) -> list[str]:
    """COPY/ADD sources of the dir `rel_dir`'s Dockerfile under which git lists no file
    (`files`: tracked and untracked-not-ignored, repo-relative): made by a step the
    Dockerfile does not run, such as polylith's `COPY ./dist/$wheel` of a built wheel."""
    found = []
    for line in instructions(text):
        word, _, rest = line.partition(" ")
        args = _copy_args(rest) if word.upper() in ("COPY", "ADD") else None
        for src in (args or [])[:-1]:
            where = _literal_path(src)
            path = where if rel_dir == "." else f"{rel_dir}/{where}"
            if not where or workspace.is_under(where, INJECTED_DIR):
                continue  # the whole context, or the .helpers/ helpers adds to every one
            if not any(workspace.is_under(f, path) for f in files):
                found.append(src)
    return found


def candidate_notes(
    root: Path, rel_dir: str, dockerfile: str, files: Set[str] = frozenset()
) -> list[str]:
    """For adopt's list of Dockerfiles not yet runnable: the same note, indented, and one
    per COPY of what git does not have."""
    where = dockerfile if rel_dir == "." else f"{rel_dir}/{dockerfile}"
    text = read_text(root / where)
    notes = [base_arg_note(where, text)]
    notes += [
        f"{where} COPYs {src}, which git does not have (a build output?): a fresh clone "
        "(CI too) cannot build it until that step has run; a Dockerfile that installs the "
        "dir from its sources builds anywhere (`invoke create_runnable_dir` writes one)"
        for src in (outside_git(text, rel_dir, files) if files else [])
    ]
    return [f"  note: {note}" for note in notes if note]


def read_text(path: Path) -> str:
    """A Dockerfile's text ("" when it cannot be read: a dangling link, say)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
