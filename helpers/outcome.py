"""What an operation ends with: its result for stdout and its exit code.

An operation returns an `Outcome`; it does not print it. The edge (helpers/edge.py)
shows the text on stdout and exits with the code, so a task body is `return op(...)`
and a test reads the result without capturing output. Progress while the operation
runs goes through helpers/events.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    text: str = ""  # the result, for stdout (a pipe's); "" shows nothing
    code: int = 0  # the exit code: 0 done, 1 failed, 2 refused (see helpers.errors)

    @classmethod
    def of(cls, lines: Iterable[str], code: int = 0) -> Outcome:
        return cls("\n".join(lines), code)
