"""The result cache's chores: prune this machine's entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.context import Context

from helpers.tasks._common import task

if TYPE_CHECKING:
    from helpers.outcome import Outcome


@task(help={"days": "remove entries no run used for this many days (default 30)"})
def cache_prune(ctx: Context, days: int = 30) -> Outcome:
    """Remove local test-result cache entries unused for --days N (${HELPERS_CACHE_HOME})."""
    from helpers.ops.testing import cache_results
    from helpers.outcome import Outcome

    return Outcome(cache_results.prune(float(days)))
