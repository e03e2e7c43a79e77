"""Rules about the code's shape that no linter checks: kept by tests, not by prose.

A function past ~50 lines is asking to be split (docs: DESIGN.md, "Small modules"); ruff's
mccabe check (pyproject.toml) bounds branching, this bounds length.
"""

from __future__ import annotations

import ast
from pathlib import Path

HELPERS = Path(__file__).resolve().parents[2] / "helpers"
MAX_FUNCTION_LINES = 50


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Every function (methods and nested ones too) under `root` longer than `limit` lines,
    decorators and docstring included, as `path:line name (N lines)`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - first + 1
                if lines > limit:
                    shown = path.relative_to(root.parent).as_posix()
                    found.append(f"{shown}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_in_helpers_is_over_50_lines() -> None:
    assert HELPERS.is_dir()
    too_long = long_functions(HELPERS)
    assert not too_long, "split these functions (at most 50 lines each):\n" + "\n".join(too_long)


def test_a_long_function_is_named_with_where_it_is(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg" / "sub"
    pkg.mkdir(parents=True)
    body = "".join(f"    x{i} = {i}\n" for i in range(50))  # 51 lines with the `def`
    (pkg / "long.py").write_text(f'"""A module."""\n\n\ndef too_long():\n{body}')
    fits = "".join(f"        y{i} = {i}\n" for i in range(48))  # 50 lines with `@` and `def`
    (pkg / "fits.py").write_text(
        f"class C:\n    @staticmethod\n    def fits():\n{fits}\n    async def long_method():\n"
        + "".join(f"        z{i} = {i}\n" for i in range(51))
    )

    assert long_functions(tmp_path / "pkg") == [
        "pkg/sub/fits.py:53 long_method (52 lines)",
        "pkg/sub/long.py:4 too_long (51 lines)",
    ]
