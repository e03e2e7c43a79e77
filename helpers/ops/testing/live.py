"""What main_pytest shows while dirs run: a line per start and end, each dir's output.

Buffered (the default with several dirs): each dir's output as one block when it
ends. Live (one dir, or `-v`): the dir in front streams its output line by line as
pytest writes it; the others keep theirs until the one in front ends, then the next
one's output so far is shown and it streams in turn, so each dir's output is still
one unbroken block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Optional

from helpers import events
from helpers.ops.testing import parallel, report

DATA = events.Kind.DATA


def bar(rel_dir: str, image: str, tail: str = "") -> str:
    return f"{f'---- {rel_dir} ({image}) {tail} ':-<72}"


def typed(event: parallel.Started | parallel.Finished) -> events.Event:
    """A dir's start or end as the typed event a structured sink reads; its text, the line."""
    text = report.progress_line(event)
    if isinstance(event, parallel.Started):
        image = (("image", event.run.image),)
        return events.Started(DATA, text, step="test", subject=event.run.rel_dir, detail=image)
    r = event.result
    no_tests = r.exit_code == parallel.PYTEST_NO_TESTS or (
        r.counts is not None and not r.counts.total
    )
    status = (
        "cached"
        if r.cached
        else "no tests"
        if r.ok and no_tests
        else "passed"
        if r.ok
        else "failed"
    )
    tally = dataclasses.asdict(r.counts) if r.counts else {}
    counts = tuple((k, v) for k, v in tally.items() if k != "seconds")  # the dir's own: below
    detail = (("image", r.image), ("status", status), *counts, ("flaky", len(r.flaky)))
    return events.Finished(
        DATA, text, "test", r.rel_dir, r.exit_code, r.seconds, detail=tuple(detail)
    )


class View:
    """Turns driver events into events for `emit` (called under the driver's lock): a typed
    one per start and end, a data line per line shown."""

    def __init__(self, emit: Callable[[events.Event], None], live: bool) -> None:
        self.emit = emit
        self.live = live
        self.front: Optional[str] = None
        self.waiting: list[str] = []  # started, behind the front one, in start order
        self.kept: dict[str, list[str]] = {}  # their lines so far
        self.images: dict[str, str] = {}
        self.ended: dict[str, parallel.DirResult] = {}

    def __call__(self, event: parallel.Event) -> None:
        if isinstance(event, parallel.Output):
            self._line(event)
            return
        self.emit(typed(event))
        if not self.live:
            if isinstance(event, parallel.Finished):
                self._say(report.block(event.result))
            return
        if isinstance(event, parallel.Started):
            self._started(event.run.rel_dir, event.run.image)
        else:
            self._finished(event.result)

    def _started(self, rel_dir: str, image: str) -> None:
        self.images[rel_dir] = image
        self.kept[rel_dir] = []
        if self.front is None:
            self._to_front(rel_dir)
        else:
            self.waiting.append(rel_dir)

    def _line(self, event: parallel.Output) -> None:
        if event.rel_dir == self.front:
            self._say(event.line)
        else:
            self.kept.setdefault(event.rel_dir, []).append(event.line)

    def _to_front(self, rel_dir: str) -> None:
        self.front = rel_dir
        self._say(bar(rel_dir, self.images.get(rel_dir, "?"), "live"))
        for line in self.kept.pop(rel_dir, []):
            self._say(line)

    def _finished(self, result: parallel.DirResult) -> None:
        if result.rel_dir != self.front:
            self.ended[result.rel_dir] = result
            return
        self._say(bar(result.rel_dir, result.image, f"exit {result.exit_code}"))
        self.front = None
        while self.waiting:
            rel_dir = self.waiting.pop(0)
            done = self.ended.pop(rel_dir, None)
            if done is None:
                self._to_front(rel_dir)
                return
            self.kept.pop(rel_dir, None)
            self._say(report.block(done))  # it ended while behind: its whole output at once

    def _say(self, text: str) -> None:
        self.emit(events.Event(DATA, text))
