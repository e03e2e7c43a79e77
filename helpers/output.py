"""The one output channel: data on stdout, notes on stderr.

Data is what a pipe reads (`invoke changes --format json | jq`): results, tables,
dry-run plans. Notes are for the person watching: progress, warnings, hints. Nothing
in helpers prints but through here: the task layer and the edge (helpers/edge.py)
call it; operations emit events (helpers/events.py), which `render` prints. No colour is
used (if it ever is: only on a terminal, never with `NO_COLOR` set or `TERM=dumb`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from helpers.events import Event


def _line(stream: TextIO, text: str) -> None:
    # One write per line: threads (main_pytest's planning) never split each other's lines.
    stream.write(text + "\n")
    stream.flush()


def data(text: str) -> None:
    """A result line (or lines) on stdout."""
    _line(sys.stdout, text)


def note(text: str) -> None:
    """A progress, warning or hint line on stderr (stdout stays data)."""
    _line(sys.stderr, text)


def render(event: Event) -> None:
    """The edge's sink for what operations emit (helpers/events.py)."""
    from helpers.events import Kind

    if event.kind is Kind.DATA:
        data(event.text)
    elif event.kind is Kind.WARNING:
        note(f"warning: {event.text}")
    else:
        note(event.text)
