# Written by helpers (sync_files): slow/superslow markers, per-list time-outs, and
# a parent runnable dir never collects a nested runnable dir's tests.
pytest_plugins = ["helpers.pytest_plugin"]
