"""helpers/tables.py: the shared renderings of tables, counts and long lists."""

from __future__ import annotations

from helpers import tables


def test_a_long_list_shows_its_first_items_and_counts_the_rest() -> None:
    assert tables.listed(["a", "b", "c", "d", "e"], 3) == "a, b, c and 2 more"
    assert tables.listed(["a", "b", "c"], 3) == "a, b, c"  # exactly the limit: nothing hidden
    assert tables.first(["a", "b", "c", "d"], 2) == ["a", "b", "and 2 more"]
    assert tables.first(["a"], 2) == ["a"]


def test_counts_read_as_english() -> None:
    assert [tables.count(n, "dir") for n in (0, 1, 2)] == ["0 dirs", "1 dir", "2 dirs"]
    assert tables.count(2, "library", "libraries") == "2 libraries"


def test_a_table_aligns_its_columns_two_spaces_apart() -> None:
    text = tables.render([["dir", "passed"], ["infra/etl", "3"]], rule=True)
    assert text.splitlines() == ["dir        passed", "---------  ------", "infra/etl  3"]
