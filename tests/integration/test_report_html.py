"""report.html of a real main_pytest run, opened in headless Chromium: its text as the browser
renders it (`--dump-dom`) and a screenshot; the page loads nothing from the network."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ClientFactory

pytestmark = pytest.mark.integration

FILES = {
    "conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n',
    "tests/test_root.py": "import time\n\ndef test_slowish():\n    time.sleep(0.3)\n",
    "infra/tests/test_infra.py": (
        "def test_good():\n    pass\n\n\n"
        "def test_bad():\n    expected = '<b>two</b>'\n    assert 'one' == expected\n"
    ),
}
# As the machine notes say: as root, no sandbox; no background traffic on a closed network;
# and every host name unresolvable, so a page that fetched anything would show it.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # a container's /dev/shm is small
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium missing: dev_scripts/engine/test_tools.sh installs it")
        pytest.skip("chromium not installed (dev_scripts/engine/test_tools.sh)")
    return found


def _browse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    argv = [_chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_report_opens_in_chromium(client_factory: ClientFactory, tmp_path: Path) -> None:
    client = client_factory(".", "infra", files=FILES)
    run = client.script("dev_scripts/main_pytest.py", "--dir", ".", "--if-missing", "build")
    assert run.returncode == 1, run.stdout + run.stderr
    out_dir = Path(run.stdout.rsplit("reports: ", 1)[1].split()[0])
    page = out_dir / "report.html"
    assert page.is_file() and (out_dir / "report.json").is_file()

    dom = _browse(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    assert "failed (exit 1)" in text and "2 passed, 1 failed" in text
    assert "Failures (1)" in text and "tests.test_infra::test_bad" in text
    assert "assert 'one' == '&lt;b&gt;two&lt;/b&gt;'" in text  # the message, escaped
    assert "Slowest tests" in text and text.index("test_slowish") < text.index("test_good")
    assert 'href="infra/junit.xml"' in text and (out_dir / "infra/junit.xml").is_file()

    shot = tmp_path / "report.png"
    taken = _browse(tmp_path, f"--screenshot={shot}", "--window-size=1100,800", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a real picture, not blank
