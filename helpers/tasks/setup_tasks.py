"""Tasks that describe the set-up: config, image names, engine and versions."""

from __future__ import annotations

from typing import Optional

from invoke.context import Context

from helpers import output
from helpers.tasks._common import DIR_HELP, task


@task(help={"dir": DIR_HELP})
def print_setup(ctx: Context, dir: Optional[str] = None) -> None:
    """Print the resolved config, image names, engine capabilities and versions."""
    from helpers.ops.adoption import setup_report

    output.data(setup_report.render(dir_flag=dir))
