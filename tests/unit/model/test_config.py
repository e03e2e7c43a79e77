from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

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
    assert cfg.origin["base_image"] == "$HELPERS_BASE_IMAGE (exported)"
    assert cfg.extra_ca_certs == ("/a.crt", "/b.crt")


def _machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "machine" / "machine.env"
    write(path, text)
    monkeypatch.setenv("HELPERS_MACHINE_ENV", str(path))
    return path


def test_machine_default_never_beats_a_dir_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = _machine(tmp_path, monkeypatch, "HELPERS_BASE_IMAGE=local/base:1\n")
    write(tmp_path / "infra" / "repo_config.yaml", "base_image: dir/base:2\n")
    assert config.load(tmp_path, "infra", env={}).base_image == "dir/base:2"
    assert config.load(tmp_path, "infra", env={}).origin["base_image"] == ("infra/repo_config.yaml")
    cfg = config.load(tmp_path, ".", env={})  # nothing stated: the machine default
    assert cfg.base_image == "local/base:1"
    assert cfg.origin["base_image"] == f"machine default $HELPERS_BASE_IMAGE in {machine}"


def test_machine_env_is_parsed_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command reads machine.env; its parse is kept by stat in the user's cache dir."""
    machine = _machine(tmp_path, monkeypatch, "HELPERS_BASE_IMAGE=m:1\n")
    parses: list[Path] = []
    real = config._machine_values

    def counted(path: Path) -> dict[str, str]:
        parses.append(path)
        return real(path)

    monkeypatch.setattr(config, "_machine_values", counted)

    def settled(text: Optional[str] = None, mtime: float = 1_000_000) -> None:
        if text is not None:
            machine.write_text(text)
        os.utime(machine, (mtime, mtime))

    settled()
    assert [config.machine_defaults()["HELPERS_BASE_IMAGE"] for _ in range(3)] == ["m:1"] * 3
    assert parses == [machine]  # then from the cache
    settled("HELPERS_BASE_IMAGE=m:22\n", 1_000_500)  # a new value (another size, mtime)
    assert config.machine_defaults()["HELPERS_BASE_IMAGE"] == "m:22"
    settled("HELPERS_BASE_IMAGE=m:33\n", 1_000_500)  # same size, same mtime, same inode
    assert config.machine_defaults()["HELPERS_BASE_IMAGE"] == "m:33"  # the ctime moved
    assert parses == [machine, machine, machine]


def test_precedence_exported_then_dir_then_repo_then_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _machine(tmp_path, monkeypatch, "HELPERS_BASE_IMAGE=m:1\nHELPERS_REGISTRY=machine:5000\n")
    write(tmp_path / "repo_config.yaml", "base_image: repo:1\n")
    write(tmp_path / "a" / "repo_config.yaml", "base_image: dir:1\n")
    assert config.load(tmp_path, "b", env={}).base_image == "repo:1"
    assert config.load(tmp_path, "a", env={}).base_image == "dir:1"
    exported = config.load(tmp_path, "a", env={"HELPERS_BASE_IMAGE": "exp:1"})
    assert exported.base_image == "exp:1"
    assert exported.registry == "machine:5000"  # no file states one
    assert exported.registries == ("machine:5000",)


def test_empty_exported_value_is_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "repo_config.yaml", "base_image: repo:1\n")
    cfg = config.load(tmp_path, ".", env={"HELPERS_BASE_IMAGE": "", "HELPERS_REGISTRY": " "})
    assert cfg.base_image == "repo:1"
    assert cfg.origin["base_image"] == "repo_config.yaml"
    assert cfg.registry is None


def test_machine_ca_certs_are_added_to_configured_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _machine(tmp_path, monkeypatch, "HELPERS_EXTRA_CA_CERTS=/etc/ssl/proxy.pem\n")
    write(tmp_path / "repo_config.yaml", "extra_ca_certs: [certs/corp.pem]\n")
    cfg = config.load(tmp_path, ".", env={})
    assert cfg.extra_ca_certs == ("certs/corp.pem", "/etc/ssl/proxy.pem")


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
