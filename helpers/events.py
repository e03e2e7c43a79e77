"""What operations tell the person running them while they work (pypa/build's model).

An operation never prints. It returns its result, and while it works it emits events:
`events.progress("building ...")`, `events.warning(...)`, or `events.data(...)` for a
line a pipe reads (a dry-run plan, a progress table). Whoever runs the operation
chooses where events go: the edge (helpers/edge.py) sends them to the renderer
(helpers/output.py: data on stdout, the rest on stderr), which imports this module,
never the other way; a test collects them
(`with events.collected() as seen:`); anything else is one more sink, like the
JSON-lines one `HELPERS_EVENTS=json` picks (helpers/output.py), for CI annotations and tools.

An event keeps its structure until a sink renders it: `Started` and `Finished` say which
step began or ended on what (a dir's tests, a release step), with the exit code, the
seconds and counts, so a sink never parses the text.

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
from typing import Callable, Union


class Kind(enum.Enum):
    DATA = "data"  # a result line: stdout, for pipes
    PROGRESS = "progress"  # what is happening now: stderr
    WARNING = "warning"  # something the user should act on, the run goes on: stderr


Value = Union[str, int, float, bool, None]


@dataclass(frozen=True)
class Event:
    kind: Kind
    text: str  # what a person reads; "" shows nothing (the event is for structured sinks)

    def fields(self) -> dict[str, Value]:
        """The structured payload, beside the kind and the text."""
        return {}


@dataclass(frozen=True)
class Started(Event):
    """A step began: `step` is what (`test`, `release`), `subject` on what (a dir, an image)."""

    step: str = ""
    subject: str = ""
    detail: tuple[tuple[str, Value], ...] = ()

    def fields(self) -> dict[str, Value]:
        return {"event": "started", "step": self.step, "subject": self.subject, **dict(self.detail)}


@dataclass(frozen=True)
class Finished(Event):
    """A step ended with `code` (0 done) after `seconds`; `detail` holds its counts."""

    step: str = ""
    subject: str = ""
    code: int = 0
    seconds: float = 0.0
    detail: tuple[tuple[str, Value], ...] = ()

    def fields(self) -> dict[str, Value]:
        head: dict[str, Value] = {"event": "finished", "step": self.step, "subject": self.subject}
        return {**head, "code": self.code, "seconds": round(self.seconds, 3), **dict(self.detail)}


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
