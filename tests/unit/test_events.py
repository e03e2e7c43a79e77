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
