"""The invoke collection a client repo imports with one line: `from helpers.tasks import ns`.

Task names keep their underscores (`docker_bash`) when the client's invoke.yaml
sets `tasks: {auto_dash_names: false}`; flags are always dashed (`--dry-run`).
"""

from __future__ import annotations

import sys
from typing import Optional

from invoke.collection import Collection
from invoke.parser.context import ParserContext
from invoke.tasks import Task

from helpers.tasks import (
    cache_tasks,
    change_tasks,
    changelog_tasks,
    chore_tasks,
    devcontainer_tasks,
    docker_tasks,
    hygiene_tasks,
    pytest_tasks,
    release_tasks,
    scaffold_tasks,
    setup_tasks,
    sync_tasks,
)


class _Named(Collection):
    """invoke's Collection, parsing with the contexts of the tasks the command line names.

    invoke builds a parser context for every task and deep-copies them all for each parse:
    ~15 ms for our ~40 tasks on every command, which a one-task tasks.py never pays. Only
    the contexts of names on the command line are built; a listing that names none needs
    none; with no name there otherwise (bare help, a Program run with its own argv) or
    when completing, all are.
    """

    def to_contexts(self, ignore_unknown_help: Optional[bool] = None) -> list[ParserContext]:
        words = set(sys.argv[1:])
        names = self.task_names
        wanted = {p for p, aliases in names.items() if p in words or words & set(aliases)}
        if "--complete" in words:
            return super().to_contexts(ignore_unknown_help)
        if not wanted:
            return [] if words & {"-l", "--list"} else super().to_contexts(ignore_unknown_help)
        return [
            ParserContext(
                name=primary,
                aliases=names[primary],
                args=self[primary].get_arguments(ignore_unknown_help=ignore_unknown_help),
            )
            for primary in names
            if primary in wanted
        ]


ns = _Named(auto_dash_names=False)
for _module in (
    docker_tasks,
    release_tasks,
    pytest_tasks,
    changelog_tasks,
    setup_tasks,
    change_tasks,
    chore_tasks,
    hygiene_tasks,
    sync_tasks,
    scaffold_tasks,
    devcontainer_tasks,
    cache_tasks,
):
    for _task in vars(_module).values():
        if isinstance(_task, Task):
            ns.add_task(_task)
