"""Script entry points (argv parsing and `main`s) for dev_scripts/: each hands its work
to an operation and runs it inside the one edge (helpers/edge.py).
"""
