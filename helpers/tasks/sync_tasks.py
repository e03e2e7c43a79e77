"""Keep the files a client takes from helpers in sync: `sync_files`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from invoke.context import Context

from helpers.tasks._common import task

if TYPE_CHECKING:
    from helpers.outcome import Outcome


@task(
    help={
        "check": "change nothing; exit 1 listing drifted files with a diff (for CI)",
        "force": "also replace files that differ from helpers' (yours are shown first)",
    }
)
def sync_files(ctx: Context, check: bool = False, force: bool = False) -> Outcome:
    """tasks.py, invoke.yaml, the conftest hook, the CI workflow: as helpers renders them."""
    from helpers.ops.adoption import sync

    return sync.sync(Path.cwd(), check=check, force=force)
