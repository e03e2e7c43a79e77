"""The one output channel: data on stdout, notes on stderr.

Data is what a pipe reads (`invoke changes --format json | jq`): results, tables,
dry-run plans. Notes are for the person watching: progress, warnings, hints. Nothing
in helpers prints but through here: the edge (helpers/edge.py) calls it; operations emit
events (helpers/events.py), which a renderer prints. No colour is used (if it ever is:
only on a terminal, never with `NO_COLOR` set or `TERM=dumb`).

`HELPERS_EVENTS=json` swaps the renderer for one that writes every event, and the edge's
own error or interrupt line, as one JSON object per line on stderr (`kind`, `text`, and a
typed event's fields: `event`, `step`, `subject`, `code`, `seconds`, counts), for CI
annotations and tools; the result an operation returns stays text on stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from helpers.events import Event

EVENTS_ENV = "HELPERS_EVENTS"
MODES = ("text", "json")


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
    """The text sink for what operations emit (helpers/events.py); a textless event (one
    only a structured sink reads) shows nothing."""
    from helpers.events import Kind

    if not event.text:
        return
    if event.kind is Kind.DATA:
        data(event.text)
    elif event.kind is Kind.WARNING:
        note(f"warning: {event.text}")
    else:
        note(event.text)


def json_line(kind: str, text: str, fields: Mapping[str, object]) -> str:
    return json.dumps({"kind": kind, "text": text, **fields}, sort_keys=False)


def render_json(event: Event) -> None:
    """The JSON-lines sink: every event, one object per line, on stderr."""
    note(json_line(event.kind.value, event.text, event.fields()))


@dataclass(frozen=True)
class Renderer:
    """What the edge prints through: the sink for events and the edge's own last line."""

    events: Callable[[Event], None]
    mode: str = "text"

    def error(self, text: str) -> None:
        """The edge's one line (an error, "interrupted"): as is, or as a JSON `error` object."""
        note(json_line("error", text, {}) if self.mode == "json" else text)


def renderer(env: Mapping[str, str]) -> Renderer:
    """The renderer `HELPERS_EVENTS` picks (text when unset; an unknown value is one warning
    line and text, never a failed command)."""
    mode = env.get(EVENTS_ENV, "").strip().lower() or "text"
    if mode == "json":
        return Renderer(render_json, "json")
    if mode != "text":
        note(f"warning: {EVENTS_ENV}={mode!r} is not one of {', '.join(MODES)}; using text")
    return Renderer(render)
