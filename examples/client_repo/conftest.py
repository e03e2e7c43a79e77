# Shipped by helpers: slow/superslow markers, per-list time-outs, and a parent
# runnable dir never collects a nested runnable dir's tests (also for plain pytest).
pytest_plugins = ["helpers.pytest_plugin"]
