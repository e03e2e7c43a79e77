from __future__ import annotations

import pytest

from helpers.model import dockerignore


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        ("*.pyc", "a.pyc", True),
        ("*.pyc", "sub/a.pyc", False),  # `*` does not cross dirs
        ("**/*.pyc", "sub/deep/a.pyc", True),
        ("**/*.pyc", "a.pyc", True),  # `**/` matches zero dirs too
        ("**/foo", "barfoo", False),
        ("data", "data/x/y.csv", True),  # a matched dir excludes what is below
        ("/data", "data/x", True),  # leading slash is dropped
        ("data/", "data/x", True),
        ("*\n!keep.txt", "keep.txt", False),
        ("*\n!keep.txt", "drop.txt", True),
        ("!keep.txt\n*", "keep.txt", True),  # last match wins
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[a-c].txt", "b.txt", True),
        ("[!a-c].txt", "b.txt", False),
        ("# comment\n\n", "x", False),
        ("docs/**", "docs/a/b.md", True),
        ("docs/**", "docsx/a.md", False),
    ],
)
def test_matching(patterns: str, path: str, excluded: bool) -> None:
    parsed = dockerignore.parse(patterns)
    assert dockerignore.excluded(parsed, path) is excluded
    # The walk's per-dir form gives the same answer.
    hits = (False,) * len(parsed)
    parts = path.split("/")
    for k in range(1, len(parts)):
        hits = dockerignore.dir_hits(parsed, hits, "/".join(parts[:k]))
    assert dockerignore.excluded_in(parsed, hits, path) is excluded


def test_may_prune_unless_a_negation_reaches_inside() -> None:
    assert dockerignore.may_prune(dockerignore.parse("build"), "build")
    assert not dockerignore.may_prune(dockerignore.parse("build\n!build/keep"), "build")
    assert dockerignore.may_prune(dockerignore.parse("*\n!devops/"), "node_modules")
    assert not dockerignore.may_prune(dockerignore.parse("*\n!devops/"), "devops")
    assert not dockerignore.may_prune(dockerignore.parse("*\n!**/keep"), "node_modules")
