"""main_pytest --shard I/N and --merge-reports on the real engine, in a temp client repo.

The 200-dir version of this check is benchmarks/bench_shards.py (too heavy for the
suite on shared cores); here 7 runnable dirs, one with a failing test, 4 shards.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integration.conftest import Client, ClientFactory

pytestmark = pytest.mark.integration

DIRS = (".", "svc/a", "svc/b", "svc/b/nested", "libs x/c", "d", "e")


def _files() -> dict[str, str]:
    files = {"conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n'}
    for i, rel in enumerate(DIRS):
        prefix = "" if rel == "." else f"{rel}/"
        body = "".join(
            f"def test_{n}():\n    assert sum(range({n} + 1)) == {n * (n + 1) // 2}\n\n"
            for n in range(i + 1)
        )
        files[f"{prefix}tests/test_{i}.py"] = body
    files["libs x/c/changelog.txt"] = "# libs-c-0.1.0\n- 2026-11-22\n- first\n"  # a space
    files["d/tests/test_bad.py"] = "def test_bad():\n    assert 1 == 2\n"
    return files


def _run(client: Client, out: Path, *flags: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    out.mkdir(parents=True, exist_ok=True)
    result = client.script(
        "dev_scripts/main_pytest.py",
        "--dir",
        ".",
        "-j",
        "2",
        "--if-missing",
        "build",
        "--json",
        str(out / "report.json"),
        "--junit-xml",
        str(out / "junit.xml"),
        *flags,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode, json.loads((out / "report.json").read_text())


def _junit_tests(path: Path) -> int:
    return int(ET.parse(path).getroot().get("tests") or -1)


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_four_shards_merge_to_one_unsharded_run(client_factory: ClientFactory) -> None:
    client = client_factory(*DIRS, files=_files())
    out = client.root.parent / f"{client.name}-out"
    code, whole = _run(client, out / "whole")
    assert code == 1  # d has a failing test
    shard_dirs = []
    for i in range(1, 5):
        shard_code, data = _run(client, out / f"shard{i}", "--shard", f"{i}/4")
        assert data["shard"] == {"index": i, "total": 4, "dirs": [d["dir"] for d in data["dirs"]]}
        assert shard_code == (1 if "d" in data["shard"]["dirs"] else 0)
        shard_dirs.append(data["shard"]["dirs"])
    flat = [d for dirs in shard_dirs for d in dirs]
    assert sorted(flat) == sorted(DIRS) and len(flat) == len(DIRS)  # each dir exactly once
    assert sorted(len(d) for d in shard_dirs) == [1, 2, 2, 2]  # balanced by count

    merged = client.script(
        "dev_scripts/main_pytest.py",
        "--merge-reports",
        *(str(out / f"shard{i}") for i in range(1, 5)),
        "--json",
        str(out / "merged.json"),
        "--junit-xml",
        str(out / "merged.xml"),
    )
    assert merged.returncode == code == 1, merged.stdout + merged.stderr
    mdata = json.loads((out / "merged.json").read_text())

    def totals(data: dict) -> dict[str, int]:  # type: ignore[type-arg]
        keys = ("passed", "failed", "skipped", "errors")
        return {k: sum(d[k] for d in data["dirs"]) for k in keys}

    assert totals(mdata) == totals(whole) == {"passed": 28, "failed": 1, "skipped": 0, "errors": 0}
    assert sorted(d["dir"] for d in mdata["dirs"]) == sorted(DIRS)
    assert _junit_tests(out / "merged.xml") == _junit_tests(out / "whole" / "junit.xml") == 29
    assert "28 passed, 1 failed in 7 dirs" in merged.stdout

    # The merged report balances the next split; shard 3 alone merges to exit 2 naming the rest.
    balanced = client.script(
        "dev_scripts/main_pytest.py",
        "--shard",
        "2/2",
        "--durations",
        str(out / "merged.json"),
        "--if-missing",
        "build",
    )
    assert balanced.returncode in (0, 1) and "--shard 2/2: " in balanced.stdout
    lonely = client.script("dev_scripts/main_pytest.py", "--merge-reports", str(out / "shard3"))
    assert lonely.returncode == 2
    assert "shard 1/4, shard 2/4, shard 4/4" in lonely.stderr

    # --exact (one CI job per dir): svc/b alone, not svc/b/nested.
    code, data = _run(client, out / "exact", "--exact")
    assert code == 0 and [d["dir"] for d in data["dirs"]] == ["."]
    only = client.script(
        "dev_scripts/main_pytest.py", "--dir", "svc/b", "--exact", "--json", "x.json"
    )
    assert only.returncode == 0, only.stdout + only.stderr
    assert [d["dir"] for d in json.loads((client.root / "x.json").read_text())["dirs"]] == ["svc/b"]
