"""The invoke collection a client repo imports with one line: `from helpers.tasks import ns`.

Task names keep their underscores (`docker_bash`) when the client's invoke.yaml
sets `tasks: {auto_dash_names: false}`; flags are always dashed (`--dry-run`).
"""

from __future__ import annotations

from invoke.collection import Collection
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

ns = Collection(auto_dash_names=False)
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
