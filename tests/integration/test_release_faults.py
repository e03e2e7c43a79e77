"""Release faults on the real engine and the real local registry: two releases of one
version racing, signals in the middle of a release, a multi-arch release of a Python dir
with each platform's own labels and its tests under qemu (issue 16.5, 16.12, 16.13)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Client, ClientFactory, base_image
from tests.integration.test_chores import registry  # noqa: F401 - the registry fixture
from tests.integration.test_release import (
    REG,
    TEST_FILE,
    bump,
    delete_repo,
    digest,
    docker,
    labels,
    manifest,
    tags,
)

pytestmark = pytest.mark.integration

PLUGIN = 'pytest_plugins = ["helpers.pytest_plugin"]\n'


def _files(registry_host: str, image: str, requirement: str) -> dict[str, str]:
    return {
        "tests/test_a.py": TEST_FILE,
        "conftest.py": PLUGIN,
        "repo_config.yaml": f"registry: {registry_host}\nimage_name: {image}\n"
        "platforms: [linux/amd64]\n",
        ".dockerignore": "*\n!devops/\n",
        "devops/requirements.txt": requirement,
    }


def _start(client: Client, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=client.root,
        env=client.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture()
def racing(client_factory: ClientFactory, registry: str) -> Iterator[tuple[Client, Client]]:  # noqa: F811
    """Two checkouts releasing one image name with other inputs, to one registry: spelt
    `localhost:5000` and `127.0.0.1:5000`, so their local tags on this one engine differ
    as two CI runners' would."""
    image = f"it-race-{secrets.token_hex(4)}"
    one = client_factory(".", files=_files(REG, image, "six\n"))
    two = client_factory(".", files=_files(REG.replace("localhost", "127.0.0.1"), image, "attrs\n"))
    yield one, two
    delete_repo(image)


def test_two_releases_of_one_version_at_once_one_wins_the_other_is_refused(
    racing: tuple[Client, Client],
) -> None:
    procs = [_start(c, "docker_release_dev_image", "--skip-tests") for c in racing]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 2], outs
    won, lost = (0, 1) if codes[0] == 0 else (1, 0)
    refusal = outs[lost][1].strip().splitlines()[-1]
    assert (
        refusal.startswith("error: ") and ":dev-0.1.0 is already published with inputs" in refusal
    )
    assert "a published version is never replaced; bump the version with" in refusal
    repo = _image_name(racing[0])
    host = REG if won == 0 else REG.replace("localhost", "127.0.0.1")
    local = docker("image", "inspect", "--format",
                   '{{index .Config.Labels "io.helpers.inputs-hash"}}',
                   f"{host}/{repo}:local-tester-0.1.0")  # fmt: skip
    assert local.returncode == 0, local.stderr
    assert labels(repo, "dev-0.1.0")["io.helpers.inputs-hash"] == local.stdout.strip()
    # the winner's tags, all of them: version, moving and per-arch
    assert digest(repo, "dev") == digest(repo, "dev-0.1.0") == digest(repo, "dev-0.1.0-amd64")


def _image_name(client: Client) -> str:
    for line in (client.root / "repo_config.yaml").read_text().splitlines():
        if line.startswith("image_name: "):
            return line.split(": ", 1)[1]
    raise AssertionError("no image_name")


SLOW_TEST = "import time\n\n\ndef test_waits():\n    time.sleep(120)\n"


# Ctrl-C (SIGINT) takes the very same path once the edge turns it into KeyboardInterrupt;
# the executor's conversion of an interrupted step is unit-tested (test_release_plans).
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_the_test_step_is_130_with_nothing_pushed_or_left(
    client_factory: ClientFactory,
    registry: str,  # noqa: F811
    sig: signal.Signals,
) -> None:
    client = client_factory(
        ".",
        files={
            "tests/test_slow.py": SLOW_TEST,
            "conftest.py": PLUGIN,
            "repo_config.yaml": f"registry: {REG}\nplatforms: [linux/amd64]\n",
            ".dockerignore": "*\n!devops/\n",
        },
    )
    label = f"label=io.helpers.repo={client.root}"
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "docker_release_dev_image"],
            cwd=client.root,
            env=client.env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
        try:
            deadline = time.monotonic() + 300
            while not docker("ps", "-q", "--filter", label).stdout.strip():
                assert proc.poll() is None and time.monotonic() < deadline, "no test container"
                time.sleep(0.2)
            time.sleep(1.5)  # pytest is running inside
            proc.send_signal(sig)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        err.seek(0)
        stderr = err.read()
    assert code == 130, stderr
    assert stderr.rstrip().endswith("interrupted"), stderr
    assert "interrupted at step 2/" in stderr and "no moving tag was changed" in stderr
    assert "failed (exit" not in stderr
    assert docker("ps", "-aq", "--filter", label).stdout.strip() == ""  # the container is gone
    assert tags(client.name) == []
    delete_repo(client.name)


