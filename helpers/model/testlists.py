"""Test lists (fast / slow / superslow) and the pytest command that runs them; pure.

Imported by the pytest plugin inside containers: standard library only.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from helpers.errors import UserError

LISTS = ("fast", "slow", "superslow")
PLUGIN = "helpers.pytest_plugin"


PYTEST_USAGE_ERROR = 4  # pytest stopped before any test: options, paths or a conftest


def pytest_stopped_reason(output: str) -> str:
    """What pytest said when it stopped with exit 4, in one line ("" when it said nothing
    recognisable): a conftest that fails to import, a refused option, a missing path."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("ImportError while loading conftest"):
            cause = next((x[1:].strip() for x in lines[i + 1 :] if x.startswith("E ")), "")
            return f"{line.rstrip('.')}{': ' + cause if cause else ''}"
    said = [x for x in lines if x.startswith("ERROR:") or ": error:" in x]
    return said[-1] if said else ""


def test_list_of(markers: set[str]) -> str:
    """A test marked both slow and superslow is superslow: nothing is ever dropped."""
    if "superslow" in markers:
        return "superslow"
    return "slow" if "slow" in markers else "fast"


def marker_expression(lists: list[str]) -> str:
    """The `-m` expression selecting the union of the given test lists."""
    parts = {
        "fast": "(not slow and not superslow)",
        "slow": "(slow and not superslow)",
        "superslow": "(superslow)",
    }
    return " or ".join(parts[name] for name in lists)


def parse_lists(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in LISTS]
    if bad or not names:
        raise UserError(f"--test-list {text!r}: use a comma-separated subset of {', '.join(LISTS)}")
    return [n for n in LISTS if n in names]


def timeouts_env(lists: Sequence[str], timeouts: Mapping[str, int]) -> str:
    return ",".join(f"{name}={timeouts[name]}" for name in lists if name in timeouts)


def pytest_argv(
    python: str,
    lists: Sequence[str],
    junit_path: str,
    suite_name: str,
    pytest_opts: str = "",
    node_ids: Sequence[str] = (),
    rootdir: str = "",
    cache_dir: str = "",
) -> tuple[str, ...]:
    """`python -m pytest` for the given lists; node ids (reruns) replace the list filter.

    `rootdir` (the runnable dir) keeps node ids relative to it, whatever ini file a
    parent holds, so reruns from that dir find them.
    """
    try:
        extra = shlex.split(pytest_opts)
    except ValueError as exc:
        raise UserError(f"--pytest-opts {pytest_opts!r}: {exc}; fix the quoting") from None
    argv = [python, "-m", "pytest", "-p", PLUGIN, f"--junitxml={junit_path}"]
    argv += ["-o", f"junit_suite_name={suite_name}", "-o", "junit_family=xunit2"]
    if rootdir:
        argv.append(f"--rootdir={rootdir}")
    if cache_dir:  # not .pytest_cache in the user's dir
        argv += ["-o", f"cache_dir={cache_dir}"]
    if not node_ids and set(lists) != set(LISTS):  # all lists: no filter to evaluate
        argv += ["-m", marker_expression(list(lists))]
    return (*argv, *extra, *node_ids)
