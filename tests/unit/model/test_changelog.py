from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from packaging.version import Version

from helpers.errors import UserError
from helpers.model import changelog

GOOD = """# infra-1.10.0
- 2026-11-20
- Add psycopg

# infra-1.9.0
- 2026-10-02
- First release
"""


def test_newest_version_uses_numeric_order() -> None:
    log = changelog.parse_text(GOOD, Path("infra/changelog.txt"))
    assert log.version == Version("1.10.0")
    assert [str(e.version) for e in log.entries] == ["1.10.0", "1.9.0"]
    assert log.newest.name == "infra"
    assert log.newest.notes == ("- 2026-11-20", "- Add psycopg")


def test_not_decreasing_names_file_and_line() -> None:
    text = "# a-1.9.0\n- x\n\n# a-1.10.0\n- y\n"
    with pytest.raises(UserError) as err:
        changelog.parse_text(text, Path("infra/changelog.txt"))
    assert str(err.value).startswith(
        "infra/changelog.txt:4: version 1.10.0 must be lower than 1.9.0"
    )


def test_bad_header_names_line() -> None:
    with pytest.raises(UserError) as err:
        changelog.parse_text("# a-1.0\n- x\n", Path("c.txt"))
    assert str(err.value).startswith("c.txt:1: expected a version header like '# name-1.2.3'")


def test_notes_before_header() -> None:
    with pytest.raises(UserError, match=r"c.txt:2: expected a version header"):
        changelog.parse_text("\n- stray\n# a-1.0.0\n", Path("c.txt"))


def test_empty_file() -> None:
    with pytest.raises(UserError, match="no version entry found"):
        changelog.parse_text("\n\n", Path("c.txt"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no changelog"):
        changelog.load(tmp_path / "changelog.txt")


@pytest.mark.parametrize(
    ("part", "expected"), [("major", "2.0.0"), ("minor", "1.10.0"), ("patch", "1.9.4")]
)
def test_bumped(part: str, expected: str) -> None:
    assert changelog.bumped(Version("1.9.3"), part) == Version(expected)


def test_bump_prepends_entry(tmp_path: Path) -> None:
    path = tmp_path / "changelog.txt"
    path.write_text(GOOD)
    new = changelog.bump(path, "minor", "Add redis\nPin numpy", datetime.date(2026, 11, 22))
    assert new == changelog.Bumped(Version("1.11.0"))
    text = path.read_text()
    assert text.startswith(
        "# infra-1.11.0\n- 2026-11-22\n- Add redis\n- Pin numpy\n\n# infra-1.10.0"
    )
    assert changelog.load(path).version == Version("1.11.0")


def test_bump_rejects_bad_part_and_keeps_file(tmp_path: Path) -> None:
    path = tmp_path / "changelog.txt"
    path.write_text(GOOD)
    with pytest.raises(UserError, match="--part 'huge' is not one of major, minor, patch"):
        changelog.bump(path, "huge", "x")
    assert path.read_text() == GOOD
    assert [p.name for p in tmp_path.iterdir()] == ["changelog.txt"]


def test_bump_needs_message(tmp_path: Path) -> None:
    path = tmp_path / "changelog.txt"
    path.write_text(GOOD)
    with pytest.raises(UserError, match="needs a message"):
        changelog.bump(path, "patch", "  ")
    assert path.read_text() == GOOD


PACKAGE = """[build-system]
requires = ["setuptools>=61"]

[project]
name = 'infra'
version = '1.10.0'   # kept in step with changelog.txt
dependencies = ["x==1.0"]

[tool.other]
version = "9.9.9"
"""


def test_bump_moves_a_packages_version_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "changelog.txt"
    path.write_text(GOOD)
    (tmp_path / "pyproject.toml").write_text(PACKAGE)
    done = changelog.bump(path, "patch", "Fix", datetime.date(2026, 11, 22))
    assert done == changelog.Bumped(Version("1.10.1"), tmp_path / "pyproject.toml")
    assert (tmp_path / "pyproject.toml").read_text() == PACKAGE.replace(
        "version = '1.10.0'", "version = '1.10.1'"
    )
    poetry = '[tool.poetry]\nname = "infra"\nversion = "1.10.1"\n'
    (tmp_path / "pyproject.toml").write_text(poetry)
    changelog.bump(path, "minor", "More", datetime.date(2026, 11, 23))
    assert (tmp_path / "pyproject.toml").read_text() == poetry.replace("1.10.1", "1.11.0")
    dynamic = '[project]\nname = "infra"\ndynamic = ["version"]\n'
    (tmp_path / "pyproject.toml").write_text(dynamic)
    assert changelog.bump(path, "patch", "Again").package is None
    assert (tmp_path / "pyproject.toml").read_text() == dynamic


def test_bump_refuses_a_read_only_pyproject_and_writes_neither(tmp_path: Path) -> None:
    path = tmp_path / "changelog.txt"
    path.write_text(GOOD)
    (tmp_path / "pyproject.toml").write_text(PACKAGE)
    (tmp_path / "pyproject.toml").chmod(0o444)
    with pytest.raises(UserError, match=r"pyproject.toml: the file is read-only"):
        changelog.bump(path, "patch", "Fix")
    assert path.read_text() == GOOD
