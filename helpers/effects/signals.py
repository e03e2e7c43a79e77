"""Stop signals as KeyboardInterrupt: Ctrl-C, SIGTERM and SIGHUP (terminal closed, ssh or
CI agent lost) all end a run the same way, so each operation's clean-up runs.

The edge (helpers/edge.py) wraps every entry point in `stop_signals_interrupt`; a
clean-up in progress calls `ignore_stop_signals` so a second Ctrl-C waits for it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, Optional

# Each of these ends the run the way Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt inside; the old handlers return after."""
    if not _in_main_thread():
        yield
        return
    old: dict[signal.Signals, Any] = {}
    for sig in STOP_SIGNALS:
        previous = signal.getsignal(sig)
        if previous is signal.SIG_IGN:
            continue  # nohup / a background job: the caller chose to ignore it
        old[sig] = previous
        signal.signal(sig, _raise_interrupt)
    try:
        yield
    finally:
        for sig, handler in old.items():
            # None: a handler set outside Python; the default is the closest we can restore.
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def ignore_stop_signals() -> None:
    """During a clean-up: further Ctrl-C / SIGTERM / SIGHUP wait until it is done.

    The edge restores the caller's handlers when it exits.
    """
    if _in_main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
