#!/usr/bin/env python3
"""Run the tests of every runnable dir under --dir, each in its own container, in parallel.

A thin entry point: argv in helpers.cli.main_pytest, the run in helpers.ops.testing.many
(its edge: helpers.edge).
"""

import sys

if __name__ == "__main__":
    try:
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from helpers import edge  # noqa: F401 - loaded here, not inside main's first lines
        from helpers.cli.main_pytest import main

        code = main()
    except KeyboardInterrupt:  # Ctrl-C before the edge's handlers are in: nothing started
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    sys.exit(code)
