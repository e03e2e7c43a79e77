import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import greet  # noqa: E402


def test_greet() -> None:
    assert greet("ann") == "hello, ann"
