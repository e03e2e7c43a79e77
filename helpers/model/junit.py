"""JUnit XML: counts from one run, and one combined file from many; pure over text.

Imported by the pytest plugin inside containers (reruns): standard library only.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.errors

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.passed + other.passed,
            self.failed + other.failed,
            self.skipped + other.skipped,
            self.errors + other.errors,
            self.seconds + other.seconds,
        )

    def describe(self) -> str:
        parts = [f"{self.passed} passed", f"{self.failed} failed"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.errors:
            parts.append(f"{self.errors} error{'' if self.errors == 1 else 's'}")
        return ", ".join(parts)


def _suites(root: ET.Element) -> list[ET.Element]:
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def counts(text: str) -> Counts:
    """Counts by test case (a case with an error and a failure counts once, as an error)."""
    total = Counts()
    for suite in _suites(ET.fromstring(text)):
        for case in suite.iter("testcase"):
            kinds = {child.tag for child in case}
            if "error" in kinds:
                total += Counts(errors=1)
            elif "failure" in kinds:
                total += Counts(failed=1)
            elif "skipped" in kinds:
                total += Counts(skipped=1)
            else:
                total += Counts(passed=1)
        total += Counts(seconds=float(suite.get("time") or 0))
    return total


def read_counts(path: Path) -> Counts | None:
    try:
        return counts(path.read_text(encoding="utf-8"))
    except (OSError, ET.ParseError):
        return None


def combine(named: Sequence[tuple[str, Path]]) -> str:
    """One <testsuites> document holding each dir's suites, renamed after the dir."""
    out = ET.Element("testsuites")
    total = Counts()
    for name, path in named:
        try:
            root = ET.fromstring(path.read_text(encoding="utf-8"))
        except (OSError, ET.ParseError):
            continue
        for suite in _suites(root):
            suite.set("name", name)
            for case in suite.iter("testcase"):
                case.set("classname", f"{name}.{case.get('classname', '')}".strip("."))
            out.append(suite)
        total += counts(ET.tostring(root, encoding="unicode"))
    return with_totals(out, total)


def with_totals(out: ET.Element, total: Counts) -> str:
    """The <testsuites> document with its totals set (what CI report readers show first)."""
    out.set("tests", str(total.total))
    out.set("failures", str(total.failed))
    out.set("errors", str(total.errors))
    out.set("skipped", str(total.skipped))
    out.set("time", f"{total.seconds:.3f}")
    return ET.tostring(out, encoding="unicode", xml_declaration=True)


@dataclass(frozen=True)
class Case:
    """One test case of a (combined) report: the per-test detail the HTML report shows."""

    suite: str  # in a combined report: the runnable dir
    classname: str
    name: str
    seconds: float
    outcome: str  # passed, failed, error, skipped
    message: str = ""
    detail: str = ""  # the traceback (or skip reason) pytest wrote

    @property
    def test_id(self) -> str:
        """`tests.test_x::test_a`: the classname without the dir prefix `combine` added."""
        cls = self.classname
        prefix = f"{self.suite}."
        if self.suite and cls.startswith(prefix):
            cls = cls[len(prefix) :]
        return f"{cls}::{self.name}" if cls else self.name


_OUTCOMES = (("error", "error"), ("failure", "failed"), ("skipped", "skipped"))


def _case(suite: str, case: ET.Element) -> Case:
    for tag, outcome in _OUTCOMES:
        found = case.find(tag)
        if found is not None:
            return Case(
                suite,
                case.get("classname", ""),
                case.get("name", ""),
                float(case.get("time") or 0),
                outcome,
                found.get("message", ""),
                (found.text or "").strip("\n"),
            )
    name, cls = case.get("name", ""), case.get("classname", "")
    return Case(suite, cls, name, float(case.get("time") or 0), "passed")


def cases(text: str) -> list[Case]:
    """Every test case of a JUnit document, with its suite's name (an error counts over a
    failure, as in `counts`)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return []
    return [_case(s.get("name", ""), c) for s in _suites(root) for c in s.iter("testcase")]


def case_address(nodeid: str) -> tuple[str, str]:
    """(classname, name) pytest's junitxml writes for a node id (`mangle_test_address`)."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def _rerun_element(tag: str, attempt: Mapping[str, str]) -> ET.Element:
    el = ET.Element(tag, {"message": attempt.get("message", ""), "type": attempt.get("type", "")})
    for child, key in (("stackTrace", "text"), ("system-out", "stdout"), ("system-err", "stderr")):
        if attempt.get(key):
            ET.SubElement(el, child).text = attempt[key]
    return el


def add_reruns(text: str, entries: Mapping[str, tuple[bool, Sequence[Mapping[str, str]]]]) -> str:
    """The JUnit document with each rerun test's failed attempts in Maven Surefire's form.

    `entries`: node id -> (passed in the end, its failed attempts). A test that passed on
    a rerun gets `<flakyFailure>` (`<flakyError>` for a setup/teardown error) per failed
    attempt; one that never passed keeps its `<failure>` and gets `<rerunFailure>`
    (`<rerunError>`) for the earlier attempts.
    """
    root = ET.fromstring(text)
    cases = {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}
    for nodeid, (passed, attempts) in entries.items():
        case = cases.get(case_address(nodeid))
        if case is None:
            continue
        for attempt in attempts:
            error = attempt.get("when", "call") != "call"
            kind = ("flaky" if passed else "rerun") + ("Error" if error else "Failure")
            case.append(_rerun_element(kind, attempt))
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
