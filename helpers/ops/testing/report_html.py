"""`report.html`: a run's results as one self-contained page (no network, no scripts).

Rendered from the same data as the summary table (`report.row` per dir) and, for the
per-test detail, from the test cases of the combined JUnit the run already holds
(`junit.cases`): each failure with its message and traceback, the slowest tests, the
cached / flaky / quarantined marks. Pure: text in, text out; the writers save it.
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from helpers.effects import fsutil
from helpers.model import junit
from helpers.ops.testing import report
from helpers.ops.testing.parallel import DirResult

FILENAME = "report.html"
SLOWEST = 10
OUTPUT_LINES = 40  # of a dir that failed without a JUnit report

PAGE = string.Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>helpers: $title</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1f2328; background: #f6f8fa; }
header { padding: 18px 28px; color: #fff; background: $banner; }
header h1 { margin: 0 0 4px; font-size: 20px; }
main { padding: 8px 28px 32px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px;
          margin: 16px 0; padding: 4px 16px 12px; }
h2 { font-size: 16px; margin: 12px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eaeef2; }
th { background: #f6f8fa; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; }
pre { background: #f6f8fa; border: 1px solid #eaeef2; border-radius: 4px; padding: 8px;
      overflow-x: auto; white-space: pre-wrap; }
.status { font-weight: 700; border-radius: 10px; padding: 1px 8px; color: #fff; }
.ok { background: #1a7f37; } .fail { background: #cf222e; } .cached { background: #0969da; }
.mark { border-radius: 10px; padding: 1px 7px; margin-right: 4px; font-size: 12px;
        border: 1px solid #d0d7de; white-space: nowrap; }
.mark.flaky { border-color: #bf8700; color: #7d4e00; }
.mark.quarantined { border-color: #8250df; color: #6639ba; }
.mark.cached { color: #0969da; border-color: #0969da; background: none; }
details { border-top: 1px solid #eaeef2; padding: 6px 0; }
summary { cursor: pointer; }
.msg { color: #cf222e; }
.muted { color: #656d76; }
</style>
</head>
<body>
<header><h1>$title</h1><div>$headline</div></header>
<main>
<section><h2>Summary</h2>
<table>
<thead><tr>$head</tr></thead>
<tbody>
$rows
</tbody>
</table>
$not_run</section>
$failures$marked$slowest</main>
</body>
</html>
"""
)


@dataclass(frozen=True)
class Page:
    """What one report shows: the run, its dirs' results and the test cases behind them."""

    run_id: str
    exit_code: int
    results: Sequence[DirResult]
    not_run: Sequence[tuple[str, str]] = ()
    cases: Sequence[junit.Case] = ()
    junit_links: Mapping[str, str] = field(default_factory=dict)  # dir -> href


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _status(r: DirResult) -> str:
    if r.cached:
        return '<span class="status cached">cached</span>'
    return '<span class="status ok">ok</span>' if r.ok else '<span class="status fail">FAIL</span>'


def _marks(r: DirResult) -> str:
    marks = ['<span class="mark cached">cached</span>'] if r.cached else []
    for kind, ids in (("flaky", r.flaky), ("quarantined", r.quarantined)):
        if ids:
            marks.append(f'<span class="mark {kind}" title="{_e(", ".join(ids))}">')
            marks[-1] += f"{len(ids)} {kind}</span>"
    return "".join(marks)


NUMERIC = {"passed", "failed", "skipped", "errors", "seconds"}


def _head() -> str:
    cells = ["status", *report.HEADERS, "marks", "JUnit"]
    return "".join(f'<th class="n">{c}</th>' if c in NUMERIC else f"<th>{c}</th>" for c in cells)


def _cell(name: str, value: str) -> str:
    if name in NUMERIC:
        return f'<td class="n">{_e(value)}</td>'
    if name in ("dir", "image"):
        return f"<td><code>{_e(value)}</code></td>"
    return f"<td>{_e(value)}</td>"


def _row(r: DirResult, links: Mapping[str, str]) -> str:
    cells = [f"<td>{_status(r)}</td>"]
    cells += [_cell(name, value) for name, value in zip(report.HEADERS, report.row(r))]
    cells.append(f"<td>{_marks(r)}</td>")
    href = links.get(r.rel_dir)
    cells.append(f'<td><a href="{_e(href)}">junit.xml</a></td>' if href else "<td></td>")
    return "<tr>" + "".join(cells) + "</tr>"


