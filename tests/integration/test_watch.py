"""`run_tests --watch` on the real engine: a save reruns the affected test file first, then
the rest, in the warm container; an image input edit rebuilds first; Ctrl-C is exit 130
with no container left."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import pytest

from tests.conftest import write
from tests.integration.conftest import Client, ClientFactory
from tests.integration.test_main_pytest import containers_of

pytestmark = pytest.mark.integration

FILES = {
    "conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n',
    "src/pkg/__init__.py": "",
    "src/pkg/core.py": "def one():\n    return 1\n",
    "tests/test_core.py": "from pkg.core import one\n\ndef test_one():\n    assert one() == 1\n",
    "tests/test_other.py": "def test_other():\n    pass\n",
}


class Watching:
    """A `run_tests --watch` process and its output, read line by line as it comes."""

    def __init__(self, client: Client, *args: str, argv: Sequence[str] = ()) -> None:
        argv = list(argv) or [sys.executable, "-m", "invoke", "run_tests", "--watch", *args]
        self.proc = subprocess.Popen(
            argv,
            cwd=client.root,
            env=client.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float = 120) -> list[str]:
        """The lines up to and including the first one holding `text`."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, "\n".join(self.seen)
                continue
            got.append(line)
            self.seen.append(line)
            if text in line:
                return got
        raise AssertionError(f"no {text!r} within {timeout} s:\n" + "\n".join(self.seen))


def test_watch_reruns_affected_first_rebuilds_on_image_input_and_stops_clean(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(".", files=FILES)
    w = Watching(client, "--if-missing", "build")
    try:
        first = w.until("watching 1 path for changes")
        assert any(".: 2 passed, 0 failed" in line for line in first)
        warm = containers_of(client)
        assert len(warm) == 1  # the warm container the reruns exec into

        # A module edit: the test file importing it runs first, then the rest.
        write(
            client.root / "src/pkg/core.py",
            "def one():\n    return 1\n\n\ndef two():\n    return 2\n",
        )
        rerun = w.until("watching for changes")
        text = "\n".join(rerun)
        assert "src/pkg/core.py changed" in text and "first tests/test_core.py" in text
        assert text.index("tests/test_core.py .") < text.index("then the rest")
        assert text.index("then the rest") < text.index("tests/test_other.py .")
        assert "1 deselected" in text
        assert containers_of(client) == warm  # the same warm container, reused

        # A test file edit: that file first.
        test_other = client.root / "tests/test_other.py"
        write(test_other, test_other.read_text() + "\ndef test_new():\n    pass\n")
        text = "\n".join(w.until("watching for changes"))
        assert "first tests/test_other.py" in text
        assert text.index("tests/test_other.py ..") < text.index("tests/test_core.py .")

        # An image input: rebuilt first, then the tests in a new warm container.
        dockerfile = client.root / "devops/Dockerfile"
        write(dockerfile, dockerfile.read_text() + "ENV WATCHED=1\n")
        text = "\n".join(w.until("watching for changes", timeout=300))
        assert "image input devops/Dockerfile changed" in text
        assert text.index("build  .") < text.index(".: 3 passed, 0 failed")
        assert containers_of(client) != warm and len(containers_of(client)) == 1
    finally:
        w.proc.send_signal(signal.SIGINT)
        code = w.proc.wait(timeout=60)
    assert code == 130, "\n".join(w.seen)
    assert containers_of(client) == []  # the warm container too: nothing left


def test_watch_refuses_changed_since(client_factory: ClientFactory) -> None:
    client = client_factory(".", files=FILES)
    result = client.invoke("run_tests", "--watch", "--changed-since", "HEAD")
    assert result.returncode == 2 and "drop --changed-since" in result.stderr


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_main_pytest_watch_reruns_only_the_dir_a_change_is_in(
    client_factory: ClientFactory,
) -> None:
    files = {
        "conftest.py": FILES["conftest.py"],
        "infra/tests/test_infra.py": "def test_infra():\n    pass\n",
        "infra/etl/tests/test_etl.py": "def test_etl():\n    pass\n",
    }
    client = client_factory("infra", "infra/etl", files=files)
    script = client.root / "helpers_root/dev_scripts/main_pytest.py"
    argv = [sys.executable, str(script), "--watch", "--dir", "infra", "--if-missing", "build"]
    w = Watching(client, argv=argv)
    try:
        first = "\n".join(w.until("watching 2 paths for changes"))
        assert "2 passed, 0 failed in 2 dirs" in first  # main_pytest's own run first
        etl = client.root / "infra/etl/tests/test_etl.py"
        write(etl, etl.read_text() + "\ndef test_more():\n    pass\n")
        text = "\n".join(w.until("watching for changes"))
        assert "infra/etl/tests/test_etl.py changed" in text and "infra/etl: 2 passed" in text
        assert "infra: " not in text  # the parent's session fences its nested dir off
    finally:
        w.proc.send_signal(signal.SIGINT)
        code = w.proc.wait(timeout=60)
    assert code == 130, "\n".join(w.seen)
    assert containers_of(client) == []
