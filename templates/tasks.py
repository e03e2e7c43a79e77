# Written by helpers (sync_files): the invoke tasks of the dev toolchain.
# Add your own tasks with ns.add_task; a file you change is yours (sync_files
# shows it as a diff and leaves it alone; add it to sync_exclude to silence that).
from helpers.tasks import ns  # noqa: F401
