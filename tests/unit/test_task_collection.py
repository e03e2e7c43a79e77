"""The collection a client imports: every task's flags parse, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

from helpers.tasks import ns

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
}


def test_every_task_builds_its_parser() -> None:
    contexts = ns.to_contexts()
    names = {c.name for c in contexts}
    assert names >= CONTRACT_TASKS
    for context in contexts:
        assert all(flag.startswith("--") for flag in context.flags)


def test_import_does_not_load_heavy_modules() -> None:
    code = (
        "import sys, helpers.tasks; "
        "heavy = [m for m in ('docker', 'pytest', 'packaging', 'helpers.config', 'helpers.engine') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


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


def test_list_tasks_pass_their_flags_through(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from helpers import testops
    from helpers.tasks import pytest_tasks

    seen = []
    monkeypatch.setattr(testops, "run_tests", lambda req: seen.append(req) or 0)
    pytest_tasks.run_slow_tests.body(None, dir="infra", fresh=True, pytest_opts="-x")
    pytest_tasks.run_tests.body(None, test_list="fast", no_docker=True)
    assert seen == [
        testops.RunRequest(dir="infra", test_list="slow", fresh=True, pytest_opts="-x"),
        testops.RunRequest(test_list="fast", no_docker=True),
    ]
