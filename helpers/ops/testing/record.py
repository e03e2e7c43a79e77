"""The last-run record (`.helpers/last.json`): which dirs ran with which reports, so
`pytest_failed` and `pytest_repro` find the failures of the last run that ran tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.effects import fsutil
from helpers.errors import UserError
from helpers.ops.testing import testplan

LAST = "last.json"


def record_if_ran(
    root: Path, run_id: str, runs: Sequence[testplan.DirRun], lists: Sequence[str]
) -> bool:
    """Replace the last-run record only when tests ran (a dir wrote its report).

    A run that ran nothing (engine down, image missing, bad .env) keeps the previous
    record, so `pytest_failed` still finds the real failures.
    """
    ran = [r for r in runs if r.junit.is_file()]
    if ran:
        record_last(root, run_id, ran, lists)
    return bool(ran)


def record_last(
    root: Path, run_id: str, runs: Sequence[testplan.DirRun], lists: Sequence[str]
) -> None:
    data = {
        "run_id": run_id,
        "lists": list(lists),
        "dirs": [
            {"dir": r.rel_dir, "image": r.image, "report_dir": str(r.report_dir)} for r in runs
        ],
    }
    target = testplan.ensure_reports_root(root) / LAST
    target.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_atomic(target, json.dumps(data, indent=2) + "\n")


@dataclass(frozen=True)
class LastDir:
    dir: str
    image: str
    report_dir: str

    def failed(self) -> list[str]:
        path = Path(self.report_dir) / "failed.txt"
        if not path.is_file():
            return []
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_last(root: Path) -> list[LastDir]:
    path = root / testplan.STATE_DIR / "reports" / LAST
    if not path.is_file():
        raise UserError(f"no test run recorded in {path.parent}: run `invoke run_tests` first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [LastDir(**d) for d in data["dirs"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{path}: unreadable record of the last run; run the tests again") from None