ARM64_SUFFIX = "-arm64"


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_multiarch_python_release_labels_each_platform_and_can_test_under_qemu(
    client_factory: ClientFactory,
    registry: str,  # noqa: F811
) -> None:
    """A Python dir on the local base, both platforms, out of the box: the arm64 half is
    built on the arm64 base `bootstrap.sh --base --arch arm64` made."""
    arm_base = base_image() + ARM64_SUFFIX
    if docker("image", "inspect", arm_base).returncode != 0:
        message = f"no {arm_base}: run dev_scripts/engine/bootstrap.sh --base --arch arm64"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    probe = "import platform\n\n\ndef test_machine():\n    print(platform.machine())\n"
    client = client_factory(
        ".",
        files={
            "tests/test_a.py": probe,
            "conftest.py": PLUGIN,
            "repo_config.yaml": f"registry: {REG}\nplatforms: [linux/amd64, linux/arm64]\n",
            ".dockerignore": "*\n!devops/\n",
        },
    )
    repo = client.name
    try:
        first = client.invoke("docker_release_dev_image")
        assert first.returncode == 0, first.stderr
        assert f"--build-arg BASE_IMAGE={arm_base}" in first.stderr
        amd, arm = _children(repo, "dev-0.1.0")
        assert amd["io.helpers.tests"] == "passed" and arm["io.helpers.tests"] == "not-run"
        assert arm["io.helpers.tests-platforms"] == "linux/amd64"
        assert amd["io.helpers.inputs-hash"] != arm["io.helpers.inputs-hash"]

        again = client.invoke("docker_release_dev_image")  # per-platform hashes compare equal
        assert again.returncode == 0 and "nothing to release" in again.stdout, again.stderr

        bump(client, "0.2.0")
        both = client.invoke("docker_release_dev_image", "--test-platforms", "all")
        assert both.returncode == 0, both.stderr
        assert "test the linux/arm64 image under emulation" in both.stderr
        verdicts = [line for line in both.stdout.splitlines() if line.startswith(".: 1 passed")]
        assert len(verdicts) == 2 and "-arm64" in verdicts[1], both.stdout  # both images
        amd, arm = _children(repo, "dev-0.2.0")
        assert amd["io.helpers.tests"] == "passed" and arm["io.helpers.tests"] == "passed"
        assert arm["io.helpers.tests-platforms"] == "linux/amd64,linux/arm64"
        found = manifest(repo, "dev-0.2.0")
        assert found is not None
        arm_digest = next(m["digest"] for m in found[1]["manifests"]
                          if m["platform"]["architecture"] == "arm64")  # fmt: skip
        ran = docker("run", "--rm", "--platform", "linux/arm64", f"{REG}/{repo}@{arm_digest}",
                     "python3", "-c", "import platform; print(platform.machine())")  # fmt: skip
        assert ran.returncode == 0 and ran.stdout.strip() == "aarch64", ran.stderr
    finally:
        delete_repo(repo)


def _children(repo: str, tag: str) -> tuple[dict[str, str], dict[str, str]]:
    found = manifest(repo, tag)
    assert found is not None and "manifests" in found[1], found
    by_arch = {m["platform"]["architecture"]: m["digest"] for m in found[1]["manifests"]}
    assert set(by_arch) == {"amd64", "arm64"}
    return labels(repo, by_arch["amd64"]), labels(repo, by_arch["arm64"])
