"""Tests in containers against raw docker, side by side in one run.

    python benchmarks/bench_tests.py

- `invoke run_tests` on a tiny suite vs raw `docker run --rm -v REPO:/app ... pytest`
  of the same suite (target ratio <= 1.25);
- main_pytest -j 2 over 6 dirs with ~2 s suites vs the same 6 dirs one at a time (-j 1)
  (target ratio <= 0.6).
Needs a running engine and $HELPERS_BASE_IMAGE (or a pullable python:3.11-slim).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from _bench import client_repo, env, invoke, line, median, seconds

TINY = "".join(f"def test_{i}():\n    assert {i} == {i}\n\n" for i in range(7))
TWO_SECONDS = "import time\n\ndef test_two_seconds():\n    time.sleep(2)\n"
DIRS = [f"svc{i}" for i in range(6)]


def main() -> None:
    user = os.environ.get("USER", "root")
    with tempfile.TemporaryDirectory() as tmp:
        client = client_repo(Path(tmp) / "benchtests", ["."], {"tests/test_tiny.py": TINY})
        e = env(client)
        seconds(invoke("docker_build_local_image"), client, e)
        ours = median(invoke("run_tests"), client, e)
        raw = [
            "docker",
            "run",
            "--rm",
            "-v",
            f"{client}:/app",
            "-w",
            "/app",
            f"benchtests:local-{user}-1.0.0",
            "python3",
            "-m",
            "pytest",
            "-q",
            "tests",
        ]
        theirs = median(raw, client, e)
        line("invoke run_tests (tiny suite) / raw docker run pytest", ours, theirs, "<= 1.25")

        files = {f"{d}/tests/test_sleep.py": TWO_SECONDS for d in DIRS}
        many = client_repo(Path(tmp) / "benchmany", DIRS, files)
        driver = [sys.executable, str(many / "helpers_root/dev_scripts/main_pytest.py")]
        seconds([*driver, "--if-missing", "build", "-j", "2"], many, env(many))
        parallel = median([*driver, "-j", "2"], many, env(many), runs=3)
        serial = median([*driver, "-j", "1"], many, env(many), runs=3)
        line("main_pytest -j 2 over 6 dirs / the same one at a time", parallel, serial, "<= 0.6")


if __name__ == "__main__":
    main()
