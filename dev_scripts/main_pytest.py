#!/usr/bin/env python3
"""Run the tests of every runnable dir under --dir, each in its own container, in parallel.

A thin entry point: the logic lives in helpers.main_pytest.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.main_pytest import main

if __name__ == "__main__":
    sys.exit(main())
