"""The dependency graph: cycles as paths, closures and the text views; pure."""

from __future__ import annotations

import pytest

from helpers.errors import UserError
from helpers.model import graph


def test_acyclic_graph_has_no_cycle() -> None:
    g = {"a": ("b", "c"), "b": ("c",), "c": ()}
    assert graph.find_cycle(g) is None
    graph.check_acyclic(g)


def test_cycle_path_starts_at_its_smallest_node() -> None:
    g = {"x": ("c",), "c": ("b",), "b": ("a",), "a": ("c",)}
    assert graph.find_cycle(g) == ["a", "c", "b", "a"]


def test_self_loop_and_two_node_cycle_messages() -> None:
    assert graph.find_cycle({"a": ("a",)}) == ["a", "a"]
    with pytest.raises(UserError) as err:
        graph.check_acyclic({"a": ("b",), "b": ("a",)})
    assert str(err.value).startswith("dependency cycle: a → b → a; remove one of")


def test_long_chain_does_not_recurse() -> None:
    g = {f"n{i:05}": (f"n{i + 1:05}",) for i in range(5000)}
    assert graph.find_cycle(g) is None
    assert len(graph.closure(graph.reverse(g), ["n05000"])) == 5001


def test_reverse_and_closure() -> None:
    g = {"a": (), "b": ("a",), "c": ("b",), "d": ()}
    users = graph.reverse(g)
    assert users == {"a": ("b",), "b": ("c",), "c": (), "d": ()}
    assert graph.closure(users, ["a"]) == {"a", "b", "c"}
    assert graph.closure(users, ["c"]) == {"c"}


def test_edge_lines_root_first() -> None:
    assert graph.edge_lines({"b": ("a",), ".": ("b", "a"), "a": ()}) == [". → b, a", "a", "b → a"]


def test_tree_lines_show_a_shared_subtree_once() -> None:
    g = {"top": ("left", "right"), "left": ("base",), "right": ("base",), "base": ("leaf",)}
    assert graph.tree_lines(g, "top") == [
        "top",
        "├── left",
        "│   └── base",
        "│       └── leaf",
        "└── right",
        "    └── base (see above)",
    ]


def test_deps_text_all_edges_and_one_unit() -> None:
    g = {"svc": ("libs/a",), "svc/pkg": ("libs/a",), "libs/a": ()}
    within = {"svc/pkg": "svc"}
    assert graph.deps_text(g, within, None, users=False) == (
        "libs/a\nsvc → libs/a\nsvc/pkg → libs/a\n\n"
        "tested in the container of the runnable dir holding them:\n  svc holds svc/pkg"
    )
    assert graph.deps_text(g, within, "libs/a", users=True) == ("libs/a\n├── svc\n└── svc/pkg")
    assert graph.deps_text(g, within, "svc/pkg", users=False) == (
        "svc/pkg\n└── libs/a\n(tested in the container of svc)"
    )
