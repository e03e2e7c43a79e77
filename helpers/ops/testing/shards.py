"""`main_pytest --shard I/N`: a deterministic share of the selected dirs, for any CI.

Every shard computes the same assignment from the same inputs (the sorted dir
list, N and the optional durations), so GitLab `parallel:`, Buildkite
parallelism or a plain loop can split a run without talking to each other.
The assignment is greedy longest-first: dirs by descending weight (ties by
path) each go to the lightest shard so far (ties: the lowest index). A dir's
weight is its seconds in the `--durations` report, the mean of the known ones
when it is new, or 1 for every dir without a report (balance by count).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, TypeVar

from helpers.errors import UserError

REPORT_FORMAT = "helpers.ops.main_pytest/1"
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    total: int

    @property
    def label(self) -> str:
        return f"{self.index}/{self.total}"

    def as_json(self, dirs: Sequence[str]) -> dict[str, Any]:
        return {"index": self.index, "total": self.total, "dirs": list(dirs)}


def parse(text: str) -> Shard:
    """`I/N` with 1 <= I <= N; anything else is one clear error."""
    m = _SHARD.match(text)
    if not m:
        raise UserError(f"--shard {text!r}: expected I/N, e.g. --shard 1/4 (shard 1 of 4)")
    index, total = int(m.group(1)), int(m.group(2))
    if total < 1 or not 1 <= index <= total:
        raise UserError(
            f"--shard {text}: I must be between 1 and N (N >= 1); use 1/{max(total, 1)} .. "
            f"{max(total, 1)}/{max(total, 1)}"
        )
    return Shard(index, total)


def load_durations(path: Path) -> dict[str, float]:
    """Seconds per dir from a JSON report of main_pytest (sharded, merged or not)."""
    data = read_report(path, "--durations")
    out: dict[str, float] = {}
    for entry in data["dirs"]:
        out[entry["dir"]] = float(entry["seconds"])
    return out


def read_report(path: Path, flag: str) -> dict[str, Any]:
    """A main_pytest JSON report, checked enough that its use cannot crash."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{flag} {path}: cannot read it ({exc}); pass a report.json") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(
            f"{flag} {path}: not valid JSON ({exc}); pass the report.json main_pytest wrote"
        ) from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise UserError(
            f'{flag} {path}: not a main_pytest JSON report (no "format": "{REPORT_FORMAT}"); '
            "pass the report.json main_pytest wrote"
        )
    dirs = data.get("dirs")
    ok_dirs = isinstance(dirs, list) and all(
        isinstance(d, dict)
        and isinstance(d.get("dir"), str)
        and isinstance(d.get("seconds"), (int, float))
        for d in dirs
    )
    if not ok_dirs or not isinstance(data.get("exit_code"), int):
        raise UserError(
            f"{flag} {path}: a main_pytest report with a broken 'dirs' or 'exit_code'; "
            "pass an unedited report.json"
        )
    return data


def assign(
    dirs: Sequence[str], total: int, durations: Optional[Mapping[str, float]] = None
) -> list[tuple[str, ...]]:
    """The dirs of each of `total` shards (index 0 = shard 1), each in the input order."""
    known = {d: s for d, s in (durations or {}).items() if s >= 0}
    fallback = sum(known.values()) / len(known) if known else 1.0
    weight = {d: known.get(d, fallback) if known else 1.0 for d in dirs}
    loads = [0.0] * total
    where: dict[str, int] = {}
    for d in sorted(set(dirs), key=lambda d: (-weight[d], d)):
        lightest = min(range(total), key=lambda i: (loads[i], i))
        where[d] = lightest
        # A zero-second dir still counts a little, so count still balances.
        loads[lightest] += max(weight[d], 1e-6)
    return [tuple(d for d in dirs if where[d] == i) for i in range(total)]


class _Sel(Protocol):
    @property
    def dirs(self) -> tuple[str, ...]: ...

    @property
    def unaffected(self) -> tuple[tuple[str, str], ...]: ...


S = TypeVar("S", bound=_Sel)


def narrow(sel: S, shard: Shard, durations: Optional[Mapping[str, float]] = None) -> S:
    """Only this shard's dirs; the dirs left out by --changed-since are listed in shard 1 only."""
    mine = assign(sel.dirs, shard.total, durations)[shard.index - 1]
    unaffected = sel.unaffected if shard.index == 1 else ()
    return dataclasses.replace(sel, dirs=mine, unaffected=unaffected)  # type: ignore[type-var]


def exact(sel: S, rel: str) -> S:
    """Only the dir `rel` itself, not the runnable dirs nested in it (`--exact`)."""
    if rel not in sel.dirs:
        raise UserError(f"--exact: {rel} is not a runnable dir; run `invoke info` to list them")
    return dataclasses.replace(sel, dirs=(rel,))  # type: ignore[type-var]
