"""The collection a client imports: every task's flags parse, and importing it stays light."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.outcome import Outcome
from helpers.tasks import ns
from tests.conftest import REPO, fresh_python, make_runnable, write

CONTRACT_TASKS = {
    "docker_bash",
    "docker_cmd",
    "docker_build_local_image",
    "run_tests",
    "run_fast_tests",
    "run_slow_tests",
    "run_superslow_tests",
    "pytest_failed",
    "pytest_repro",
    "print_setup",
    "docker_jupyter",
    "docker_pull",
    "docker_login",
    "docker_images_ls_repo",
    "docker_ps",
    "docker_kill",
    "docker_cleanup",
    "changes",
    "info",
    "deps",
    "bump_version",
    "docker_tag_local_image_as_dev",
    "docker_push_dev_image",
    "docker_release_dev_image",
    "docker_build_prod_image",
    "docker_release_prod_image",
    "docker_rollback_dev_image",
    "docker_rollback_prod_image",
    "sync_files",
    "check_libs",
    "check_boundaries",
    "verify_image",
    "generate_signing_key",
}


def test_every_task_builds_its_parser() -> None:
    contexts = ns.to_contexts()
    names = {c.name for c in contexts}
    assert names >= CONTRACT_TASKS
    for context in contexts:
        assert all(flag.startswith("--") for flag in context.flags)


def test_only_the_tasks_a_command_names_build_their_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from invoke.collection import Collection
    from invoke.program import Program

    import helpers.tasks

    loaded = Collection.from_module(helpers.tasks, auto_dash_names=False)  # as invoke loads it
    dashed = Collection.from_module(helpers.tasks)  # a client without our invoke.yaml
    monkeypatch.setattr("sys.argv", ["/venv/bin/invoke", "docker-cmd", "--cmd", "true"])
    assert {c.name for c in dashed.to_contexts() if c.flags} == {"docker-cmd"}

    def flagged(*argv: str, binary: str = "/venv/bin/invoke") -> set[str]:
        monkeypatch.setattr("sys.argv", [binary, *argv])
        return {c.name or "" for c in loaded.to_contexts() if c.flags}

    every = set(ns.task_names)
    assert flagged("docker_cmd", "--cmd", "true") == {"docker_cmd"}
    assert flagged("changes", "info", "--dir", "x") == {"changes", "info"}
    assert flagged("docker_cmd", binary="/x/invoke/__main__.py") == {"docker_cmd"}
    assert flagged("--list") == set() and flagged("dockr_cmd") == set()
    assert flagged("--complete", "--", "invoke", "docker_cmd", "--d") == every
    # Another process (pytest -k info) running a Program on its own argv: every task.
    assert flagged("-k", "info", binary="/venv/bin/pytest") == every
    monkeypatch.setattr("sys.argv", ["/venv/bin/invoke", "--help", "docker_cmd"])
    with pytest.raises(SystemExit) as done:
        Program(namespace=loaded).run(["invoke", "--help", "docker_cmd"])
    assert done.value.code == 0 and "--if-missing" in capsys.readouterr().out
    monkeypatch.setattr("sys.argv", ["/venv/bin/invoke", "docker_cmd", "--bogus"])
    with pytest.raises(SystemExit) as bad:
        Program(namespace=loaded).run(["invoke", "docker_cmd", "--bogus"])
    assert bad.value.code == 1 and "--bogus" in capsys.readouterr().err


# Installed in the thin env (so their absence is a real finding) and not needed to list tasks.
HEAVY: tuple[str, ...] = ("packaging", "dotenv", "pytest", "tempfile", "xml.etree.ElementTree",
                          "hashlib", "tarfile")  # fmt: skip
HEAVY += ("cryptography", "cyclonedx")  # signed releases
HEAVY += ("watchfiles",)  # run_tests --watch only


def test_invoke_list_imports_only_the_task_modules(tmp_path: Path) -> None:
    """The import-time weight of `invoke --list` in a client-shaped repo: which modules load."""
    (tmp_path / ".git").mkdir()
    write(tmp_path / "tasks.py", "from helpers.tasks import ns  # noqa: F401\n")
    write(tmp_path / "invoke.yaml", (REPO / "invoke.yaml").read_text())
    make_runnable(tmp_path, ".")
    make_runnable(tmp_path, "infra")
    write(tmp_path / "repo_config.yaml", "image_name: acme\n")  # no yaml parsing to list
    code = (
        "import json, sys\n"
        "from invoke.main import program\n"
        "before = set(sys.modules)  # what invoke itself loads (its own yaml among them)\n"
        "program.run(['invoke', '--list'], exit=False)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = fresh_python(code, cwd=tmp_path)
    loaded = set(json.loads(out.splitlines()[-1]))
    assert "run_tests" in out
    ours = {m for m in loaded if m.split(".")[0] == "helpers"}
    task_modules = {
        f"helpers.tasks.{p.stem}" for p in (REPO / "helpers" / "tasks").glob("*.py")
    } - {"helpers.tasks.__init__"}
    # no library module at all, not even the output channel: the edge renders, later
    assert ours == {"helpers", "helpers.tasks", *task_modules}
    heavy = sorted(m for m in HEAVY if m in loaded)
    assert heavy == [], heavy
    import importlib.util

    assert all(importlib.util.find_spec(m) for m in ("packaging", "dotenv", "pytest", "watchfiles"))


def test_every_task_a_message_names_exists() -> None:
    import re
    from pathlib import Path

    import helpers

    names = {c.name for c in ns.to_contexts()}
    source = "\n".join(p.read_text() for p in Path(helpers.__file__).parent.rglob("*.py"))
    named = set(re.findall(r"`invoke ([a-z_]+)", source))
    named |= set(re.findall(r"task_line\(\s*\"([a-z_]+)\"", source))
    named |= set(re.findall(r"task_line\(\s*'([a-z_]+)'", source))
    assert named, "the pattern should find the fix commands in messages"
    assert named <= names, named - names


def test_list_tasks_pass_their_flags_through(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.ops.testing import single
    from helpers.tasks import pytest_tasks

    seen: list[single.RunRequest] = []

    def record(req: single.RunRequest) -> Outcome:
        seen.append(req)
        return Outcome()

    monkeypatch.setattr(single, "run_tests", record)
    pytest_tasks.run_slow_tests.body(None, dir="infra", fresh=True, pytest_opts="-x")
    pytest_tasks.run_tests.body(None, test_list="fast", no_docker=True)
    assert seen == [
        single.RunRequest(dir="infra", test_list="slow", fresh=True, pytest_opts="-x"),
        single.RunRequest(test_list="fast", no_docker=True),
    ]
