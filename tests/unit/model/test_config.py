from __future__ import annotations

from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.model import config
from tests.conftest import write


def test_defaults_without_files(tmp_path: Path) -> None:
    root = tmp_path / "Acme Repo"
    root.mkdir()
    cfg = config.load(root, ".", env={})
    assert cfg.image_name == "acme-repo"
    assert cfg.base_image == config.DEFAULT_BASE_IMAGE
    assert cfg.registry is None
    assert cfg.test_timeouts == {"fast": 60, "slow": 600, "superslow": 3600}
    assert cfg.origin == {}


def test_nested_default_image_name_follows_root(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "image_name: acme\n")
    assert config.load(tmp_path, "infra/etl", env={}).image_name == "acme-infra-etl"
    assert config.load(tmp_path, ".", env={}).image_name == "acme"


def test_per_dir_overrides_and_merges_mappings(tmp_path: Path) -> None:
    write(
        tmp_path / "repo_config.yaml",
        "registry: localhost:5000\nbuild_args: {A: '1', B: '2'}\n"
        "test_timeouts: {slow: 100}\ndepends_on: [libs]\n",
    )
    write(
        tmp_path / "infra" / "repo_config.yaml",
        "registry: ghcr.io/acme\nbuild_args: {B: '3'}\nimage_name: infra\n",
    )
    cfg = config.load(tmp_path, "infra", env={})
    assert cfg.registry == "ghcr.io/acme"
    assert cfg.build_args == {"A": "1", "B": "3"}
    assert cfg.image_name == "infra"
    assert cfg.depends_on == ()  # per-dir only: the repo-wide value is the root dir's
    assert cfg.test_timeouts == {"fast": 60, "slow": 100, "superslow": 3600}
    assert cfg.origin["registry"] == "infra/repo_config.yaml"
    assert cfg.origin["test_timeouts"] == "repo_config.yaml"


def test_env_overrides_win(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "base_image: python:3.12-slim\n")
    env = {"HELPERS_BASE_IMAGE": "local/py:1", "HELPERS_EXTRA_CA_CERTS": "/a.crt:/b.crt"}
    cfg = config.load(tmp_path, ".", env=env)
    assert cfg.base_image == "local/py:1"
    assert cfg.origin["base_image"] == "$HELPERS_BASE_IMAGE"
    assert cfg.extra_ca_certs == ("/a.crt", "/b.crt")


def test_unknown_key_names_closest(tmp_path: Path) -> None:
    write(tmp_path / "infra" / "repo_config.yaml", "platforms: [linux/amd64]\nregisty: x\n")
    with pytest.raises(UserError) as err:
        config.load(tmp_path, "infra", env={})
    assert (
        str(err.value)
        == "infra/repo_config.yaml:2: unknown key 'registy'; did you mean 'registry'?"
    )


def test_unknown_key_without_close_match_lists_keys(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "zzz: 1\n")
    with pytest.raises(
        UserError, match=r"repo_config.yaml:1: unknown key 'zzz'; valid keys: image_name"
    ):
        config.load(tmp_path, ".", env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sibling_docker: yes please\n", "'sibling_docker' must be true or false"),
        ("platforms: [amd64]\n", "'platforms': 'amd64' is not a platform like linux/amd64"),
        ("platforms: [linux/amd46]\n", "unknown architecture in 'linux/amd46'"),
        ("registry: https://localhost:5000\n", "without the scheme: 'localhost:5000'"),
        ("registries: [a.io, http://b.io]\n", "without the scheme: 'b.io'"),
        ("mounts: [/nonexist]\n", "'mounts' must be mounts like 'data:/data'"),
        ("mounts: ['data:/data:rx']\n", "'mounts' must be mounts like 'data:/data'"),
        ("image_name: Acme_App\n", "'image_name' must be a lowercase image name"),
        ("test_timeouts: {quick: 3}\n", "'test_timeouts' has unknown test list 'quick'"),
        ("test_timeouts: {fast: -1}\n", "'test_timeouts.fast' must be a positive number"),
        ("build_args: [a]\n", "'build_args' must be a mapping"),
        ("- just a list\n", "expected a mapping of settings"),
        ("registry: [unclosed\n", "repo_config.yaml:2: "),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "repo_config.yaml", text)
    with pytest.raises(UserError) as err:
        config.load(tmp_path, ".", env={})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_empty_file_is_defaults(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "# nothing yet\n")
    assert config.load(tmp_path, ".", env={}).platforms == ("linux/amd64", "linux/arm64")


def test_repo_paths_are_cleaned_and_kept_inside(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "ignore_dirs: [./examples/, 'x//y']\n")
    assert config.load(tmp_path, ".", env={}).ignore_dirs == ("examples", "x/y")
    write(tmp_path / "repo_config.yaml", "ignore_dirs: [../elsewhere]\n")
    with pytest.raises(UserError, match="'ignore_dirs' must be paths inside the repo"):
        config.load(tmp_path, ".", env={})
