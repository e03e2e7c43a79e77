"""main_pytest and the run_tests family on the real engine, in temp client repos."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import write
from tests.integration.conftest import Client, ClientFactory

pytestmark = pytest.mark.integration

PASSING = "def test_ok():\n    assert 1 + 1 == 2\n"
MARKED = """import pytest

def test_fast():
    pass

@pytest.mark.slow
def test_slow():
    pass

@pytest.mark.slow
@pytest.mark.superslow
def test_both_is_superslow():
    pass
"""


def tree(client_factory: ClientFactory) -> Client:
    """A root dir, infra, and infra/etl nested in it, each with its own tests."""
    return client_factory(
        ".",
        "infra",
        "infra/etl",
        files={
            "tests/test_root.py": PASSING,
            "infra/tests/test_infra.py": MARKED,
            "infra/etl/tests/test_etl.py": PASSING + "\ndef test_two():\n    pass\n",
            "conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n',
        },
    )


def report(client: Client, stdout: str) -> dict:  # type: ignore[type-arg]
    run_dir = stdout.rsplit("reports: ", 1)[1].split()[0]
    return json.loads((Path(run_dir) / "report.json").read_text())  # type: ignore[no-any-return]


def by_dir(data: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {d["dir"]: d for d in data["dirs"]}


def containers_of(client: Client, warm: bool = True) -> list[str]:
    """The repo's containers; `warm=False`: leave out the warm ones kept for reuse."""
    out = subprocess.run(
        [
            *("docker", "ps", "-a", "--filter", f"label=io.helpers.repo={client.root}"),
            *("--format", '{{.ID}} {{.Label "io.helpers.warm"}}'),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split(" ", 1) for line in out.stdout.splitlines() if line.strip()]
    return [row[0] for row in rows if warm or len(row) < 2 or not row[1].strip()]


def start_and_wait_for_containers(
    client: Client, argv: list[str], count: int = 1
) -> subprocess.Popen[str]:
    """Start a command in the client repo; return once `count` of its containers run."""
    proc = subprocess.Popen(
        argv,
        cwd=client.root,
        env=client.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(containers_of(client)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(containers_of(client)) >= count, argv
    return proc


def test_every_dir_in_its_own_container_nested_never_collected(
    client_factory: ClientFactory,
) -> None:
    client = tree(client_factory)
    result = client.script(
        "dev_scripts/main_pytest.py", "--dir", ".", "-j", "2", "--if-missing", "build"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = by_dir(report(client, result.stdout))
    assert set(data) == {".", "infra", "infra/etl"}
    assert (data["."]["passed"], data["infra"]["passed"], data["infra/etl"]["passed"]) == (1, 3, 2)
    assert data["infra"]["image"] == f"{client.name}-infra:local-tester-0.1.0"
    assert data["infra/etl"]["image"] == f"{client.name}-infra-etl:local-tester-0.1.0"
    for line in ("start  infra/etl", "ok     infra/etl  2 passed, 0 failed"):
        assert line in result.stdout
    assert "dir        image" in result.stdout  # the summary table
    combined = ET.parse(result.stdout.rsplit("reports: ", 1)[1].split()[0] + "/junit.xml")
    assert combined.getroot().get("tests") == "6"
    assert containers_of(client, warm=False) == []  # warm ones stay, for the next run
    # --dir infra: infra and infra/etl only
    sub = client.script("dev_scripts/main_pytest.py", "--dir", "infra")
    assert set(by_dir(report(client, sub.stdout))) == {"infra", "infra/etl"}


def test_test_lists_and_plain_pytest_at_the_root(client_factory: ClientFactory) -> None:
    client = tree(client_factory)
    assert client.invoke("docker_build_local_image", "--dir", "infra").returncode == 0
    slow = client.script(
        "dev_scripts/main_pytest.py",
        "--dir",
        "infra",
        "--test-list",
        "slow",
        "--if-missing",
        "build",
    )
    assert by_dir(report(client, slow.stdout))["infra"]["passed"] == 1
    superslow = client.invoke("run_superslow_tests", "--dir", "infra")
    assert superslow.returncode == 0
    assert "infra: 1 passed, 0 failed" in superslow.stdout  # the test marked both
    # Plain pytest at the client root (host, no container) skips nested runnable dirs.
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--co"],
        cwd=client.root,
        env=client.env(),
        capture_output=True,
        text=True,
    )
    assert "tests/test_root.py::test_ok" in plain.stdout
    assert "infra" not in plain.stdout and "1 test collected" in plain.stdout


def test_a_failing_dir_does_not_stop_the_others(client_factory: ClientFactory) -> None:
    client = tree(client_factory)
    write(
        client.root / "infra" / "tests" / "test_bad.py", "def test_bad():\n    assert 0, 'boom'\n"
    )
    result = client.script("dev_scripts/main_pytest.py", "--if-missing", "build", "-j", "2")
    assert result.returncode == 1
    data = by_dir(report(client, result.stdout))
    assert data["infra"]["failed"] == 1 and not data["infra"]["ok"]
    assert data["infra/etl"]["passed"] == 2 and data["infra/etl"]["ok"]
    assert "FAIL   infra  3 passed, 1 failed" in result.stdout
    assert "boom" in result.stdout  # the dir's own output, as a block


def test_per_list_timeout(client_factory: ClientFactory) -> None:
    client = client_factory(
        ".",
        files={
            "repo_config.yaml": "test_timeouts: {fast: 2}\n",
            "tests/test_sleep.py": "import time\n\ndef test_sleeps():\n    time.sleep(600)\n",
        },
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    started = time.monotonic()
    result = client.invoke("run_fast_tests")
    assert result.returncode == 1
    assert time.monotonic() - started < 300  # stopped by the 2 s time-out, not after 600 s
    assert "Timeout" in result.stdout and ".: 0 passed, 1 failed" in result.stdout


def test_missing_image_fail_or_build(client_factory: ClientFactory) -> None:
    client = client_factory(".", files={"tests/test_root.py": PASSING})
    failed = client.script("dev_scripts/main_pytest.py")
    assert failed.returncode == 2
    assert "not run (image " in failed.stdout
    assert "run `invoke docker_build_local_image`" in failed.stdout
    built = client.script("dev_scripts/main_pytest.py", "--if-missing", "build")
    assert built.returncode == 0 and "build  ." in built.stderr  # progress, not data


def test_interrupt_leaves_no_container(client_factory: ClientFactory) -> None:
    client = client_factory(
        ".",
        "infra",
        files={
            "tests/test_long.py": "import time\n\ndef test_long():\n    time.sleep(120)\n",
            "infra/tests/test_long.py": "import time\n\ndef test_long():\n    time.sleep(120)\n",
        },
    )
    for d in (".", "infra"):
        assert client.invoke("docker_build_local_image", "--dir", d).returncode == 0
    script = str(client.root / "helpers_root/dev_scripts/main_pytest.py")
    argv = [sys.executable, script, "-j", "2", "--fresh"]
    proc = start_and_wait_for_containers(client, argv, count=2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert containers_of(client) == []
    assert "interrupted: removed the containers" in out


def test_sigterm_also_cleans_up(client_factory: ClientFactory) -> None:
    client = client_factory(
        ".", files={"tests/test_long.py": "import time\n\ndef test_long():\n    time.sleep(120)\n"}
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    script = str(client.root / "helpers_root/dev_scripts/main_pytest.py")
    proc = start_and_wait_for_containers(client, [sys.executable, script, "--fresh"])
    proc.terminate()
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert containers_of(client) == []


def test_two_runs_at_once_do_not_collide(client_factory: ClientFactory) -> None:
    client = tree(client_factory)
    assert client.script("dev_scripts/main_pytest.py", "--if-missing", "build").returncode == 0
    script = str(client.root / "helpers_root/dev_scripts/main_pytest.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, "-j", "2"],
            cwd=client.root,
            env=client.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    reports = [report(client, out) for out in outs]
    assert reports[0]["run_id"] != reports[1]["run_id"]
    for data in reports:
        assert {d: v["passed"] for d, v in by_dir(data).items()} == {
            ".": 1,
            "infra": 3,
            "infra/etl": 2,
        }


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_run_tests_exit_codes_reruns_and_repro(client_factory: ClientFactory) -> None:
    client = client_factory(
        ".",
        files={"tests/test_mixed.py": PASSING + "\ndef test_bad():\n    assert 0, 'nope'\n"},
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    first = client.invoke("run_tests")
    assert first.returncode == 1 and ".: 1 passed, 1 failed" in first.stdout
    repro = client.invoke("pytest_repro")
    assert repro.returncode == 0
    (command,) = repro.stdout.strip().splitlines()
    assert command.startswith("invoke docker_cmd --cmd ")
    replay = subprocess.run(
        ["bash", "-c", command.replace("invoke ", f"{sys.executable} -m invoke ", 1)],
        cwd=client.root,
        env=client.env(),
        capture_output=True,
        text=True,
    )
    assert replay.returncode == 1 and "1 failed" in replay.stdout, replay.stdout + replay.stderr
    assert "test_bad" in replay.stdout and "test_ok" not in replay.stdout
    rerun = client.invoke("pytest_failed")
    assert rerun.returncode == 1 and ".: 0 passed, 1 failed" in rerun.stdout
    write(client.root / "tests" / "test_mixed.py", PASSING + "\ndef test_bad():\n    pass\n")
    fixed = client.invoke("pytest_failed")
    assert fixed.returncode == 0 and ".: 1 passed, 0 failed" in fixed.stdout
    none = client.invoke("run_tests", "--pytest-opts", "-k nothing_matches")
    assert none.returncode == 1 and "no tests ran" in none.stderr
    allowed = client.invoke("run_tests", "--pytest-opts", "-k nothing_matches", "--allow-no-tests")
    assert allowed.returncode == 0
    host = client.invoke("run_fast_tests", "--no-docker", "--pytest-opts", "-k test_ok")
    assert host.returncode == 0 and "(host)" in host.stdout


def test_bad_usage_is_exit_2(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    for args, text in (
        (("--test-list", "quick"), "--test-list 'quick'"),
        (("--stage", "qa"), "--stage 'qa' is not one of"),
        (("--dir", "nowhere"), "--dir nowhere: no such dir"),
        (("--bogus",), "unrecognized arguments: --bogus"),
    ):
        result = client.script("dev_scripts/main_pytest.py", *args)
        assert result.returncode == 2, result.stderr
        assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_interrupted_run_tests_and_docker_cmd_exit_130_leaving_nothing(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(
        ".", files={"tests/test_long.py": "import time\n\ndef test_long():\n    time.sleep(120)\n"}
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    for args in (("run_tests",), ("docker_cmd", "--cmd", "sleep 120")):
        proc = start_and_wait_for_containers(client, [sys.executable, "-m", "invoke", *args])
        time.sleep(1)  # let the command inside get going
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, (args, out)
        assert containers_of(client) == [], args


def test_reruns_work_for_nested_dirs_under_a_root_pytest_config(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(
        ".",
        "infra",
        files={
            "pytest.ini": "[pytest]\nmarkers =\n    db: needs a database\n",
            "infra/tests/test_x.py": "def test_ok():\n    pass\n\ndef test_bad():\n    assert 0\n",
        },
    )
    assert client.invoke("docker_build_local_image", "--dir", "infra").returncode == 0
    assert client.invoke("run_tests", "--dir", "infra").returncode == 1
    repro = client.invoke("pytest_repro")
    assert repro.stdout.strip() == (
        "invoke docker_cmd --dir infra --cmd 'python3 -m pytest tests/test_x.py::test_bad'"
        " --version 0.1.0"
    )
    rerun = client.invoke("pytest_failed")
    assert rerun.returncode == 1 and "infra: 0 passed, 1 failed" in rerun.stdout, rerun.stdout


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_changed_since_runs_exactly_the_affected_dirs(client_factory: ClientFactory) -> None:
    client = client_factory(
        ".",
        "infra",
        "svc",
        files={
            "tests/test_root.py": PASSING,
            "infra/tests/test_infra.py": PASSING,
            "svc/tests/test_svc.py": PASSING,
            "libs/common/pyproject.toml": '[project]\nname = "common"\nversion = "1.0.0"\n',
            "libs/common/common.py": "X = 1\n",
            "svc/pyproject.toml": '[project]\nname = "svc"\nversion = "1.0.0"\n'
            'dependencies = ["common"]\n',
        },
    )
    script = "dev_scripts/main_pytest.py"
    assert client.script(script, "--if-missing", "build").returncode == 0
    write(client.root / "libs" / "common" / "common.py", "X = 2\n")  # svc depends on it
    result = client.script(script, "--changed-since", "HEAD")
    assert result.returncode == 0, result.stdout + result.stderr
    data = report(client, result.stdout)
    # svc depends on the package; the root dir holds it (its tests run there).
    assert [d["dir"] for d in data["dirs"]] == [".", "svc"]
    not_run = {d["dir"]: d["why"] for d in data["not_run"]}
    assert list(not_run) == ["infra"] and "not affected since HEAD" in not_run["infra"]
    assert not list(client.root.rglob("__pycache__"))  # runs leave no bytecode in the repo
