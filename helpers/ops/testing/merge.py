"""`main_pytest --merge-reports DIR...`: the shards' reports back into one table, JUnit, JSON.

Each DIR holds a shard's `report.json` (and `junit.xml` beside it), directly or
one level down (a dir of downloaded CI artifacts). Exit code: 2 when a shard is
missing (named) or the reports disagree, else 1 when any shard failed, else the
worst shard code. Bad reports (malformed, foreign, a dir in two shards) stop
the merge before anything is written.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from helpers import events, tables
from helpers.effects import fsutil
from helpers.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UserError
from helpers.model import junit, workspace
from helpers.ops.testing import parallel, report, shards, testplan
from helpers.outcome import Outcome

FLAG = "--merge-reports"
REPORT = "report.json"
JUNIT = "junit.xml"


@dataclass(frozen=True)
class Part:
    path: Path  # the report.json
    data: Mapping[str, Any]

    @property
    def shard(self) -> Optional[shards.Shard]:
        s = self.data.get("shard")
        return shards.Shard(s["index"], s["total"]) if isinstance(s, dict) else None

    @property
    def junit(self) -> Path:
        return self.path.parent / JUNIT

    def dirs(self) -> list[str]:
        ran = [d["dir"] for d in self.data["dirs"]]
        return ran + [n["dir"] for n in self.data.get("not_run", [])]


@dataclass(frozen=True)
class Merged:
    run_id: str
    exit_code: int
    results: tuple[parallel.DirResult, ...]
    not_run: tuple[tuple[str, str], ...]
    parts: tuple[Part, ...]
    missing: tuple[str, ...]  # shards or dirs with no report
    junit_xml: str

    def to_json(self) -> str:
        extra = {
            "merged_from": [
                {
                    "report": str(p.path),
                    "exit_code": p.data["exit_code"],
                    "shard": p.data.get("shard"),
                }
                for p in self.parts
            ],
            "missing": list(self.missing),
        }
        return report.to_json(self.run_id, self.exit_code, self.results, self.not_run, extra)


def find_reports(args: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for arg in args:
        if arg.is_file():
            found.append(arg)
        elif (arg / REPORT).is_file():
            found.append(arg / REPORT)
        elif arg.is_dir() and sorted(arg.glob(f"*/{REPORT}")):
            found += sorted(arg.glob(f"*/{REPORT}"))
        else:
            raise UserError(
                f"{FLAG} {arg}: no {REPORT} in it or one level down; pass the dirs holding the "
                "shards' reports (main_pytest --json DIR/report.json)"
            )
    return found


def _check(parts: Sequence[Part]) -> None:
    """Reports that cannot be merged: mixed sharding, differing N, a shard or dir twice."""
    sharded = [p for p in parts if p.shard is not None]
    if sharded and len(sharded) != len(parts):
        plain = next(p for p in parts if p.shard is None)
        raise UserError(
            f"{FLAG}: {plain.path} is not a shard's report while others are; "
            "merge either shards of one run or whole runs"
        )
    totals = {p.shard.total for p in sharded if p.shard}
    if len(totals) > 1:
        raise UserError(
            f"{FLAG}: shards of different splits ({', '.join(f'N={n}' for n in sorted(totals))}); "
            "merge the shards of one run"
        )
    seen_shard: dict[int, Path] = {}
    seen_dir: dict[str, Path] = {}
    for p in parts:
        if p.shard is not None:
            if p.shard.index in seen_shard:
                raise UserError(
                    f"{FLAG}: shard {p.shard.label} twice ({seen_shard[p.shard.index]} and "
                    f"{p.path}); pass each shard once"
                )
            seen_shard[p.shard.index] = p.path
        for d in p.dirs():
            if d in seen_dir:
                raise UserError(
                    f"{FLAG}: dir {d} is in two reports ({seen_dir[d]} and {p.path}); "
                    "shards must split one selection (same --dir, same N)"
                )
            seen_dir[d] = p.path


def _missing(parts: Sequence[Part], expect_dirs: Iterable[str]) -> list[str]:
    out = []
    shard_parts = [p.shard for p in parts if p.shard is not None]
    if shard_parts:
        total = shard_parts[0].total
        have = {s.index for s in shard_parts}
        out += [f"shard {i}/{total}" for i in range(1, total + 1) if i not in have]
    have_dirs = {d for p in parts for d in p.dirs()}
    out += [f"dir {d}" for d in expect_dirs if d not in have_dirs]
    return out


def _result(entry: Mapping[str, Any]) -> parallel.DirResult:
    counts = junit.Counts(
        passed=int(entry.get("passed", 0)),
        failed=int(entry.get("failed", 0)),
        skipped=int(entry.get("skipped", 0)),
        errors=int(entry.get("errors", 0)),
    )
    return parallel.DirResult(
        rel_dir=entry["dir"],
        image=str(entry.get("image", "")),
        exit_code=int(entry.get("exit_code", 0)),
        counts=counts,
        seconds=float(entry["seconds"]),
        output="",
        note=str(entry.get("note") or ""),
        cached=bool(entry.get("cached", False)),
        flaky=tuple(str(t) for t in entry.get("flaky", ())),
        quarantined=tuple(str(t) for t in entry.get("quarantined", ())),
    )


def combine_junit(paths: Sequence[Path]) -> str:
    """One <testsuites> holding every shard's suites as they are (already named by dir)."""
    out = ET.Element("testsuites")
    for path in paths:
        try:
            root = ET.fromstring(path.read_text(encoding="utf-8"))
        except (OSError, ET.ParseError) as exc:
            raise UserError(
                f"{FLAG} {path}: unreadable JUnit XML ({exc}); pass the junit.xml main_pytest wrote"
            ) from None
        suites = [root] if root.tag == "testsuite" else list(root.findall("testsuite"))
        out.extend(suites)
    return junit.with_totals(out, junit.counts(ET.tostring(out, encoding="unicode")))


