"""--shard planning + --merge-reports for 200 dirs vs one unsharded run's own overhead.

    python benchmarks/bench_shards.py [N_DIRS]     (default 200)

A generated client repo with N tiny runnable dirs (images that share one base,
one test each) runs through `--shard 1/4 .. 4/4` (which also builds the images)
and then once unsharded, all on the real engine. It checks the issue's promise
(every dir in exactly one shard; the merge equals the unsharded run: totals,
JUnit test count, exit code) and prints:
- sharding cost = planning the 4 shards (the selection's dirs split by the last
  report's durations) + one `main_pytest --merge-reports` process;
- the unsharded run's own overhead = its wall time minus the time its dirs spent
  in their containers (sum of the dirs' seconds / -j);
target ratio <= 0.2. It takes minutes (2 passes of N containers at -j 2) and
removes the images it built.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from _bench import ROOT, client_repo, env, line, seconds

sys.path.insert(0, str(ROOT))

from helpers.model import workspace
from helpers.ops.testing import shards

JOBS = 2
N_SHARDS = 4
TEST = "def test_one():\n    assert 1 + 1 == 2\n"


def _junit_tests(path: Path) -> int:
    return int(ET.parse(path).getroot().get("tests") or -1)


def _totals(report: Path) -> tuple[int, int, int, int]:
    dirs = json.loads(report.read_text())["dirs"]
    passed, failed, skipped, errors = (
        sum(d[k] for d in dirs) for k in ("passed", "failed", "skipped", "errors")
    )
    return passed, failed, skipped, errors


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    dirs = [f"svc/d{i:03d}" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        files = {f"{d}/tests/test_one.py": TEST for d in dirs}
        client = client_repo(Path(tmp) / "benchshards", dirs, files)
        e = env(client)
        script = [sys.executable, str(client / "helpers_root/dev_scripts/main_pytest.py")]
        out = Path(tmp) / "out"
        try:
            chosen: list[str] = []
            for i in range(1, N_SHARDS + 1):
                d = out / f"shard{i}"
                d.mkdir(parents=True)
                flags = ["--json", str(d / "report.json"), "--junit-xml", str(d / "junit.xml")]
                argv = [*script, "--shard", f"{i}/{N_SHARDS}", "--if-missing", "build", *flags]
                seconds([*argv, "-j", str(JOBS)], client, e)
                chosen += json.loads((d / "report.json").read_text())["shard"]["dirs"]
            assert sorted(chosen) == dirs, "a dir missing or in two shards"

            whole = out / "whole"
            whole.mkdir()
            flags = ["--json", str(whole / "report.json"), "--junit-xml", str(whole / "junit.xml")]
            wall = seconds([*script, "-j", str(JOBS), *flags], client, e)
            in_containers = sum(
                d["seconds"] for d in json.loads((whole / "report.json").read_text())["dirs"]
            )
            overhead = wall - in_containers / JOBS

            merged = out / "merged.json"
            merge_argv = [
                *script,
                "--merge-reports",
                *(str(out / f"shard{i}") for i in range(1, N_SHARDS + 1)),
            ]
            merge_s = seconds(
                [*merge_argv, "--json", str(merged), "--junit-xml", str(out / "merged.xml")],
                client,
                e,
            )
            assert _totals(merged) == _totals(whole / "report.json"), "merged totals differ"
            assert _junit_tests(out / "merged.xml") == _junit_tests(whole / "junit.xml") == n
            assert json.loads(merged.read_text())["exit_code"] == 0

            start = time.perf_counter()
            selection = workspace.runnable_dirs(workspace.list_files(client))
            durations = shards.load_durations(whole / "report.json")
            for _ in range(N_SHARDS):
                shards.assign(selection, N_SHARDS, durations)
            plan_s = time.perf_counter() - start

            print(
                f"{n} dirs, {N_SHARDS} shards: every dir once; merge == unsharded run ({n} tests)"
            )
            print(
                f"unsharded run: {wall:.2f} s wall, {in_containers:.2f} s in containers (-j {JOBS})"
            )
            line(
                f"plan {plan_s:.3f} s + merge {merge_s:.3f} s / unsharded overhead",
                plan_s + merge_s,
                overhead,
                "<= 0.2",
            )
        finally:
            label = f"label=io.helpers.repo={client}"
            ids = subprocess.run(
                ["docker", "images", "-q", "--filter", label], capture_output=True, text=True
            )
            if ids.stdout.split():
                subprocess.run(
                    ["docker", "rmi", "-f", *sorted(set(ids.stdout.split()))], capture_output=True
                )


if __name__ == "__main__":
    main()
