from __future__ import annotations

from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.model import junit, testlists


def test_parse_lists_orders_and_validates() -> None:
    assert testlists.parse_lists("superslow, fast") == ["fast", "superslow"]
    with pytest.raises(UserError, match="--test-list 'fast,quick'"):
        testlists.parse_lists("fast,quick")
    with pytest.raises(UserError):
        testlists.parse_lists(" , ")


@pytest.mark.parametrize(
    ("markers", "expected"),
    [
        (set(), "fast"),
        ({"slow"}, "slow"),
        ({"superslow"}, "superslow"),
        ({"slow", "superslow"}, "superslow"),
    ],
)
def test_a_test_marked_both_is_superslow(markers: set[str], expected: str) -> None:
    assert testlists.test_list_of(markers) == expected


def test_pytest_argv() -> None:
    argv = testlists.pytest_argv("python3", ["fast"], "/r/j.xml", "infra", "-x -k 'a or b'")
    assert argv[:5] == ("python3", "-m", "pytest", "-p", "helpers.pytest_plugin")
    assert argv[-5:] == ("-m", "(not slow and not superslow)", "-x", "-k", "a or b")
    every = testlists.pytest_argv("python3", list(testlists.LISTS), "/r/j.xml", "infra")
    assert "-m" not in every[2:]  # no marker filter when every list runs
    rerun = testlists.pytest_argv("python3", ["fast"], "/j.xml", ".", node_ids=["t.py::x"])
    assert "-m" not in rerun[2:] and rerun[-1] == "t.py::x"
    with pytest.raises(UserError, match="fix the quoting"):
        testlists.pytest_argv("python3", ["fast"], "/j.xml", ".", "-k 'open")


XML = """<?xml version="1.0"?><testsuites><testsuite name="pytest" time="1.5">
<testcase classname="t" name="a"/><testcase classname="t" name="b"><failure/></testcase>
<testcase classname="t" name="c"><skipped/></testcase>
<testcase classname="t" name="d"><error/><failure/></testcase></testsuite></testsuites>"""


def test_counts_by_case() -> None:
    c = junit.counts(XML)
    assert (c.passed, c.failed, c.skipped, c.errors, c.seconds) == (1, 1, 1, 1, 1.5)
    assert c.describe() == "1 passed, 1 failed, 1 skipped, 1 error"  # as pytest says it


def test_combine_renames_suites_after_dirs(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    a.write_text(XML)
    b.write_text(XML.replace('name="pytest"', 'name="x"'))
    text = junit.combine([("infra", a), ("infra/etl", b), ("missing", tmp_path / "none.xml")])
    assert 'tests="8"' in text and 'failures="2"' in text
    assert '<testsuite name="infra"' in text and '<testsuite name="infra/etl"' in text
    assert 'classname="infra/etl.t"' in text
