"""Releases on the real engine and the real local registry (bootstrap.sh --registry).

What the registry holds is read back independently of helpers' own registry
client: raw HTTP for manifests and config labels, `docker manifest inspect` for
platforms, and images actually run (the arm64 one under qemu).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import pytest

from tests.conftest import git, write
from tests.integration.conftest import Client, ClientFactory, base_image, one_line_error
from tests.integration.test_chores import registry  # noqa: F401 - the registry fixture

pytestmark = pytest.mark.integration

REG = "localhost:5000"
ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)
TEST_FILE = "def test_adds():\n    assert 1 + 1 == 2\n"
# Passes only when the code comes from the image: nothing is mounted at /app.
BAKED_TEST = """import os


def test_code_is_inside_the_image_not_mounted():
    from calc import add  # a src/ layout package of the dir: found in the image too

    assert add(1, 2) == 3
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
    assert "/app" not in mounts
    assert os.path.isfile("/app/changelog.txt")
"""


# ---------------------------------------------------------------- reading the registry


def manifest(repo: str, tag: str) -> Optional[tuple[str, dict[str, Any]]]:
    request = urllib.request.Request(
        f"http://{REG}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.headers["Docker-Content-Digest"], json.loads(resp.read())
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def labels(repo: str, tag: str) -> dict[str, str]:
    found = manifest(repo, tag)
    assert found is not None, f"{repo}:{tag} not in the registry"
    data = found[1]
    if "manifests" in data:
        child = manifest(repo, data["manifests"][0]["digest"])
        assert child is not None
        data = child[1]
    blob = f"http://{REG}/v2/{repo}/blobs/{data['config']['digest']}"
    with urllib.request.urlopen(blob, timeout=10) as resp:
        return json.loads(resp.read())["config"]["Labels"]  # type: ignore[no-any-return]


def digest(repo: str, tag: str) -> Optional[str]:
    found = manifest(repo, tag)
    return found[0] if found else None


def tags(repo: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://{REG}/v2/{repo}/tags/list", timeout=10) as resp:
            return sorted(json.loads(resp.read()).get("tags") or [])
    except urllib.error.HTTPError:
        return []


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------- fixtures


@pytest.fixture()
def rclient(client_factory: ClientFactory, registry: str) -> Iterator[Client]:  # noqa: F811
    """A root runnable dir with one test, releasing to the local registry (amd64 only)."""
    client = client_factory(
        ".",
        files={
            "tests/test_a.py": TEST_FILE,
            "conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n',
            "repo_config.yaml": f"registry: {REG}\nplatforms: [linux/amd64]\n",
            ".dockerignore": "*\n!devops/\n",
        },
    )
    yield client
    delete_repo(client.name)


def delete_repo(repo: str) -> None:
    """Keep the shared registry small: delete every tag the test pushed."""
    for tag in tags(repo):
        found = digest(repo, tag)
        if found:
            request = urllib.request.Request(
                f"http://{REG}/v2/{repo}/manifests/{found}", method="DELETE"
            )
            with contextlib.suppress(OSError):
                urllib.request.urlopen(request, timeout=10).close()


def bump(client: Client, version: str) -> None:
    path = client.root / "changelog.txt"
    path.write_text(f"# {client.name}-{version}\n- 2026-11-29\n- next\n\n" + path.read_text())
    client.commit(f"release {version}")


@pytest.fixture(scope="module")
def multiarch_base(registry: str) -> str:  # noqa: F811
    """A base image list in the registry: the python base (amd64) + busybox (arm64)."""
    arm = "helpers-busybox:arm64"
    if docker("image", "inspect", arm).returncode != 0:
        message = f"no {arm}: run dev_scripts/engine/bootstrap.sh --qemu"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ref = f"{REG}/helpers-it-base:{secrets.token_hex(3)}"
    for arch, source in (("amd64", base_image()), ("arm64", arm)):
        assert docker("tag", source, f"{ref}-{arch}").returncode == 0
        pushed = docker("push", f"{ref}-{arch}")
        assert pushed.returncode == 0, pushed.stderr
    made = docker(
        "manifest", "create", "--insecure", "--amend", ref, f"{ref}-amd64", f"{ref}-arm64"
    )
    assert made.returncode == 0, made.stderr
    pushed = docker("manifest", "push", "--insecure", "--purge", ref)
    assert pushed.returncode == 0, pushed.stderr
    return ref


# ---------------------------------------------------------------- dev


def test_dev_release_read_back_and_identical_rerelease_is_a_noop(rclient: Client) -> None:
    first = rclient.invoke("docker_release_dev_image")
    assert first.returncode == 0, first.stderr
    assert "[1/" in first.stderr and "docker push localhost:5000/" in first.stderr
    assert "1 passed" in first.stdout  # the tests ran in the image before the push
    repo = rclient.name
    assert tags(repo) == ["dev", "dev-0.1.0", "dev-0.1.0-amd64"]
    assert digest(repo, "dev") == digest(repo, "dev-0.1.0") == digest(repo, "dev-0.1.0-amd64")
    got = labels(repo, "dev-0.1.0")
    local = json.loads(docker("image", "inspect", f"{REG}/{repo}:local-tester-0.1.0").stdout)
    assert got["io.helpers.inputs-hash"] == local[0]["Config"]["Labels"]["io.helpers.inputs-hash"]
    assert got["org.opencontainers.image.version"] == "0.1.0"
    assert got["io.helpers.stage"] == "dev" and got["io.helpers.tests"] == "passed"
    assert got["io.helpers.tests-platforms"] == "linux/amd64"
    head = git(rclient.root, "rev-parse", "HEAD").strip()
    assert got["org.opencontainers.image.revision"] == head

    before = digest(repo, "dev-0.1.0")
    again = rclient.invoke("docker_release_dev_image")
    assert again.returncode == 0, again.stderr
    assert "nothing to release" in again.stdout
    assert "docker push" not in again.stderr and "passed" not in again.stdout
    assert digest(repo, "dev-0.1.0") == before


def test_changed_inputs_without_a_bump_are_refused_naming_the_files(rclient: Client) -> None:
    # an uncommitted bump alone is a dirty tree: the changelog names the version (16.13)
    bumped = rclient.invoke("bump_version", "--part", "patch", "-m", "not committed")
    assert bumped.returncode == 0, bumped.stderr
    uncommitted = one_line_error(rclient.invoke("docker_release_dev_image"))
    assert "uncommitted changes in its image inputs (changelog.txt)" in uncommitted
    assert tags(rclient.name) == []
    git(rclient.root, "checkout", "--", "changelog.txt")
    assert rclient.invoke("docker_release_dev_image").returncode == 0
    repo = rclient.name
    before = digest(repo, "dev-0.1.0")
    write(rclient.root / "devops" / "requirements.txt", "six\n")
    dirty = one_line_error(rclient.invoke("docker_release_dev_image"))
    assert "uncommitted changes in its image inputs (devops/requirements.txt)" in dirty
    assert "--allow-dirty" in dirty
    rclient.commit("a new dependency")
    refused = one_line_error(rclient.invoke("docker_release_dev_image"))
    assert f"{REG}/{repo}:dev-0.1.0 is already published with inputs" in refused
    assert "changed since" in refused and "devops/requirements.txt" in refused
    assert "bump the version with `invoke bump_version" in refused
    assert digest(repo, "dev-0.1.0") == before  # nothing pushed

    bump(rclient, "0.2.0")
    write(rclient.root / "devops" / "notes.txt", "uncommitted\n")
    allowed = rclient.invoke("docker_release_dev_image", "--allow-dirty", "--skip-tests")
    assert allowed.returncode == 0, allowed.stderr
    assert "NO TESTS RUN" in allowed.stderr
    got = labels(repo, "dev-0.2.0")
    assert got["org.opencontainers.image.revision"].endswith("-dirty")
    assert got["io.helpers.tests"] == "skipped"


def test_rollback_moves_only_the_moving_tag(rclient: Client) -> None:
    repo = rclient.name
    assert rclient.invoke("docker_release_dev_image", "--skip-tests").returncode == 0
    bump(rclient, "0.1.1")
    assert rclient.invoke("docker_release_dev_image", "--skip-tests").returncode == 0
    old, new = digest(repo, "dev-0.1.0"), digest(repo, "dev-0.1.1")
    assert old != new and digest(repo, "dev") == new

    dry = rclient.invoke("docker_rollback_dev_image", "--version", "0.1.0", "--dry-run")
    assert dry.returncode == 0 and "registry: PUT" in dry.stdout
    assert digest(repo, "dev") == new  # a dry run touches nothing

    back = rclient.invoke("docker_rollback_dev_image", "--version", "0.1.0")
    assert back.returncode == 0, back.stderr
    assert digest(repo, "dev") == old
    local = {t: docker("image", "inspect", "--format", "{{.Id}}", f"{REG}/{repo}:{t}").stdout
             for t in ("dev", "dev-0.1.0")}  # fmt: skip
    assert local["dev"] == local["dev-0.1.0"]  # the local moving tag followed
    assert digest(repo, "dev-0.1.1") == new and digest(repo, "dev-0.1.0") == old

    missing = one_line_error(rclient.invoke("docker_rollback_dev_image", "--version", "9.9.9"))
    assert "dev-9.9.9 does not exist" in missing and "0.1.0, 0.1.1" in missing
    # releasing 0.1.1 again would not move dev forward silently: it is a no-op push + move
    forward = rclient.invoke("docker_release_dev_image", "--skip-tests")
    assert forward.returncode == 0 and digest(repo, "dev") == new


def test_manual_steps_tag_then_push(rclient: Client) -> None:
    repo = rclient.name
    missing = one_line_error(rclient.invoke("docker_tag_local_image_as_dev"))
    assert "no local image" in missing and "docker_build_local_image" in missing
    assert rclient.invoke("docker_build_local_image").returncode == 0
    tagged = rclient.invoke("docker_tag_local_image_as_dev")
    assert tagged.returncode == 0, tagged.stderr
    assert tags(repo) == []  # tagging is local
    pushed = rclient.invoke("docker_push_dev_image")
    assert pushed.returncode == 0, pushed.stderr
    assert tags(repo) == ["dev", "dev-0.1.0", "dev-0.1.0-amd64"]
    assert labels(repo, "dev-0.1.0")["io.helpers.tests"] == "not-run"
    again = rclient.invoke("docker_push_dev_image")
    assert again.returncode == 0 and "nothing to push" in again.stdout


# ---------------------------------------------------------------- prod


def test_prod_release_tests_the_code_inside_the_image(rclient: Client) -> None:
    write(rclient.root / "tests" / "test_baked.py", BAKED_TEST)
    write(rclient.root / "src" / "calc" / "__init__.py", "def add(a, b):\n    return a + b\n")
    write(rclient.root / ".env", "SECRET_TOKEN=do-not-bake\n")
    rclient.commit("a test that needs the code inside the image")
    repo = rclient.name
    # the dev image runs with the repo mounted at /app, so the baked test fails there:
    failed = rclient.invoke("docker_release_dev_image")
    assert failed.returncode == 1 and "(test the local image) failed" in failed.stderr
    assert tags(repo) == []  # stopped at the failed step: nothing pushed
    assert rclient.invoke("docker_release_dev_image", "--skip-tests").returncode == 0

    prod = rclient.invoke("docker_release_prod_image")
    assert prod.returncode == 0, prod.stderr
    assert "2 passed" in prod.stdout
    assert "no mount" in prod.stderr
    got = labels(repo, "prod-0.1.0")
    assert got["io.helpers.stage"] == "prod" and got["io.helpers.tests"] == "passed"
    assert digest(repo, "prod") == digest(repo, "prod-0.1.0")
    listing = docker("run", "--rm", f"{REG}/{repo}:prod", "ls", "-a", "/app")
    files = set(listing.stdout.split())
    assert {"changelog.txt", "conftest.py", "tests"} <= files
    assert not files & {".env", ".git", ".helpers", "helpers_root"}

    candidate = rclient.invoke("docker_release_prod_image", "--candidate", "--skip-tests")
    assert candidate.returncode == 0, candidate.stderr
    short = git(rclient.root, "rev-parse", "--short=7", "HEAD").strip()
    assert f"prod-{short}" in tags(repo)
    assert digest(repo, "prod") == digest(repo, "prod-0.1.0")  # prod did not move


# ---------------------------------------------------------------- multi-arch


def test_multiarch_release_is_one_list_and_the_arm64_image_runs(
    rclient: Client, multiarch_base: str
) -> None:
    write(rclient.root / "repo_config.yaml", f"registry: {REG}\n")  # default: amd64 + arm64
    rclient.commit("release for both platforms")
    env = {"HELPERS_BASE_IMAGE": multiarch_base}
    release = rclient.invoke("docker_release_dev_image", env=env)
    assert release.returncode == 0, release.stderr
    assert "--platform linux/arm64" in release.stderr  # classic path: one build per platform
    repo = rclient.name
    inspect = docker("manifest", "inspect", "--insecure", f"{REG}/{repo}:dev-0.1.0")
    assert inspect.returncode == 0, inspect.stderr
    listed = json.loads(inspect.stdout)["manifests"]
    by_arch = {m["platform"]["architecture"]: m["digest"] for m in listed}
    assert set(by_arch) == {"amd64", "arm64"}
    assert digest(repo, "dev") == digest(repo, "dev-0.1.0")  # the list moved, not one arch
    # each half says what it is: its own inputs (another base), and only amd64 ran tests
    amd_labels, arm_labels = (labels(repo, by_arch[a]) for a in ("amd64", "arm64"))
    assert amd_labels["io.helpers.tests"] == "passed"
    assert arm_labels["io.helpers.tests"] == "not-run"
    assert arm_labels["io.helpers.tests-platforms"] == "linux/amd64"
    assert amd_labels["io.helpers.inputs-hash"] != arm_labels["io.helpers.inputs-hash"]
    arm = docker("run", "--rm", "--platform", "linux/arm64", f"{REG}/{repo}@{by_arch['arm64']}",
                 "uname", "-m")  # fmt: skip
    assert arm.returncode == 0 and arm.stdout.strip() == "aarch64", arm.stderr
    amd = docker("run", "--rm", f"{REG}/{repo}@{by_arch['amd64']}", "uname", "-m")
    assert amd.stdout.strip() == "x86_64"

    prod = rclient.invoke("docker_release_prod_image", "--skip-tests", env=env)
    assert prod.returncode == 0, prod.stderr
    prod_list = json.loads(docker("manifest", "inspect", "--insecure",
                                  f"{REG}/{repo}:prod-0.1.0").stdout)["manifests"]  # fmt: skip
    assert {m["platform"]["architecture"] for m in prod_list} == {"amd64", "arm64"}

    # running the foreign image through the tasks says once that it is emulated
    docker("pull", "--platform", "linux/arm64", f"{REG}/{repo}@{by_arch['arm64']}")
    docker("tag", f"{REG}/{repo}@{by_arch['arm64']}", f"{REG}/{repo}:dev-0.1.0")
    ran = rclient.invoke("docker_cmd", "--stage", "dev", "--version", "0.1.0", "--cmd", "uname -m")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "aarch64"
    assert ran.stderr.count("runs under emulation") == 1


# ---------------------------------------------------------------- registries and bad input


class _RefusingRegistry(BaseHTTPRequestHandler):
    """Fault injection: a registry that knows no tags and denies every push."""

    def _answer(self, code: int, error: str) -> None:
        body = json.dumps({"errors": [{"code": error, "message": error.lower()}]}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if "/locked/" in self.path:
            self._answer(401, "UNAUTHORIZED")
        elif self.path == "/v2/":
            self._answer(200, "OK")
        else:
            self._answer(404, "MANIFEST_UNKNOWN")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self._answer(403, "DENIED")

    do_PUT = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def refusing_registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_failure_in_the_second_registry_leaves_the_first_moving_tag_alone(
    rclient: Client, refusing_registry: str
) -> None:
    write(
        rclient.root / "repo_config.yaml",
        f"registries: [{REG}, {refusing_registry}]\nplatforms: [linux/amd64]\n",
    )
    rclient.commit("two registries")
    result = rclient.invoke("docker_release_dev_image", "--skip-tests")
    assert result.returncode == 1, result.stderr
    assert (
        f"(push {refusing_registry}/" in result.stderr
        and "no moving tag was changed" in result.stderr
    )
    repo = rclient.name
    assert "dev-0.1.0" in tags(repo)  # the first registry got the version...
    assert "dev" not in tags(repo)  # ...but its moving tag was never touched


def test_bad_release_input_is_one_line_and_pushes_nothing(
    rclient: Client, refusing_registry: str
) -> None:
    repo = rclient.name
    unknown = one_line_error(
        rclient.invoke("docker_release_dev_image", "--platforms", "linux/sparc")
    )
    assert "unknown architecture in 'linux/sparc'" in unknown
    config = rclient.root / "repo_config.yaml"
    kept = config.read_text()
    config.write_text("platforms: [linux/amd64]\n")  # an exported empty value is unset
    no_reg = one_line_error(
        rclient.invoke("docker_release_dev_image", env={"HELPERS_REGISTRY": ""})
    )
    config.write_text(kept)
    assert "no registry configured" in no_reg
    down = one_line_error(
        rclient.invoke("docker_release_dev_image", env={"HELPERS_REGISTRY": "127.0.0.1:1"})
    )
    assert "registry 127.0.0.1:1 is unreachable" in down
    login = one_line_error(
        rclient.invoke(
            "docker_release_dev_image", env={"HELPERS_REGISTRY": f"{refusing_registry}/locked"}
        )
    )
    assert f"registry {refusing_registry} asks for login" in login and "docker_login" in login
    bad_version = one_line_error(rclient.invoke("docker_rollback_dev_image", "--version", "x.y"))
    assert "--version 'x.y' is not a version" in bad_version
    dry = rclient.invoke("docker_release_dev_image", "--dry-run")
    assert dry.returncode == 0 and "docker push" in dry.stdout
    assert tags(repo) == []


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_changes_lists_an_image_built_from_a_reverted_edit(rclient: Client) -> None:
    write(rclient.root / "devops" / "requirements.txt", "six\n")
    rclient.commit("an input")
    assert rclient.invoke("docker_build_local_image").returncode == 0
    clean = rclient.invoke("changes", "--since", "HEAD", "--format", "json")
    assert json.loads(clean.stdout)["rebuild"] == []
    write(rclient.root / "devops" / "requirements.txt", "six\nattrs\n")
    assert rclient.invoke("docker_build_local_image").returncode == 0  # built from the edit
    git(rclient.root, "checkout", "--", "devops/requirements.txt")  # ...then reverted
    reverted = rclient.invoke("changes", "--since", "HEAD", "--format", "json")
    data = json.loads(reverted.stdout)
    assert data["changed"] == [] and data["rebuild"] == ["."]
    text = rclient.invoke("changes", "--since", "HEAD")
    assert "images to rebuild (1):" in text.stdout
