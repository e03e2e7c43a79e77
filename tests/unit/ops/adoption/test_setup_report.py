"""print_setup: each resolved value with where it came from, precedence first."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.model import config, project
from helpers.ops.adoption import setup_report
from tests.conftest import make_runnable, write


def test_config_lines_name_each_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = tmp_path / "machine.env"
    write(machine, "HELPERS_BASE_IMAGE=local/base:1\nHELPERS_REGISTRY=localhost:5000\n")
    monkeypatch.setenv("HELPERS_MACHINE_ENV", str(machine))
    make_runnable(tmp_path, "infra")
    write(tmp_path / "infra" / "repo_config.yaml", "base_image: dir/base:2\n")
    monkeypatch.setenv("HELPERS_REGISTRY", "ghcr.io/me")
    target = project.Target(tmp_path, "infra", config.load(tmp_path, "infra"))
    lines = setup_report._config_lines(target)
    assert "a flag, an exported $HELPERS_*, the dir's repo_config.yaml" in lines[0]
    shown = {line.split()[0]: line for line in lines[1:]}
    assert shown["base_image"].endswith("(infra/repo_config.yaml)")
    assert "'dir/base:2'" in shown["base_image"]
    assert shown["registry"].endswith("($HELPERS_REGISTRY (exported))")
    assert shown["env_file"].endswith("(default)")
