"""Only what changed: `changes`, `info` and `deps` over the units of the repo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import task

if TYPE_CHECKING:
    from helpers.outcome import Outcome

SINCE = (
    "git ref to compare with (merge base with HEAD), or last-success; "
    "default: $HELPERS_CHANGED_SINCE, else the last successful `main_pytest --dir .`"
)


def _root() -> Path:
    from helpers.model import workspace

    return workspace.find_repo_root(Path.cwd())


@task(help={"since": SINCE, "format": "text, json or github-matrix (for strategy.matrix)"})
def changes(ctx: Context, since: Optional[str] = None, format: str = "text") -> Outcome:
    """Changed and affected units, images to rebuild, versions to bump before release."""
    from helpers.ops.images import freshness
    from helpers.ops.workspace import changes as ch

    ch.check_format(format)
    ws, found = ch.load_and_compute(_root(), since)
    if format == "text" or format == "json":  # a CI matrix stays what changed
        found = ch.with_stale_images(found, freshness.stale_local(ws.root, ws.runnable(), ws=ws))
    from helpers.outcome import Outcome

    return Outcome(ch.render(found, format))


@task(help={"since": SINCE.replace("default:", "default (no marks without one):")})
def info(ctx: Context, since: Optional[str] = None) -> Outcome:
    """The workspace at a glance: units, versions, local images, * changed, (*) affected."""
    from helpers.ops.workspace import info
    from helpers.outcome import Outcome

    return Outcome(info.info(_root(), since))


@task(
    help={
        "unit": "a unit path or project name (default: every edge)",
        "reverse": "show what depends on the unit instead",
        "format": "text, json, mermaid (GitHub markdown) or dot (Graphviz)",
        "since": "mark changed (*) and affected ((*)) units since this git ref",
    }
)
def deps(
    ctx: Context,
    unit: Optional[str] = None,
    reverse: bool = False,
    format: str = "text",
    since: Optional[str] = None,
) -> Outcome:
    """The dependency graph between units; a cycle is an error printed as its path."""
    from helpers.ops.workspace import graph_render
    from helpers.outcome import Outcome

    return Outcome(graph_render.deps_view(_root(), format, unit, reverse, since))
