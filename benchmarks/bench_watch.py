"""`run_tests --watch`: a file saved → the first rerun test started, with a warm container.

    python benchmarks/bench_watch.py [--runs N] [--keep]

Side by side in one run: the watch's latency (the save, then the moment the edited test
file's first test starts, read from a timestamp the test writes) against the floor, a raw
`docker exec` into the same warm container of the same pytest command, started by hand
(target: the watch ≤ 0.5 s; the ratio is what the watch itself adds). Needs a running
engine and $HELPERS_BASE_IMAGE.
"""

from __future__ import annotations

import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from _bench import client_repo, env, invoke, main_in_temp, write

STAMP = ".helpers/bench-stamps"
TEST = """import time


def test_first():
    with open("/app/{stamp}", "a") as out:
        out.write(f"{{time.time()}}\\n")
# edit {n}
"""
OTHER = "def test_other():\n    pass\n"
# The floor: the very pytest command a rerun runs (helpers' plugin, JUnit, cache dir), by hand.
RAW = ["docker", "exec", "-w", "/app", "-e", "PYTHONDONTWRITEBYTECODE=1"]
PYTEST = ["python3", "-m", "pytest", "-p", "helpers.pytest_plugin", "--junitxml=/tmp/j.xml"]
PYTEST += ["-o", "junit_family=xunit2", "-o", "cache_dir=/app/.helpers/pytest_cache/root"]


def _stamps(client: Path) -> list[float]:
    path = client / STAMP
    return [float(x) for x in path.read_text().split()] if path.is_file() else []


def _wait_stamp(client: Path, count: int, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stamps = _stamps(client)
        if len(stamps) > count:
            return stamps[-1]
        time.sleep(0.005)
    sys.exit("benchmark: no test started within 30 s")


def _until(lines: queue.Queue[str], text: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if text in lines.get(timeout=1):
                return
        except queue.Empty:
            continue
    sys.exit(f"benchmark: no {text!r} within {timeout} s")


def _warm(client: Path) -> str:
    out = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=io.helpers.repo={client}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[0]


def run(tmp: Path, runs: int) -> None:
    files = {
        "conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n',
        "tests/test_first.py": TEST.format(stamp=STAMP, n=0),
        "tests/test_other.py": OTHER,
    }
    client = client_repo(tmp / "benchwatch", ["."], files)
    proc = subprocess.Popen(
        invoke("run_tests", "--watch", "--if-missing", "build"),
        cwd=client,
        env=env(client),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for x in proc.stdout or ():
            lines.put(x)

    threading.Thread(target=pump, daemon=True).start()
    watch, floor = [], []
    try:
        _until(lines, "watching 1 path for changes")
        warm = _warm(client)
        for n in range(1, runs + 2):
            count = len(_stamps(client))
            saved = time.time()
            write(client / "tests/test_first.py", TEST.format(stamp=STAMP, n=n))
            watch.append(_wait_stamp(client, count) - saved)
            _until(lines, "watching for changes")  # the rest ran too: the watch is idle again
            count = len(_stamps(client))
            started = time.time()
            subprocess.run([*RAW, warm, *PYTEST, "tests/test_first.py"], check=True,
                           capture_output=True)  # fmt: skip
            floor.append(_wait_stamp(client, count) - started)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    ours, theirs = statistics.median(watch[1:]), statistics.median(floor[1:])  # first: warm-up
    print(
        f"{'run_tests --watch: save -> first rerun test started':<58} {ours:7.3f} s "
        f"(target <= 0.5 s)"
    )
    print(
        f"{'  vs the same pytest by docker exec -> first test started':<58} {theirs:7.3f} s  "
        f"ratio {ours / theirs:5.2f}; exit on Ctrl-C: {code}"
    )


if __name__ == "__main__":
    main_in_temp(__doc__, "bench-watch-", run)