def _not_run(not_run: Sequence[tuple[str, str]]) -> str:
    if not not_run:
        return ""
    items = "".join(f"<li><code>{_e(d)}</code>: not run ({_e(why)})</li>" for d, why in not_run)
    return f'<ul class="muted">{items}</ul>\n'


def _failure(case: junit.Case) -> str:
    message = case.message.splitlines()[0] if case.message else case.outcome
    return (
        f"<details open><summary><code>{_e(case.suite)}</code> "
        f"<code>{_e(case.test_id)}</code> <span class='msg'>{_e(message)}</span></summary>\n"
        f"<pre>{_e(case.detail or case.message)}</pre></details>\n"
    )


def _silent_failure(r: DirResult) -> str:
    """A dir that failed with no test case to show (no JUnit): its note and output's end."""
    tail = "\n".join(r.output.rstrip().splitlines()[-OUTPUT_LINES:])
    why = r.note or f"exit {r.exit_code}"
    body = f"<pre>{_e(tail)}</pre>" if tail else ""
    return (
        f"<details open><summary><code>{_e(r.rel_dir)}</code> "
        f"<span class='msg'>{_e(why)}</span></summary>\n{body}</details>\n"
    )


def _failures(page: Page) -> str:
    failed = [c for c in page.cases if c.outcome in ("failed", "error")]
    with_cases = {c.suite for c in failed}
    silent = [r for r in page.results if not r.ok and r.rel_dir not in with_cases]
    if not failed and not silent:
        return ""
    n = len(failed) + len(silent)
    parts = [_failure(c) for c in failed] + [_silent_failure(r) for r in silent]
    return f"<section><h2>Failures ({n})</h2>\n{''.join(parts)}</section>\n"


def _marked(results: Sequence[DirResult]) -> str:
    items = []
    for r in results:
        for kind, ids in (("flaky", r.flaky), ("quarantined", r.quarantined)):
            for test_id in ids:
                items.append(
                    f'<li><span class="mark {kind}">{kind}</span> <code>{_e(r.rel_dir)}</code> '
                    f"<code>{_e(test_id)}</code></li>"
                )
    if not items:
        return ""
    return f"<section><h2>Flaky and quarantined tests</h2><ul>{''.join(items)}</ul></section>\n"


def _slowest(cases: Sequence[junit.Case]) -> str:
    ran = sorted((c for c in cases if c.outcome != "skipped"), key=lambda c: -c.seconds)
    if not ran:
        return ""
    rows = "".join(
        f'<tr><td class="n">{c.seconds:.2f}</td><td><code>{_e(c.suite)}</code></td>'
        f"<td><code>{_e(c.test_id)}</code></td><td>{_e(c.outcome)}</td></tr>"
        for c in ran[:SLOWEST]
    )
    head = '<tr><th class="n">seconds</th><th>dir</th><th>test</th><th>outcome</th></tr>'
    title = f"Slowest tests ({min(SLOWEST, len(ran))} of {len(ran)})"
    return f"<section><h2>{title}</h2><table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def render(page: Page) -> str:
    total = report.totals(page.results)
    ok = page.exit_code == 0
    verdict = "passed" if ok else f"failed (exit {page.exit_code})"
    slowest = _slowest(page.cases)
    return PAGE.substitute(
        title=_e(f"run {page.run_id}: {verdict}"),
        banner="#1a7f37" if ok else "#cf222e",
        headline=_e(f"{total.describe()} in {report.dirs(len(page.results))}"),
        head=_head(),
        rows="\n".join(_row(r, page.junit_links) for r in page.results),
        not_run=_not_run(page.not_run),
        failures=_failures(page),
        marked=_marked(page.results),
        slowest=f"{slowest}</section>\n" if slowest else "",
    )


def save(page: Page, out_dir: Path, json_path: Optional[Path], junit_xml: Optional[Path]) -> Path:
    """`report.html` in the run's reports dir (links relative to it) and, with `--json F`,
    next to F too: its links go to `--junit-xml` when that sits beside it (one CI artifact),
    else to the reports dir's files."""
    path = out_dir / FILENAME
    fsutil.write_atomic(path, render(page))
    if json_path is None:
        return path
    beside = json_path.resolve().parent
    if junit_xml is not None and junit_xml.resolve().parent == beside:
        links = {d: junit_xml.name for d in page.junit_links}
    else:
        links = {d: (out_dir / href).as_uri() for d, href in page.junit_links.items()}
    if beside != out_dir.resolve():
        fsutil.write_atomic(beside / FILENAME, render(replace(page, junit_links=links)))
    return path
