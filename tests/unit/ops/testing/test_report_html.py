"""report.html: rendered from the results and the JUnit cases; self-contained; written by
main_pytest's writers and --merge-reports."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from helpers.cli.main_pytest import main
from helpers.model import junit
from helpers.ops.testing import parallel, report, report_html

JUNIT = """<?xml version="1.0"?>
<testsuites>
<testsuite name="." tests="2" time="1.5">
  <testcase classname="..tests.test_a" name="test_ok" time="1.25"/>
  <testcase classname="..tests.test_a" name="test_skip" time="0.0">
    <skipped message="not today"/></testcase>
</testsuite>
<testsuite name="infra" tests="3" time="2.0">
  <testcase classname="infra.tests.test_db" name="test_slow" time="1.75"/>
  <testcase classname="infra.tests.test_db" name="test_bad" time="0.125">
    <failure message="assert 1 == 2 &lt;script&gt;">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2</failure></testcase>
  <testcase classname="infra.tests.test_db" name="test_broken" time="0.01">
    <error message="fixture 'db' not found">E  fixture 'db' not found</error></testcase>
</testsuite>
</testsuites>
"""


def _results() -> list[parallel.DirResult]:
    return [
        parallel.DirResult(".", "app:local-u-1.0.0", 0, junit.Counts(1, 0, 1), 1.5, "", ""),
        parallel.DirResult(
            "infra",
            "app-infra:local-u-1.0.0",
            1,
            junit.Counts(1, 1, 0, 1),
            2.0,
            "",
            flaky=("tests/test_db.py::test_slow",),
        ),
        parallel.DirResult(
            "lib", "app-lib:local-u-1.0.0", 0, junit.Counts(3), 0.2, "", cached=True
        ),
        parallel.DirResult("etl", "app-etl:local-u-1.0.0", 1, None, 0.4, "Traceback\nboom\n", "x"),
    ]


class _Collect(HTMLParser):
    """The page's text, and every attribute that could load something from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.loads: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.loads.append((tag, value))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page() -> str:
    page = report_html.Page(
        "20261202-0000-abc",
        1,
        _results(),
        [("docs", "no tests")],
        junit.cases(JUNIT),
        {".": "root/junit.xml", "infra": "infra/junit.xml"},
    )
    return report_html.render(page)


def test_cases_come_from_the_combined_junit() -> None:
    cases = junit.cases(JUNIT)
    outcome = {c.test_id: c.outcome for c in cases}
    assert outcome == {
        "tests.test_a::test_ok": "passed",
        "tests.test_a::test_skip": "skipped",
        "tests.test_db::test_slow": "passed",
        "tests.test_db::test_bad": "failed",
        "tests.test_db::test_broken": "error",
    }
    bad = next(c for c in cases if c.name == "test_bad")
    assert bad.suite == "infra" and "assert 1 == 2" in bad.detail and bad.seconds == 0.125
    assert junit.cases("not xml") == []


def test_page_is_self_contained_and_shows_every_part() -> None:
    text = _page()
    parsed = _Collect()
    parsed.feed(text)
    # Nothing loads from the network: no scripts, no external styles or images.
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert all(not re.match(r"[a-z]+://", href) for _, href in parsed.loads)
    assert [h for _, h in parsed.loads] == ["root/junit.xml", "infra/junit.xml"]
    words = " ".join("".join(parsed.text).split())
    # The summary table: the same cells as the text table, per dir, in one row.
    rows = re.findall(r"<tr><td><span class=\"status.*?</tr>", text)
    assert len(rows) == len(_results())
    for r, row in zip(_results(), rows):
        cells = re.findall(r"<td[^>]*>(?:<code>)?([^<]*)", row)
        assert cells[1 : 1 + len(report.HEADERS)] == list(report.row(r))
    assert "FAIL" in words and "cached" in words and "1 flaky" in words
    assert "docs: not run (no tests)" in " ".join(words.split())
    # Each failure with its message and traceback; a dir without JUnit shows its output.
    assert "Failures (3)" in words
    assert "assert 1 == 2 <script>" in words and ">       assert 1 == 2" in "".join(parsed.text)
    assert "fixture 'db' not found" in words and "boom" in words
    # The message is escaped, not markup.
    assert "<script>" not in text and "&lt;script&gt;" in text
    # Slowest first.
    slow = text[text.index("Slowest tests") :]
    assert slow.index("test_slow") < slow.index("test_ok") < slow.index("test_bad")
    assert "Flaky and quarantined tests" in words


def test_a_green_page_has_no_failure_section() -> None:
    ok = [r for r in _results() if r.ok]
    page = report_html.Page("r1", 0, ok, (), [c for c in junit.cases(JUNIT) if c.suite == "."])
    text = report_html.render(page)
    assert "Failures" not in text and "passed" in text and "#1a7f37" in text


def test_merge_writes_the_page_beside_the_json(tmp_path: Path) -> None:
    shard = tmp_path / "shard"
    shard.mkdir()
    results = _results()[:2]
    (shard / "report.json").write_text(report.to_json("r", 1, results, []))
    (shard / "junit.xml").write_text(JUNIT)
    data = json.loads((shard / "report.json").read_text())
    assert data["dirs"][1]["flaky"] == ["tests/test_db.py::test_slow"]
    assert data["dirs"][0]["cached"] is False and data["dirs"][0]["quarantined"] == []
    out = tmp_path / "merged"
    out.mkdir()
    code = main(
        [
            "--merge-reports",
            str(shard),
            "--json",
            str(out / "report.json"),
            "--junit-xml",
            str(out / "junit.xml"),
        ],
        cwd=tmp_path,
    )
    assert code == 1
    page = (out / "report.html").read_text()
    assert "test_bad" in page and "1 flaky" in page and 'href="junit.xml"' in page
    inner = list((tmp_path / ".helpers" / "reports").glob("merged-*/report.html"))
    assert len(inner) == 1 and "test_bad" in inner[0].read_text()
