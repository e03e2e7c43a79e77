"""The initializeCommand of the devcontainer.json files helpers writes (run on the host by
VS Code or the devcontainers CLI, through dev_scripts/devcontainer_init.sh):

    python -m helpers.cli.devcontainer DIR     (at the client repo root)

Builds the dir's image when missing or stale, derives the image the file names with the
host user in it, writes the env file the file names, and starts the dir's services (healthy,
on the network the file names; reused when running with the same config). Exit codes as
everywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from helpers.errors import UserError
from helpers.outcome import Outcome


def main(argv: Optional[Sequence[str]] = None, cwd: Optional[Path] = None) -> int:
    from helpers import edge

    args = list(sys.argv[1:] if argv is None else argv)
    here = (cwd or Path.cwd()).resolve()
    return edge.main(lambda: _prepare(args, here), ["devcontainer_init.sh", *args])


def _prepare(args: Sequence[str], here: Path) -> Outcome:
    if len(args) != 1 or args[0].startswith("-"):
        raise UserError(
            f"devcontainer_init.sh {' '.join(args)}: usage: devcontainer_init.sh ROOT DIR "
            "(as the devcontainer.json `invoke devcontainer` wrote runs it)"
        )
    from helpers.ops.adoption import devcontainer

    return devcontainer.prepare(here, args[0])


if __name__ == "__main__":
    sys.exit(main())
