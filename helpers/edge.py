"""The one edge every entry point runs its work inside (the invoke tasks, main_pytest).

It turns what can go wrong into an exit code and at most one line on stderr:

- `UserError`: `error: <what, where, fix>`, exit 2 (or the error's own code);
- a closed pipe (`invoke changes | head`): nothing, exit 0; another `OSError`
  (a read-only repo, a full disk): one line, exit 2;
- Ctrl-C, SIGTERM, SIGHUP (terminal closed, ssh or CI agent lost): all arrive as
  KeyboardInterrupt, so each operation's clean-up runs (containers removed),
  then exit 130;
- anything else is a bug: one line `unexpected error: ... (details in <log>)`,
  exit 3, with the traceback, versions and argv written to a log under the
  user's state dir ($XDG_STATE_HOME, else ~/.local/state, then helpers/).

What operations emit inside (helpers/events.py) goes to the renderer (helpers/output.py);
the `Outcome` an operation returns is shown on stdout and gives the exit code.
Signal handlers are installed on entry and the previous ones restored on exit;
a signal the caller ignores (nohup, a background job) stays ignored.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable, Optional, TypeVar, Union

from helpers import events, output  # noqa: TID251 (the edge renders)
from helpers.effects.signals import stop_signals_interrupt
from helpers.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UserError, render
from helpers.outcome import Outcome

EXIT_UNEXPECTED = 3
LOG_NAME = "errors.log"
LOG_LIMIT = 1_000_000  # bytes

T = TypeVar("T")


def state_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """Where helpers keeps per-user state: $XDG_STATE_HOME/helpers or ~/.local/state/helpers."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "helpers"


def _versions() -> list[str]:
    import platform  # lazy, as below: only a bug pays for the report
    from importlib import metadata

    lines = [f"python {platform.python_version()} ({sys.executable})", platform.platform()]
    for dist in ("invoke", "pyyaml", "python-dotenv", "packaging"):
        try:
            lines.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{dist} not installed")
    import helpers

    lines.append(f"helpers {Path(helpers.__file__).resolve().parent}")
    return lines


def write_log(
    exc: BaseException, argv: Sequence[str], env: Optional[Mapping[str, str]] = None
) -> Path:
    """Append the details of an unexpected error to the user's error log; its path."""
    import datetime
    import traceback

    path = state_dir(env) / LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size > LOG_LIMIT:  # keep one older log, not all
        os.replace(path, path.with_name(LOG_NAME + ".1"))
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    entry = [
        f"=== {stamp} pid {os.getpid()}",
        f"argv: {list(argv)}",
        f"cwd: {os.getcwd()}",
        *_versions(),
        trace,
    ]
    with path.open("a", encoding="utf-8") as log:
        log.write("\n".join(entry) + "\n")
    return path


def _unexpected(exc: BaseException, argv: Sequence[str]) -> str:
    what = f"{type(exc).__name__}: {exc}".rstrip(": ").replace("\n", " ")
    try:
        where = f"details in {write_log(exc, argv)}"
    except Exception as log_err:  # the report of a bug must not become a second traceback
        where = f"no log written: {log_err}"
    return f"unexpected error: {what} ({where}); please report it"


def _quiet_stdout() -> None:
    """The reader of stdout left: later writes (and the flush at exit) must not fail."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _exit_status(exc: SystemExit, say: Callable[[str], None]) -> int:
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or EXIT_OK
    say(str(exc.code))  # SystemExit("message"): Python prints it and exits 1
    return 1


def _exit_without_final_collection() -> None:
    """At exit Python's last garbage collection walks every object the command loaded
    (tens of ms after a docker_cmd) to free memory the OS takes back anyway; objects
    `gc.freeze` moved aside are skipped. One hook however often the edge runs."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def exit_code(
    work: Callable[[], T], argv: Optional[Sequence[str]] = None
) -> tuple[Optional[T], int]:
    """Run `work` at the edge: its value and 0, or None and the exit code it ends with."""
    argv = sys.argv if argv is None else argv
    _exit_without_final_collection()
    shown = output.renderer(os.environ)  # HELPERS_EVENTS: text (default) or json
    say = shown.error
    try:
        with stop_signals_interrupt(), events.to(shown.events):
            value = work()
            code = EXIT_OK
            if isinstance(value, Outcome):  # an operation's result: shown here, not by it
                if value.text:
                    output.data(value.text)
                code = value.code
            return value, code
    except SystemExit as exc:  # a command's own exit code, passed through
        return None, _exit_status(exc, say)
    except UserError as err:
        say(render(err))
        return None, err.exit_code
    except BrokenPipeError:  # `invoke ... | head`: the reader left; not an error
        _quiet_stdout()
        return None, EXIT_OK
    except OSError as err:  # a read-only repo, a full disk: still one line
        say(f"error: {err}; check the path and its permissions")
        return None, EXIT_USAGE
    except KeyboardInterrupt:
        say("interrupted")
        return None, EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line here, the details in the log
        say(_unexpected(exc, argv))
        return None, EXIT_UNEXPECTED


def run(work: Callable[[], T], argv: Optional[Sequence[str]] = None) -> Optional[T]:
    """The edge for callers that exit through SystemExit (invoke tasks)."""
    value, code = exit_code(work, argv)
    if code != EXIT_OK:
        raise SystemExit(code)
    return value


def main(work: Callable[[], Union[int, Outcome]], argv: Optional[Sequence[str]] = None) -> int:
    """The edge for a script's main: the work's own exit code (or its Outcome's), or the edge's."""
    value, code = exit_code(work, argv)
    return value if isinstance(value, int) else code
