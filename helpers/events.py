"""What operations tell the person running them while they work (pypa/build's model).

An operation never prints. It returns its result, and while it works it emits events:
`events.progress("building ...")`, `events.warning(...)`, or `events.data(...)` for a
line a pipe reads (a dry-run plan, a progress table). Whoever runs the operation
chooses where events go: the edge (helpers/edge.py) sends them to the renderer
(helpers/output.py: data on stdout, the rest on stderr), which imports this module,
never the other way; a test collects them
(`with events.collected() as seen:`); anything else (a JSON log, CI annotations)
is one more sink.

Sinks are process-wide, not per-context: main_pytest plans dirs in worker threads, and
a thread does not inherit a context variable's value.
"""

from __future__ import annotations

import contextlib
import enum
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable


class Kind(enum.Enum):
    DATA = "data"  # a result line: stdout, for pipes
    PROGRESS = "progress"  # what is happening now: stderr
    WARNING = "warning"  # something the user should act on, the run goes on: stderr


@dataclass(frozen=True)
class Event:
    kind: Kind
    text: str


Sink = Callable[[Event], None]

_lock = threading.Lock()
_sinks: list[Sink] = []


def _plain(event: Event) -> None:
    """Outside the edge (a script or test calling an operation directly, no sink installed):
    one plain line on stderr, so nothing is lost. The edge installs the renderer."""
    sys.stderr.write(f"{event.text}\n")


def emit(event: Event) -> None:
    """Hand the event to the innermost sink (plain stderr lines when none is installed)."""
    with _lock:
        sink = _sinks[-1] if _sinks else _plain
    sink(event)


def data(text: str) -> None:
    emit(Event(Kind.DATA, text))


def progress(text: str) -> None:
    emit(Event(Kind.PROGRESS, text))


def warning(text: str) -> None:
    emit(Event(Kind.WARNING, text))


@contextlib.contextmanager
def to(sink: Sink) -> Iterator[None]:
    """Send events to `sink` inside the block (innermost wins)."""
    with _lock:
        _sinks.append(sink)
    try:
        yield
    finally:
        with _lock:  # this block's own entry: the innermost one that is this very sink
            del _sinks[max(i for i, s in enumerate(_sinks) if s is sink)]


@contextlib.contextmanager
def collected() -> Iterator[list[Event]]:
    """The events emitted inside the block, in order, instead of rendering them."""
    seen: list[Event] = []
    with to(seen.append):
        yield seen
