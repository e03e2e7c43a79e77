"""Run many dirs' test runs at once, keep going past failures, and never leave containers.

The library emits events (a dir started, a dir finished); the caller renders
them. Each dir's output is buffered and handed over whole, as one block; with
`live`, each line is also emitted as it is written (`Output`), so one dir's run
can be watched as it goes (see `live.View`).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

from helpers.effects import commands, signals
from helpers.errors import EXIT_USAGE, UserError
from helpers.model import junit, testlists
from helpers.ops.run import inventory, services
from helpers.ops.testing import reruns
from helpers.ops.testing.testplan import DirRun

PYTEST_NO_TESTS = 5
NOT_STARTED = "not started"


@dataclass(frozen=True)
class DirResult:
    rel_dir: str
    image: str
    exit_code: int
    counts: Optional[junit.Counts]
    seconds: float
    output: str
    note: str = ""
    cached: bool = False  # served by the result cache: no test ran (see cache_run)
    flaky: tuple[str, ...] = ()  # test node ids that failed, then passed on a rerun
    quarantined: tuple[str, ...] = ()  # test node ids run but never failing the run

    @property
    def ok(self) -> bool:
        return self.exit_code in (0, PYTEST_NO_TESTS) and (
            self.counts is None or (self.counts.failed == 0 and self.counts.errors == 0)
        )


@dataclass(frozen=True)
class Started:
    run: DirRun


@dataclass(frozen=True)
class Finished:
    result: DirResult


@dataclass(frozen=True)
class Output:
    """One line a dir's run wrote (emitted only by a `live` driver)."""

    rel_dir: str
    line: str


Event = Union[Started, Finished, Output]
FOLLOW_EVERY = 0.1  # seconds between looks at a live run's output


class Driver:
    """Runs DirRuns `jobs` at a time; `interrupt()` stops everything it started."""

    def __init__(
        self, run_id: str, jobs: int, on_event: Callable[[Event], None], live: bool = False
    ) -> None:
        self.run_id = run_id
        self.live = live
        self.jobs = max(1, jobs)
        self.on_event = on_event
        self.stopping = threading.Event()
        self.fail_fast = False
        self._lock = threading.Lock()
        self._procs: list[commands.Process[bytes]] = []

    def _emit(self, event: Event) -> None:
        with self._lock:
            self.on_event(event)

    def _one(self, run: DirRun) -> DirResult:
        if self.stopping.is_set():
            return DirResult(run.rel_dir, run.image, 130, None, 0.0, "", NOT_STARTED)
        self._emit(Started(run))
        begin = time.monotonic()
        if run.services is None:
            return self._tests(run, begin)
        try:
            services.start(run.services, stopping=self.stopping)
        except KeyboardInterrupt:  # the driver is stopping: the interrupt removes the rest
            return DirResult(run.rel_dir, run.image, 130, None, 0.0, "", NOT_STARTED)
        except UserError as err:
            return self._no_services(run, begin, err)
        try:
            return self._tests(run, begin)
        finally:
            services.stop(run.services)

    def _no_services(self, run: DirRun, begin: float, err: UserError) -> DirResult:
        """A dir whose services did not get healthy: not run (exit 2), their logs its output."""
        lines = getattr(err, "logs", ())
        for line in lines if self.live else ():  # as a live dir's output, line by line
            self._emit(Output(run.rel_dir, line))
        logs = "\n".join(lines)
        took = time.monotonic() - begin
        result = DirResult(run.rel_dir, run.image, EXIT_USAGE, None, took, logs, err.message)
        if self.fail_fast:
            self.stopping.set()
        self._emit(Finished(result))
        return result

    def _tests(self, run: DirRun, begin: float) -> DirResult:
        env = dict(run.env) if run.env else None
        with tempfile.TemporaryFile() as out:
            with self._lock:
                if self.stopping.is_set():  # interrupted while this one was being set up
                    return DirResult(run.rel_dir, run.image, 130, None, 0.0, "", NOT_STARTED)
                cwd = Path(run.cwd) if run.cwd else None
                proc = commands.start(run.argv, cwd=cwd, env=env, stdout=out, new_session=True)
                self._procs.append(proc)
            code = self._follow(run.rel_dir, proc, out.fileno()) if self.live else proc.wait()
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        seconds = time.monotonic() - begin
        counts = junit.read_counts(run.junit)
        note = "" if counts is not None else "no junit report (see output)"
        if code == testlists.PYTEST_USAGE_ERROR and counts is None:
            note = testlists.pytest_stopped_reason(text) or "pytest stopped (exit 4): see output"
        flaky, quarantined = reruns.read(run.report_dir)
        result = DirResult(
            run.rel_dir,
            run.image,
            code,
            counts,
            seconds,
            text,
            note,
            flaky=flaky,
            quarantined=quarantined,
        )
        if self.fail_fast and not result.ok:
            self.stopping.set()  # here, before this worker takes the next dir
        self._emit(Finished(result))
        return result

    def _follow(self, rel_dir: str, proc: commands.Process[bytes], fd: int) -> int:
        """Wait for `proc`, emitting each line it writes to `fd` as it comes. pread: the
        child shares the file's offset, so the file is read without moving it."""
        pos, pending = 0, b""
        while True:
            done = proc.poll() is not None
            while chunk := os.pread(fd, 65536, pos):
                pos += len(chunk)
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._emit(Output(rel_dir, line.decode("utf-8", "replace")))
            if done:
                break
            time.sleep(FOLLOW_EVERY)
        if pending:
            self._emit(Output(rel_dir, pending.decode("utf-8", "replace")))
        return proc.wait()

    def run(self, runs: Sequence[DirRun], fail_fast: bool = False) -> list[DirResult]:
        """All results in `runs` order; on KeyboardInterrupt, clean up first, then re-raise."""
        results: dict[str, DirResult] = {}
        self.fail_fast = fail_fast
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            pending: set[Future[DirResult]] = {pool.submit(self._one, r) for r in runs}
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    results[result.rel_dir] = result
        except KeyboardInterrupt:
            self.interrupt()
            if any(r.services for r in runs):
                # A dir's services may have started while the clean-up ran: once more.
                pool.shutdown(wait=True, cancel_futures=True)
                inventory.remove_run_containers(self.run_id)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return [results[r.rel_dir] for r in runs if r.rel_dir in results]

    def interrupt(self) -> int:
        """Stop new starts, remove every container of this run, end the CLI processes.

        Further Ctrl-C / SIGTERM / SIGHUP are ignored until the clean-up is done.
        """
        signals.ignore_stop_signals()
        self.stopping.set()
        removed = inventory.remove_run_containers(self.run_id)
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:
                proc.kill()
        return removed + inventory.remove_run_containers(self.run_id)


def default_jobs() -> int:
    return os.cpu_count() or 1
