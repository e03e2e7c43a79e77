# Shipped by helpers: slow/superslow markers, per-list time-outs, and a parent
# runnable dir never collects a nested runnable dir's tests (also for plain pytest).
# Plain pytest works with or without the thin env: the submodule is found next to
# this file, and without it (not checked out) the plugin is simply not loaded.
import importlib.util
import pathlib
import sys

sys.path.append(str(pathlib.Path(__file__).with_name("helpers_root")))
if importlib.util.find_spec("helpers"):
    pytest_plugins = ["helpers.pytest_plugin"]
