"""Tasks that describe the set-up: config, image names, engine and versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import DIR_HELP, task

if TYPE_CHECKING:
    from helpers.outcome import Outcome


@task(help={"dir": DIR_HELP})
def print_setup(ctx: Context, dir: Optional[str] = None) -> Outcome:
    """Print the resolved config, image names, engine capabilities and versions."""
    from helpers.ops.adoption import setup_report
    from helpers.outcome import Outcome

    return Outcome(setup_report.render(dir_flag=dir))
