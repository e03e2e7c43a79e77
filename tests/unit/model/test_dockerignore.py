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


def test_the_walks_fast_form_agrees_with_the_rule_on_every_path() -> None:
    """excluded_in's one-regex shortcut and reverse scan give excluded's answer."""
    text = "**/*.pyc\n/data\n!data/keep/**\ndocs/**\n*.md\n!README.md\n[a-c]?.txt\nbuild/\n"
    paths = [
        "a.pyc", "x/y/z.pyc", "data/raw.csv", "data/keep/k.csv", "docs/a/b.md", "README.md",
        "notes.md", "sub/README.md", "b1.txt", "d1.txt", "build/out", "src/app/m.py", "x",
    ]  # fmt: skip
    parsed = dockerignore.parse(text)
    for path in paths:
        hits = (False,) * len(parsed)
        parts = path.split("/")
        for k in range(1, len(parts)):
            hits = dockerignore.dir_hits(parsed, hits, "/".join(parts[:k]))
        assert dockerignore.excluded_in(parsed, hits, path) is dockerignore.excluded(parsed, path)
    assert not dockerignore.excluded_in((), (), "anything")
    assert [dockerignore.excluded(parsed, p) for p in ("data/keep/k.csv", "notes.md")] == [
        False,
        True,
    ]
