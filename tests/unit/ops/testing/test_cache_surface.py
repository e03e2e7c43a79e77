"""The caches as users meet them: config keys, flags, the report's `cached`, the CI workflow,
the OCI artifact layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from helpers.cli import main_pytest
from helpers.effects import oci
from helpers.errors import UserError
from helpers.model import config, junit
from helpers.ops.testing import merge, parallel, report
from tests.conftest import REPO, write


def test_cache_keys_default_validate_and_yield_to_the_environment(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "test_cache: off\nimage_cache: shared\n")
    cfg = config.load(tmp_path, ".", env={})
    assert (cfg.test_cache, cfg.image_cache, cfg.cache_registry) == ("off", "shared", None)
    env = {"HELPERS_TEST_CACHE": "shared", "HELPERS_CACHE_REGISTRY": "ghcr.io/Acme-Org"}
    cfg = config.load(tmp_path, ".", env=env)
    assert (cfg.test_cache, cfg.cache_registry) == ("shared", "ghcr.io/acme-org")
    assert cfg.origin["test_cache"] == "$HELPERS_TEST_CACHE"
    assert config.load(tmp_path / "nothing", ".", env={}).test_cache == "local"
    write(tmp_path / "repo_config.yaml", "test_cache: remote\n")
    with pytest.raises(UserError, match=r"repo_config.yaml:1: 'test_cache' must be local or "):
        config.load(tmp_path, ".", env={})
    with pytest.raises(UserError, match=r"\$HELPERS_IMAGE_CACHE: 'image_cache' must be local"):
        config.load(tmp_path / "nothing", ".", env={"HELPERS_IMAGE_CACHE": "off"})


def test_main_pytest_takes_no_cache_and_cache_status() -> None:
    args = main_pytest.parse_args(["--no-cache"])
    assert args.no_cache and not args.cache_status
    assert main_pytest.parse_args(["--cache-status"]).cache_status


def _result(rel: str, cached: bool) -> parallel.DirResult:
    counts = junit.Counts(passed=2)
    return parallel.DirResult(rel, f"img-{rel}", 0, counts, 0.0, "", "", cached=cached)


def test_a_cached_dir_in_the_table_json_and_merged_reports(tmp_path: Path) -> None:
    results = [_result("a", True), _result("b", False)]
    lines = report.table(results).splitlines()
    assert lines[0].split()[-1] == "cached"
    assert lines[2].split()[-1] == "cached" and lines[3].split()[-1] == "0.0"
    assert report.table([_result("b", False)]).splitlines()[0].split()[-1] == "seconds"
    assert report.end_line(results[0]).startswith("cached   a  2 passed")
    data = json.loads(report.to_json("run-1", 0, results, []))
    assert [d["cached"] for d in data["dirs"]] == [True, False]
    write(tmp_path / "shard/report.json", json.dumps(data))
    write(tmp_path / "shard/junit.xml", "<testsuites/>")
    merged = merge.merge([tmp_path / "shard"])
    assert [r.cached for r in merged.results] == [True, False]
    assert "0.0 (cached)" in merge.markdown(merged)


def _workflow() -> dict[str, object]:
    loaded = yaml.safe_load((REPO / "templates/github-workflow.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_workflow_shares_both_caches_and_logs_in_without_a_secret_on_argv() -> None:
    text = (REPO / "templates/github-workflow.yml").read_text()
    flow = _workflow()
    assert flow["env"] == {
        "HELPERS_TEST_CACHE": "shared",
        "HELPERS_IMAGE_CACHE": "shared",
        "HELPERS_CACHE_REGISTRY": "ghcr.io/${{ github.repository_owner }}",
    }
    assert flow["permissions"] == {"contents": "read", "packages": "write"}
    jobs = flow["jobs"]
    assert isinstance(jobs, dict)
    for name in ("plan", "test"):
        steps = jobs[name]["steps"]
        login = [s for s in steps if "docker_login" in s.get("run", "")]
        assert len(login) == 1, name
        assert "--password-stdin" in login[0]["run"] and "printenv GITHUB_TOKEN" in login[0]["run"]
        assert login[0]["env"] == {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}
    # No `run:` line puts a secret's value on a command line.
    for run in re.findall(r"run: \|\n((?:          .*\n)+)", text):
        assert "secrets." not in run
    plan = "\n".join(s.get("run", "") for s in jobs["plan"]["steps"])
    assert "--cache-status" in plan and "count=0" in plan


def test_an_artifact_is_an_oci_manifest_with_the_empty_config() -> None:
    layer = oci.Layer("application/vnd.helpers.test-result.v1+json", b'{"x": 1}')
    body = json.loads(oci.artifact_manifest("application/vnd.helpers.test-result.v1+json", [layer]))
    assert body["mediaType"] == oci.OCI_MANIFEST
    assert body["config"] == {
        "mediaType": oci.OCI_EMPTY,
        "digest": oci.sha256(b"{}"),
        "size": 2,
    }
    assert body["layers"] == [
        {"mediaType": layer.media_type, "digest": layer.digest, "size": len(layer.data)}
    ]
