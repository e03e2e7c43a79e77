# Written by helpers (sync_files): slow/superslow markers, per-list time-outs, and
# a parent runnable dir never collects a nested runnable dir's tests. Guarded, so that a
# plain `pytest` works whether or not the thin env's setenv.sh was sourced.
import importlib.util
import pathlib
import sys

sys.path.append(str(pathlib.Path(__file__).parent / "@HELPERS_DIR@"))  # the submodule
if importlib.util.find_spec("helpers"):
    pytest_plugins = ["helpers.pytest_plugin"]
