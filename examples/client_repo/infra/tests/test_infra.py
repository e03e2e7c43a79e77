import time

import pytest


def test_fast() -> None:
    assert sum(range(4)) == 6


@pytest.mark.slow
def test_slow_listed_separately() -> None:
    time.sleep(0.5)
    assert time.monotonic() > 0