def exit_code(parts: Sequence[Part], missing: Sequence[str]) -> int:
    if missing:
        return EXIT_USAGE
    codes = {int(p.data["exit_code"]) for p in parts}
    for code in (EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED):
        if code in codes:
            return code
    return EXIT_OK if codes <= {EXIT_OK} else EXIT_FAILED


def _order(rel: str) -> tuple[bool, str]:
    return (rel != ".", rel)


def merge(args: Sequence[Path], expect_dirs: Sequence[str] = ()) -> Merged:
    paths = find_reports(args)
    parts = tuple(Part(p, shards.read_report(p, FLAG)) for p in paths)
    _check(parts)
    missing = tuple(_missing(parts, expect_dirs))
    results = sorted(
        (_result(e) for p in parts for e in p.data["dirs"]), key=lambda r: _order(r.rel_dir)
    )
    not_run = sorted(
        ((str(n["dir"]), str(n.get("why", ""))) for p in parts for n in p.data.get("not_run", [])),
        key=lambda n: _order(n[0]),
    )
    junits = [p.junit for p in parts if p.junit.is_file()]
    lacking = [p for p in parts if p.data["dirs"] and not p.junit.is_file()]
    if lacking:
        raise UserError(
            f"{FLAG}: {lacking[0].junit} is missing beside its report; upload junit.xml with "
            "report.json (main_pytest --junit-xml DIR/junit.xml --json DIR/report.json)"
        )
    return Merged(
        run_id=f"merged-{testplan.new_run_id()}",
        exit_code=exit_code(parts, missing),
        results=tuple(results),
        not_run=tuple(not_run),
        parts=parts,
        missing=missing,
        junit_xml=combine_junit(junits),
    )


def expect_from_matrix(text: Optional[str]) -> list[str]:
    """The dirs of a `changes --format github-matrix` JSON (`--expect-matrix`)."""
    if not text:
        return []
    try:
        data = json.loads(text)
        return [str(item["dir"]) for item in data["include"]]
    except (ValueError, KeyError, TypeError):
        raise UserError(
            f"--expect-matrix {text[:40]!r}: not a github-matrix JSON "
            '({"include": [{"dir": ...}]}); pass the output of `invoke changes --format '
            "github-matrix`"
        ) from None


def markdown(m: Merged) -> str:
    """The summary for `$GITHUB_STEP_SUMMARY`."""
    head = "| " + " | ".join(report.HEADERS) + " |"
    lines = ["### helpers: main_pytest", "", head, "|" + "---|" * len(report.HEADERS)]
    for r in m.results:
        c = r.counts or junit.Counts()
        mark = "" if r.ok else " ❌"
        cells = (f"`{r.rel_dir}`{mark}", f"`{r.image}`", c.passed, c.failed, c.skipped)
        seconds = f"{r.seconds:.1f}" + (" (cached)" if r.cached else "")
        lines.append("| " + " | ".join(map(str, (*cells, c.errors, seconds))) + " |")
    lines.append("")
    for rel, why in m.not_run:
        lines.append(f"- `{rel}`: not run ({why})")
    for what in m.missing:
        lines.append(f"- **{what}: missing** (no report)")
    total = report.totals(m.results)
    lines.append(f"\n**{total.describe()}** in {report.dirs(len(m.results))}; exit {m.exit_code}\n")
    return "\n".join(lines)


def write_outputs(
    m: Merged, cwd: Path, junit_xml: Optional[Path], json_path: Optional[Path]
) -> Path:
    """The combined JUnit and JSON in a fresh reports dir, and where the flags say."""
    try:
        root = workspace.find_repo_root(cwd)
    except UserError:
        root = cwd
    out_dir = testplan.ensure_reports_root(root) / m.run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    as_json = m.to_json()
    for path, text in ((out_dir / JUNIT, m.junit_xml), (out_dir / REPORT, as_json)):
        fsutil.write_atomic(path, text)
    if junit_xml:
        fsutil.write_atomic(junit_xml.resolve(), m.junit_xml, parents=True)
    if json_path:
        fsutil.write_atomic(json_path.resolve(), as_json, parents=True)
    from helpers.ops.testing import report_html

    # One combined JUnit: every dir's suite is in it, named after the dir.
    links = {r.rel_dir: JUNIT for r in m.results}
    cases = junit.cases(m.junit_xml)
    page = report_html.Page(m.run_id, m.exit_code, m.results, m.not_run, cases, links)
    report_html.save(page, out_dir, json_path, junit_xml)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown(m))
    return out_dir


def run(
    dirs: Sequence[Path],
    cwd: Path,
    junit_xml: Optional[Path] = None,
    json_path: Optional[Path] = None,
    expect_matrix: Optional[str] = None,
) -> Outcome:
    """Merge and write the outputs: the table and the exit code; the missing shards as
    error lines."""
    m = merge(dirs, expect_from_matrix(expect_matrix))
    out_dir = write_outputs(m, cwd, junit_xml, json_path)
    if m.missing:
        events.progress(
            f"error: {FLAG}: missing {', '.join(m.missing)}: that shard's job did not upload "
            "its report; rerun it"
        )
    total = report.totals(m.results)
    where = f"{report.dirs(len(m.results))} from {tables.count(len(m.parts), 'report')}"
    summary = f"\n{total.describe()} in {where}: {out_dir}"
    return Outcome.of([report.table(m.results, m.not_run), summary], m.exit_code)
