"""The one output channel: operations emit events, the edge renders them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpers import edge, events
from helpers.events import Event, Kind
from helpers.ops.run import inventory
from helpers.outcome import Outcome
from tests.fakes import FakeRunner, result

PS_LINE = (
    '{"id":"c1","name":"helpers-a","image":"img","state":"running","status":"Up",'
    '"managed":"true","container":"true","repo":"/r","dir":"infra"}'
)


def test_collected_sees_each_kind_in_order_and_nothing_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with events.collected() as seen:
        events.data("a row")
        events.progress("working")
        events.warning("careful")
    assert seen == [
        Event(Kind.DATA, "a row"),
        Event(Kind.PROGRESS, "working"),
        Event(Kind.WARNING, "careful"),
    ]
    assert capsys.readouterr() == ("", "")


def test_the_innermost_sink_wins_and_the_outer_one_returns() -> None:
    with events.collected() as outer:
        with events.collected() as inner:
            events.progress("in")
        events.progress("out")
    assert [e.text for e in inner] == ["in"]
    assert [e.text for e in outer] == ["out"]


def test_a_worker_thread_reaches_the_installed_sink() -> None:
    # main_pytest plans dirs in a thread pool; a context variable would not reach them.
    with events.collected() as seen:
        worker = threading.Thread(target=events.warning, args=("from a worker",))
        worker.start()
        worker.join()
    assert seen == [Event(Kind.WARNING, "from a worker")]


def test_the_edge_renders_data_on_stdout_and_the_rest_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def work() -> int:
        events.data("result")
        events.progress("building x")
        events.warning("x is stale")
        return 0

    assert edge.exit_code(work, ["t"]) == (0, 0)
    out, err = capsys.readouterr()
    assert out == "result\n"
    assert err == "building x\nwarning: x is stale\n"


def test_an_operation_emits_instead_of_printing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    runner = FakeRunner(
        {"ps": result(out=PS_LINE), "kill": result(1, "helpers-a\n", "Error: permission denied")}
    )
    with events.collected() as seen:
        done = inventory.kill(["helpers-a"], False, False, False, runner)
    assert done == Outcome("killed helpers-a", 1)  # the result is returned, not printed
    assert seen == [Event(Kind.WARNING, "Error: permission denied")]
    assert capsys.readouterr() == ("", "")


def test_the_edge_shows_an_outcome_and_exits_with_its_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert edge.main(lambda: Outcome("2 passed", 1), ["t"]) == 1
    assert capsys.readouterr() == ("2 passed\n", "")
    with pytest.raises(SystemExit) as exited:
        edge.run(lambda: Outcome.of(["a", "b"], 2), ["t"])
    assert exited.value.code == 2
    assert capsys.readouterr() == ("a\nb\n", "")
    assert edge.run(lambda: Outcome(), ["t"]) == Outcome()  # nothing to show, exit 0
    assert capsys.readouterr() == ("", "")


def test_counts_read_as_english() -> None:
    from helpers import tables
    from helpers.ops.testing import report

    assert (report.dirs(1), report.dirs(2)) == ("1 dir", "2 dirs")
    assert tables.count(1, "failed test") == "1 failed test"
    assert tables.count(3, "library", "libraries") == "3 libraries"


def _json_lines(text: str) -> list[dict[str, object]]:
    import json

    return [json.loads(line) for line in text.splitlines()]


def test_helpers_events_json_writes_every_event_as_one_object_per_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPERS_EVENTS", "json")

    def work() -> Outcome:
        events.emit(events.Started(Kind.PROGRESS, "step 1/1 build", "release", "build", ()))
        events.warning("careful")
        done = events.Finished(Kind.PROGRESS, "", "release", "build", 0, 1.23456, (("of", 1),))
        events.emit(done)
        return Outcome("the result")

    assert edge.exit_code(work, ["t"]) == (Outcome("the result"), 0)
    out, err = capsys.readouterr()
    assert out == "the result\n"  # the result stays text on stdout
    started, warned, finished = _json_lines(err)
    assert started == {
        "kind": "progress",
        "text": "step 1/1 build",
        "event": "started",
        "step": "release",
        "subject": "build",
    }
    assert warned == {"kind": "warning", "text": "careful"}
    assert finished["event"] == "finished" and finished["code"] == 0
    assert finished["seconds"] == 1.235 and finished["of"] == 1 and finished["text"] == ""


def test_helpers_events_json_makes_the_edges_error_line_an_error_object(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.errors import UserError

    monkeypatch.setenv("HELPERS_EVENTS", "json")

    def work() -> None:
        raise UserError("no such dir: x; pass --dir with a runnable dir")

    assert edge.exit_code(work, ["t"]) == (None, 2)
    (line,) = _json_lines(capsys.readouterr().err)
    assert line == {
        "kind": "error",
        "text": "error: no such dir: x; pass --dir with a runnable dir",
    }


def test_text_mode_shows_nothing_for_an_event_without_text_and_an_unknown_mode_warns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPERS_EVENTS", "yaml")

    def work() -> None:
        events.emit(events.Finished(Kind.PROGRESS, "", "release", "push", 0, 0.1))
        events.progress("shown")

    edge.exit_code(work, ["t"])
    assert capsys.readouterr().err.splitlines() == [
        "warning: HELPERS_EVENTS='yaml' is not one of text, json; using text",
        "shown",
    ]


def test_a_dirs_end_is_a_typed_event_with_its_counts() -> None:
    from helpers.model import junit
    from helpers.ops.testing import live, parallel

    result = parallel.DirResult(
        "infra", "img:1", 1, junit.Counts(passed=3, failed=1), 2.5, "", flaky=("t::a",)
    )
    event = live.typed(parallel.Finished(result))
    assert isinstance(event, events.Finished)
    assert event.text.startswith("FAIL   infra  ")
    fields = event.fields()
    assert (fields["subject"], fields["code"], fields["status"]) == ("infra", 1, "failed")
    assert (fields["passed"], fields["failed"], fields["flaky"], fields["seconds"]) == (
        3,
        1,
        1,
        2.5,
    )


def test_a_dir_that_collected_no_tests_ends_as_no_tests_not_passed() -> None:
    from helpers.model import junit
    from helpers.ops.testing import live, parallel

    empty = parallel.DirResult("proj", "img:1", parallel.PYTEST_NO_TESTS, junit.Counts(), 1.0, "")
    fields = live.typed(parallel.Finished(empty)).fields()
    assert (fields["code"], fields["status"]) == (5, "no tests")
    ran = parallel.DirResult("lib", "img:2", 0, junit.Counts(passed=2), 1.0, "")
    assert live.typed(parallel.Finished(ran)).fields()["status"] == "passed"


def test_no_tests_advice_only_when_that_is_why_the_run_failed(tmp_path: Path) -> None:
    from helpers.model import junit
    from helpers.ops.testing import many, parallel

    empty = parallel.DirResult("proj", "img:1", parallel.PYTEST_NO_TESTS, junit.Counts(), 1.0, "")
    advice = "no tests ran: that is a failure (pass --allow-no-tests if expected)"
    assert advice in many._summary([empty], [], 1, tmp_path)
    assert advice not in many._summary([empty], [], 1, tmp_path, allow_none=True)
    # dirs whose image did not build were not run: that is the failure, not missing tests
    assert advice not in many._summary([], [("infra", "build failed")], 1, tmp_path)
