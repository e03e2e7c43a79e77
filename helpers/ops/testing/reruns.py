"""Flaky and quarantined tests on the host: what a dir's run says about them, and how
long each quarantined test has been passing.

The pytest plugin (helpers.pytest_flaky) writes `flaky.json` into the run's report dir.
Across runs, `.helpers/reports/quarantine.json` counts, per dir and quarantined test,
the runs in a row it passed; at STREAK the run says it can leave quarantine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from helpers import events
from helpers.effects import fsutil
from helpers.errors import UserError

FLAKY_FILE = "flaky.json"  # helpers.pytest_flaky.FLAKY_FILE (that module imports pytest)
if TYPE_CHECKING:
    from helpers.ops.testing.testplan import DirRun

STREAK_FILE = "quarantine.json"
STREAK = 3
MAX_RERUNS = 10


def parse_flag(value: object) -> Optional[int]:
    """`--reruns N` (None: not given, the config decides)."""
    if value is None or value == "":
        return None
    try:
        count = int(str(value))
    except ValueError:
        count = -1
    if not 0 <= count <= MAX_RERUNS:
        raise UserError(f"--reruns {value}: give a number of retries from 0 to {MAX_RERUNS}")
    return count


def read(report_dir: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(flaky node ids, quarantined node ids) of one dir's run; () when nothing was written."""
    try:
        data = json.loads((report_dir / FLAKY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return (), ()
    flaky = data.get("flaky") if isinstance(data, dict) else None
    quarantined = data.get("quarantined") if isinstance(data, dict) else None
    return (
        tuple(str(n) for n in flaky or ()),
        tuple(str(n) for n in quarantined or ()),
    )


def outcomes(report_dir: Path) -> dict[str, str]:
    """Quarantined node id -> how it ended (passed / failed) in that run."""
    try:
        data = json.loads((report_dir / FLAKY_FILE).read_text(encoding="utf-8"))
        found = data.get("quarantined") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def update_streaks(
    streaks: Mapping[str, Mapping[str, int]], ran: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, int]]:
    """Pure: `streaks` after the runs in `ran` (dir -> quarantined id -> outcome).

    A pass adds one; anything else starts again at 0. Tests no longer quarantined in a
    dir that ran are forgotten."""
    out = {d: dict(v) for d, v in streaks.items()}
    for rel, results in ran.items():
        before = out.get(rel, {})
        out[rel] = {n: (before.get(n, 0) + 1 if o == "passed" else 0) for n, o in results.items()}
    return {d: v for d, v in out.items() if v}


def can_leave(streaks: Mapping[str, Mapping[str, int]], dirs: Sequence[str]) -> list[str]:
    lines = []
    for rel in dirs:
        for nodeid, count in sorted(streaks.get(rel, {}).items()):
            if count >= STREAK:
                lines.append(
                    f"{rel}: {nodeid} passed {count} runs in a row: it can leave quarantine "
                    f"(drop it from the dir's `quarantine` in repo_config.yaml)"
                )
    return lines


def record(reports_root: Path, report_dirs: Mapping[str, Path]) -> list[str]:
    """Count this run's quarantined outcomes (dir -> its report dir); the lines to show."""
    ran = {rel: outcomes(path) for rel, path in report_dirs.items()}
    ran = {rel: found for rel, found in ran.items() if found}
    if not ran:
        return []
    path = reports_root / STREAK_FILE
    try:
        old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        old = {}
    streaks = update_streaks(old if isinstance(old, dict) else {}, ran)
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_atomic(path, json.dumps(streaks, indent=2, sort_keys=True) + "\n")
    return can_leave(streaks, list(ran))


def note_quarantine(root: Path, runs: Sequence[DirRun]) -> None:
    """After a run: count its quarantined outcomes; say which tests can leave quarantine."""
    from helpers.ops.testing import testplan

    ran = {r.rel_dir: r.report_dir for r in runs}
    for line in record(testplan.reports_root(root), ran):
        events.progress(line)
