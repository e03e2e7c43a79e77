"""adopt.sh's entry: `python -m helpers.cli.adopt [--force]`, inside the one edge."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from helpers.errors import UserError
from helpers.ops.adoption import adopt
from helpers.outcome import Outcome


def main(argv: Optional[Sequence[str]] = None, cwd: Optional[Path] = None) -> int:
    from helpers import edge

    args = list(sys.argv[1:] if argv is None else argv)
    here = (cwd or Path.cwd()).resolve()
    return edge.main(lambda: _adopt(args, here), ["adopt.sh", *args])


def _adopt(args: Sequence[str], here: Path) -> Outcome:
    unknown = [a for a in args if a != "--force"]
    if unknown:
        raise UserError(f"unknown argument {unknown[0]!r} (adopt): usage: adopt.sh [--force]")
    return adopt.adopt(here, force="--force" in args)


if __name__ == "__main__":
    sys.exit(main())
