"""Render a run: progress lines, the summary table, the JSON report; pure over results."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from helpers import tables
from helpers.model.junit import Counts
from helpers.ops.testing.parallel import DirResult, Event, Output, Started
from helpers.ops.testing.shards import REPORT_FORMAT

HEADERS = ("dir", "image", "passed", "failed", "skipped", "errors", "flaky", "seconds")
CACHED = "cached"  # the status column, shown when the result cache served a dir


def dirs(n: int) -> str:
    """`1 dir`, `3 dirs`: counts in summaries read as English."""
    return tables.count(n, "dir")


def progress_line(event: Event) -> str:
    if isinstance(event, Started):
        return f"start  {event.run.rel_dir}  ({event.run.image})"
    if isinstance(event, Output):
        return event.line
    return end_line(event.result)


def end_line(r: DirResult) -> str:
    status = "cached" if r.cached else "ok  " if r.ok else "FAIL"
    what = r.counts.describe() if r.counts else (r.note or f"exit {r.exit_code}")
    return f"{status}   {r.rel_dir}  {what} in {r.seconds:.1f} s"


def block(r: DirResult) -> str:
    bar = f"---- {r.rel_dir} ({r.image}) exit {r.exit_code} "
    return f"{bar:-<72}\n{r.output.rstrip()}\n"


def _row(r: DirResult) -> tuple[str, ...]:
    c = r.counts or Counts()
    errors = c.errors if r.counts else (0 if r.ok else 1)
    return (
        r.rel_dir,
        r.image,
        str(c.passed),
        str(c.failed),
        str(c.skipped),
        str(errors),
        str(len(r.flaky)),
        f"{r.seconds:.1f}",
    )


# One row of the summary, as every format shows it (text table, HTML report).
row = _row


def table(results: Sequence[DirResult], skipped: Sequence[tuple[str, str]] = ()) -> str:
    rows = [HEADERS, *(_row(r) for r in results)]
    if any(r.cached for r in results):
        marks = [CACHED, *(CACHED if r.cached else "" for r in results)]
        rows = [(*row, mark) for row, mark in zip(rows, marks)]
    lines = [tables.render(rows, rule=True)]
    lines += [f"{rel_dir}: not run ({why})" for rel_dir, why in skipped]
    lines += test_notes(results)
    return "\n".join(lines)


def test_notes(results: Sequence[DirResult]) -> list[str]:
    """One line per flaky and per quarantined test, under the table."""
    return [line for r in results for line in dir_notes(r.rel_dir, r.flaky, r.quarantined)]


def dir_notes(rel_dir: str, flaky: Sequence[str], quarantined: Sequence[str]) -> list[str]:
    lines = [f"{rel_dir}: flaky (failed, then passed on a rerun): {n}" for n in flaky]
    return lines + [f"{rel_dir}: quarantined (cannot fail the run): {n}" for n in quarantined]


def totals(results: Sequence[DirResult]) -> Counts:
    total = Counts()
    for r in results:
        total += r.counts or Counts(errors=0 if r.ok else 1)
    return total


def to_json(
    run_id: str,
    exit_code: int,
    results: Sequence[DirResult],
    skipped: Sequence[tuple[str, str]],
    extra: Optional[Mapping[str, Any]] = None,
) -> str:
    """The JSON report; `extra` adds keys (a shard's identity, a merge's sources)."""
    dirs = []
    for r in results:
        c = r.counts or Counts()
        dirs.append(
            {
                "dir": r.rel_dir,
                "image": r.image,
                "exit_code": r.exit_code,
                "ok": r.ok,
                "passed": c.passed,
                "failed": c.failed,
                "skipped": c.skipped,
                "errors": c.errors if r.counts else (0 if r.ok else 1),
                "seconds": round(r.seconds, 3),
                "note": r.note,
                "cached": r.cached,
                "flaky": list(r.flaky),
                "quarantined": list(r.quarantined),
            }
        )
    data = {
        "format": REPORT_FORMAT,
        "run_id": run_id,
        "exit_code": exit_code,
        "dirs": dirs,
        "not_run": [{"dir": d, "why": why} for d, why in skipped],
        **(extra or {}),
    }
    return json.dumps(data, indent=2) + "\n"
