import os
from pathlib import Path


def test_env_file_reaches_the_container() -> None:
    assert os.environ.get("GREETING") == "hello from .env"


def test_repo_is_mounted_and_workdir_is_the_runnable_dir() -> None:
    assert Path("/app/changelog.txt").is_file()
    assert Path.cwd() == Path("/app")
