"""`services`, `reruns` and `quarantine` in repo_config.yaml: parsed, merged, refused with
file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.model import config
from helpers.model.services import Service
from tests.conftest import write

REPO_WIDE = """registry: localhost:5000
services:
  db:
    dockerfile: devops/db.Dockerfile
    env: {POSTGRES_PASSWORD: test, PORT: 5432}
    command: postgres -c "fsync=off"
    healthcheck: pg_isready -h 127.0.0.1
    start_timeout: 5
    tmpfs: [/var/lib/postgresql/tmp]
  cache:
    image: redis:7
    healthcheck: [redis-cli, ping]
"""


def test_services_parse_in_order_with_their_context(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", REPO_WIDE)
    cfg = config.load(tmp_path, ".", env={})
    assert list(cfg.services) == ["db", "cache"]
    assert cfg.services["db"] == Service(
        name="db",
        dockerfile="devops/db.Dockerfile",
        context_dir=".",
        env={"POSTGRES_PASSWORD": "test", "PORT": "5432"},
        command=("postgres", "-c", "fsync=off"),
        healthcheck=("sh", "-c", "pg_isready -h 127.0.0.1"),
        start_timeout=5.0,
        tmpfs=("/var/lib/postgresql/tmp",),
    )
    assert cfg.services["db"].where == "repo_config.yaml:3"
    cache = cfg.services["cache"]
    assert cache.image == "redis:7" and cache.healthcheck == ("redis-cli", "ping")
    assert cache.start_timeout == 60.0  # the default


def test_a_dir_adds_and_replaces_services_by_name(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", REPO_WIDE)
    write(
        tmp_path / "infra" / "repo_config.yaml",
        "services:\n  db:\n    dockerfile: devops/pg.Dockerfile\n  queue:\n    image: q:1\n",
    )
    cfg = config.load(tmp_path, "infra", env={})
    assert list(cfg.services) == ["db", "cache", "queue"]
    assert cfg.services["db"].dockerfile == "devops/pg.Dockerfile"
    assert cfg.services["db"].context_dir == "infra"  # built from infra, its declarer
    assert cfg.services["cache"].context_dir == "."
    assert (
        cfg.services["db"].fingerprint()
        != config.load(tmp_path, ".", env={}).services["db"].fingerprint()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  db:\n    image: x:1\n    start_timeout: soon\n",
            "repo_config.yaml:4: 'services.db.start_timeout' must be a positive number of "
            "seconds, got 'soon'; fix the value",
        ),
        (
            "services:\n  db:\n    image: x:1\n    helthcheck: true\n",
            "repo_config.yaml:4: unknown key 'helthcheck' in service 'db'; "
            "did you mean 'healthcheck'?",
        ),
        (
            "services:\n  db:\n    env: {A: 1}\n",
            "repo_config.yaml:2: service 'db' needs exactly one of 'image'",
        ),
        (
            "services:\n  DB_1:\n    image: x\n",
            "repo_config.yaml:2: service name 'DB_1' is not a host name",
        ),
        (
            "services:\n  db:\n    dockerfile: ../elsewhere/Dockerfile\n",
            "repo_config.yaml:3: 'services.db.dockerfile' must be a file path inside the dir",
        ),
        (
            "services:\n  db:\n    image: x\n    volumes: [data]\n",
            "repo_config.yaml:4: 'services.db.volumes' must be HOST:CONTAINER[:ro]",
        ),
        ("services: [db]\n", "repo_config.yaml:1: 'services' must be a mapping of service name"),
        ("reruns: many\n", "repo_config.yaml:1: 'reruns' must be a number of retries from 0"),
        ("reruns: 11\n", "repo_config.yaml:1: 'reruns' must be a number of retries from 0"),
        (
            "quarantine: [tests/test_x.py]\n",
            "repo_config.yaml:1: 'quarantine' must be test ids like tests/test_x.py::test_y",
        ),
    ],
)
def test_bad_values_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "repo_config.yaml", text)
    with pytest.raises(UserError) as err:
        config.load(tmp_path, ".", env={})
    assert str(err.value).startswith(message), str(err.value)


def test_reruns_and_quarantine(tmp_path: Path) -> None:
    write(
        tmp_path / "repo_config.yaml",
        "reruns: 2\nquarantine: [tests/test_x.py::test_y, tests/test_z.py::TestA]\n",
    )
    cfg = config.load(tmp_path, ".", env={})
    assert cfg.reruns == 2
    assert cfg.quarantine == ("tests/test_x.py::test_y", "tests/test_z.py::TestA")
    assert config.load(tmp_path, "infra", env={}).reruns == 2  # repo-wide: every dir
