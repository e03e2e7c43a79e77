"""docker_build_local_image, docker_cmd and docker_bash on the real engine, in temp client repos."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write
from tests.integration.conftest import ClientFactory, one_line_error

pytestmark = pytest.mark.integration


def image_json(ref: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        ["docker", "image", "inspect", ref], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)[0]  # type: ignore[no-any-return]


def recording(log: Path) -> dict[str, str]:
    """PATH with a `docker` first that appends its arguments to `log`, then runs the real one."""
    real = shutil.which("docker")
    assert real is not None
    shim = log.with_suffix(".bin")
    shim.mkdir(exist_ok=True)
    write(shim / "docker", f'#!/bin/sh\necho "$*" >>"{log}"\nexec "{real}" "$@"\n').chmod(0o755)
    return {"PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}


def test_build_labels_noop_and_rebuild_on_input_change(client_factory: ClientFactory) -> None:
    client = client_factory("infra", files={"infra/.dockerignore": "notes/\n"})
    ref = f"{client.name}-infra:local-tester-0.1.0"
    first = client.invoke("docker_build_local_image", "--dir", "infra")
    assert first.returncode == 0, first.stderr
    assert f"built {ref}" in first.stdout
    info = image_json(ref)
    labels = info["Config"]["Labels"]
    head = subprocess.run(
        ["git", "-C", str(client.root), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.revision"] == head
    assert len(labels["io.helpers.inputs-hash"]) == 64

    calls = client.root.parent / f"{client.name}-docker-calls.log"
    again = client.invoke("docker_build_local_image", "--dir", "infra", env=recording(calls))
    assert again.returncode == 0 and "is up to date" in again.stdout
    # The image is asked about on the engine's socket: the CLI may not have started at all.
    made = calls.read_text().splitlines() if calls.exists() else []
    assert not [c for c in made if "build" in c.split()[:2]], made  # docker build never ran
    assert image_json(ref)["Id"] == info["Id"]

    write(client.root / "infra" / "notes" / "todo.md", "ignored by .dockerignore\n")
    ignored = client.invoke("docker_build_local_image", "--dir", "infra")
    assert "is up to date" in ignored.stdout

    write(client.root / "infra" / "requirements.txt", "six\n")
    changed = client.invoke("docker_build_local_image", "--dir", "infra", env=recording(calls))
    assert changed.returncode == 0 and f"built {ref}" in changed.stdout
    built = [c for c in calls.read_text().splitlines() if "build" in c.split()[:2]]
    assert built, "the recording docker saw no build: it would not have seen one above either"
    new_labels = image_json(ref)["Config"]["Labels"]
    assert new_labels["io.helpers.inputs-hash"] != labels["io.helpers.inputs-hash"]


def test_context_is_the_dir_without_secrets_or_nested_dirs(client_factory: ClientFactory) -> None:
    dockerfile = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY . /ctx\n"
    client = client_factory(
        ".",
        "infra",
        files={
            ".env": "TOKEN=s3cret\n",
            ".env.local": "TOKEN=s3cret\n",
            "prod.env": "TOKEN=s3cret\n",
            "repo_config.yaml": "env_file: prod.env\n",
            "app.py": "print(1)\n",
        },
    )
    write(client.root / "devops" / "Dockerfile", dockerfile)
    assert client.invoke("docker_build_local_image").returncode == 0
    ref = f"{client.name}:local-tester-0.1.0"
    listing = subprocess.run(
        ["docker", "run", "--rm", ref, "sh", "-c", "cd /ctx && find . -maxdepth 1 | sort"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "./app.py" in listing and "./devops" in listing
    for absent in ("./.env", "./.env.local", "./prod.env", "./.git", "./infra", "./helpers_root"):
        assert absent not in listing


def test_dry_run_prints_command_and_builds_nothing(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    result = client.invoke("docker_build_local_image", "--dry-run", "--build-arg", "A=1")
    assert result.returncode == 0
    assert "docker build --force-rm --file devops/Dockerfile" in result.stdout
    assert "--build-arg A=1" in result.stdout
    probe = subprocess.run(
        ["docker", "image", "inspect", f"{client.name}:local-tester-0.1.0"], capture_output=True
    )
    assert probe.returncode != 0


def test_docker_cmd_mount_workdir_env_file_and_exit_code(client_factory: ClientFactory) -> None:
    client = client_factory(".", "infra", files={".env": "SECRET_TOKEN=abc123\n"})
    assert client.invoke("docker_build_local_image", "--dir", "infra").returncode == 0
    shown = client.invoke(
        "docker_cmd", "--dir", "infra", "--cmd", 'pwd; echo "token=$SECRET_TOKEN"; id -u'
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.split()
    assert lines[:2] == ["/app/infra", "token=abc123"]
    assert lines[2] == str(os.getuid())
    failed = client.invoke("docker_cmd", "--dir", "infra", "--cmd", "exit 7")
    assert failed.returncode == 7
    listing = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label=io.helpers.repo={client.root}", "-q"],
        capture_output=True,
        text=True,
    )
    assert listing.stdout.strip() == ""  # --rm: nothing left behind


def test_files_written_through_the_mount_belong_to_the_host_user(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(".")
    assert client.invoke("docker_build_local_image").returncode == 0
    if os.getuid() != 0:
        result = client.invoke("docker_cmd", "--cmd", "touch made_inside")
        assert result.returncode == 0, result.stderr
        assert (client.root / "made_inside").stat().st_uid == os.getuid()
        return
    # As root, act as a user the image has never heard of (uid 4321).
    uid = 4321
    sock_gid = Path("/var/run/docker.sock").stat().st_gid
    as_user = {"user": uid, "group": uid, "extra_groups": [sock_gid]}
    try:
        subprocess.run([sys.executable, "-c", "import invoke"], check=True, **as_user)  # type: ignore[call-overload]
    except (PermissionError, subprocess.CalledProcessError):
        reason = f"{sys.executable} is not usable by uid {uid} here (it is in helpers' image)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    subprocess.run(["chown", "-R", f"{uid}:{uid}", str(client.root)], check=True)
    env = client.env({"HOME": str(client.root)})
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "docker_cmd", "--cmd", "touch made_inside; id -u"],
        cwd=client.root,
        env=env,
        capture_output=True,
        text=True,
        **as_user,  # type: ignore[call-overload]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(uid)
    made = client.root / "made_inside"
    assert (made.stat().st_uid, made.stat().st_gid) == (uid, uid)


def test_version_compatibility(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    assert client.invoke("docker_build_local_image").returncode == 0
    old = f"{client.name}:local-tester-0.1.0"
    # The changelog moves on a minor version: the 0.1.0 image is refused.
    changelog = client.root / "changelog.txt"
    changelog.write_text("# x-0.2.0\n- newer\n\n" + changelog.read_text())
    refused = client.invoke("docker_cmd", "--version", "0.1.0", "--cmd", "true")
    line = one_line_error(refused)
    assert f"{old} is version 0.1.0 but changelog.txt says 0.2.0" in line
    assert "invoke docker_build_local_image" in line
    # A patch-only difference warns once and runs.
    changelog.write_text("# x-0.1.1\n- patch\n\n# x-0.1.0\n- first\n")
    patched = client.invoke("docker_cmd", "--version", "0.1.0", "--cmd", "echo ran")
    assert patched.returncode == 0
    assert patched.stdout.strip() == "ran"
    warnings = [ln for ln in patched.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "0.1.0" in warnings[0] and "0.1.1" in warnings[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("docker_cmd", "--stage", "qa", "--cmd", "true"), "--stage 'qa' is not one of"),
        (("docker_cmd", "--dir", "docs", "--cmd", "true"), "--dir docs is not a runnable dir"),
        (("docker_cmd", "--cmd", "true"), "not found locally: run `invoke docker_build_local"),
        (("docker_bash", "--stage", "dev"), "no registry is configured to pull it from: set"),
    ],
)
def test_bad_input_is_one_line(
    client_factory: ClientFactory, args: tuple[str, ...], expected: str
) -> None:
    client = client_factory(".", files={"docs/readme.md": "x\n"})
    assert expected in one_line_error(client.invoke(*args))


def test_malformed_changelog_and_config(client_factory: ClientFactory) -> None:
    client = client_factory(".", "infra")
    (client.root / "infra" / "changelog.txt").write_text("# infra-1.0\n")
    line = one_line_error(client.invoke("docker_build_local_image", "--dir", "infra"))
    assert "infra/changelog.txt:1: expected a version header" in line
    write(client.root / "repo_config.yaml", "base_imag: x\n")
    line = one_line_error(client.invoke("docker_build_local_image"))
    assert line == "error: repo_config.yaml:1: unknown key 'base_imag'; did you mean 'base_image'?"


def test_engine_down_is_one_line(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    result = client.invoke(
        "docker_build_local_image", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    line = one_line_error(result)
    assert "no container engine answers at DOCKER_HOST=unix:///nonexistent/docker.sock" in line
    assert "set DOCKER_HOST" in line


FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def test_extra_ca_certificates_reach_builds_and_runs(client_factory: ClientFactory) -> None:
    client = client_factory(".", files={"certs/corp.pem": FAKE_CA})
    cfg = "extra_ca_certs: [certs/corp.pem]\n"
    write(client.root / "repo_config.yaml", cfg)
    # The repo's setting alone: none exported (empty is unset), no machine default added.
    env = {"HELPERS_EXTRA_CA_CERTS": "", "HELPERS_MACHINE_ENV": ""}
    built = client.invoke("docker_build_local_image", env=env)
    assert built.returncode == 0, built.stderr
    ref = f"{client.name}:local-tester-0.1.0"
    inside = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            ref,
            "sh",
            "-c",
            "cat /usr/local/share/ca-certificates/helpers-extra.crt; cat /etc/pip.conf; "
            "cat /etc/uv/uv.toml /etc/helpers/ca-env.sh",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "MIIBfake" in inside and "cert = /etc/ssl/certs/ca-certificates.crt" in inside
    assert "native-tls = true" in inside  # uv
    assert "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt" in inside  # requests, poetry
    pem = client.root / "certs" / "corp.pem"
    run = client.invoke("docker_cmd", "--cmd", 'cat "$HELPERS_EXTRA_CA_CERTS"', env=env)
    assert run.returncode == 0 and "MIIBfake" in run.stdout, run.stderr
    said = client.invoke(
        "docker_cmd", "--cmd", 'echo "$SSL_CERT_FILE $REQUESTS_CA_BUNDLE"', env=env
    )
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    assert said.stdout.split() == [bundle, bundle], said.stderr  # at run time too
    write(client.root / "repo_config.yaml", "extra_ca_certs: [certs/missing.pem]\n")
    line = one_line_error(client.invoke("docker_build_local_image", env=env))
    assert "extra_ca_certs: cannot read" in line and "missing.pem" in line
    assert pem.is_file()


def test_print_setup_shows_resolution(client_factory: ClientFactory) -> None:
    client = client_factory(".", "infra", files={"infra/repo_config.yaml": "image_name: infra\n"})
    out = client.invoke("print_setup", "--dir", "infra")
    assert out.returncode == 0, out.stderr
    assert "runnable dir     infra" in out.stdout
    assert "image_name       'infra'" in out.stdout and "(infra/repo_config.yaml)" in out.stdout
    assert "local  infra:local-tester-0.1.0" in out.stdout
    assert "reachable      yes, server" in out.stdout


def test_docker_bash_reads_piped_commands_and_passes_the_exit_code(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(".", "infra")
    assert client.invoke("docker_build_local_image", "--dir", "infra").returncode == 0
    result = client.invoke("docker_bash", "--dir", "infra", input="pwd\necho from-bash\nexit 3\n")
    assert result.returncode == 3, result.stderr
    assert result.stdout.split() == ["/app/infra", "from-bash"]
    listing = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.helpers.repo={client.root}"],
        capture_output=True,
        text=True,
    )
    assert listing.stdout.strip() == ""


def test_a_repo_cloned_again_at_the_same_path_gets_a_new_warm_container(
    client_factory: ClientFactory, tmp_path: Path
) -> None:
    """A warm container holds a mount of the dir it was started for; after the repo is
    deleted and made again at the same path, exec into it fails ('outside of container
    mount namespace'): the new dir must get a container of its own."""

    client = client_factory(
        ".", files={"tests/test_a.py": "def test_a():\n    assert 1 + 1 == 2\n"}
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    first = client.invoke("run_tests")
    assert first.returncode == 0, first.stdout + first.stderr
    saved = tmp_path / "saved"
    shutil.copytree(client.root, saved, symlinks=True)
    shutil.rmtree(client.root)
    shutil.copytree(saved, client.root, symlinks=True)
    again = client.invoke("run_tests")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 passed" in again.stdout
