"""The thin env's `invoke` and `inv` (build.sh installs this file under both names).

pip's generated script imports invoke with no guard, and invoke turns a Ctrl-C
it catches into a silent exit 1: a Ctrl-C in the first fraction of a second (while
invoke, tasks.py and helpers import) gave a traceback or exit 1. Here an interrupt
(Ctrl-C, SIGTERM, SIGHUP) that reaches this process outside a task is one line and
exit 130; inside a helpers task the edge (helpers.edge) handles it, clean-up first.
Self-contained on purpose: helpers is not importable until invoke loads tasks.py.
Its interpreter runs with -S, so that even `site` (and the .pth files it runs) loads
inside the guard; the first few ms of interpreter start-up are Python's own.
"""

import _signal  # built in: `signal` would import enum first, unguarded
import posix  # built in and already loaded: `os` is not, under -S (its import is guarded)


def _on_stop(signum, frame):  # type: ignore[no-untyped-def]
    """Until a task's edge installs its own handlers nothing has been started: leave at
    once. Raising KeyboardInterrupt here could land inside the import machinery (a
    weakref callback prints "Exception ignored ..." and the import goes on)."""
    posix.write(2, b"interrupted\n")
    posix._exit(130)


def _guard():  # type: ignore[no-untyped-def]
    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        if _signal.getsignal(sig) != _signal.SIG_IGN:  # nohup, background jobs: respected
            _signal.signal(sig, _on_stop)


_guard()  # before any import that runs Python code
import sys  # noqa: E402 - after the guard on purpose

_interrupted = []


def _stopped():  # type: ignore[no-untyped-def]
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    return 130


def main():  # type: ignore[no-untyped-def]
    try:
        if sys.flags.no_site:  # the shebang's -S: set up site-packages here, guarded
            import site

            site.main()
        from invoke.main import program

        program.run()
    except KeyboardInterrupt:
        return _stopped()
    except SystemExit:
        if _interrupted:  # invoke caught the interrupt and exits 1: say what happened
            return _stopped()
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
