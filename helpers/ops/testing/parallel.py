"""Run many dirs' test runs at once, keep going past failures, and never leave containers.

The library emits events (a dir started, a dir finished); the caller renders
them. Each dir's output is buffered and handed over whole, as one block.
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
from helpers.model import junit
from helpers.ops.run import inventory
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


Event = Union[Started, Finished]


class Driver:
    """Runs DirRuns `jobs` at a time; `interrupt()` stops everything it started."""

    def __init__(self, run_id: str, jobs: int, on_event: Callable[[Event], None]) -> None:
        self.run_id = run_id
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
        env = dict(run.env) if run.env else None
        with tempfile.TemporaryFile() as out:
            with self._lock:
                if self.stopping.is_set():  # interrupted while this one was being set up
                    return DirResult(run.rel_dir, run.image, 130, None, 0.0, "", NOT_STARTED)
                cwd = Path(run.cwd) if run.cwd else None
                proc = commands.start(run.argv, cwd=cwd, env=env, stdout=out, new_session=True)
                self._procs.append(proc)
            code = proc.wait()
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        seconds = time.monotonic() - begin
        counts = junit.read_counts(run.junit)
        note = "" if counts is not None else "no junit report (see output)"
        result = DirResult(run.rel_dir, run.image, code, counts, seconds, text, note)
        if self.fail_fast and not result.ok:
            self.stopping.set()  # here, before this worker takes the next dir
        self._emit(Finished(result))
        return result

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
