"""devcontainer.json: rendered from docker_bash's run argv, machine-free, synced like the
other client files; the derived image's Dockerfile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.model import config
from helpers.ops.adoption import adopt, devcontainer, sync
from tests.conftest import REPO, make_runnable, write

SUB = "vendor/helpers"
CONFIG = """mounts: ['data:/data', '~/.aws:/home/helpers/.aws:ro']
ports: ['8080:80']
network: host
env_passthrough: [AWS_PROFILE]
container_env: {MODE: dev}
sibling_docker: true
"""


def _client(root: Path) -> sync.Client:
    return sync.Client(root, REPO, SUB, "1.0.0 (abc)")


def _parsed(text: str) -> dict:  # type: ignore[type-arg]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    make_runnable(tmp_path, ".")
    make_runnable(tmp_path, "infra/etl")
    write(tmp_path / "infra/etl/repo_config.yaml", CONFIG)
    write(tmp_path / ".env", "TOKEN=very-secret\n")
    return tmp_path


def test_render_translates_the_run_argv_and_holds_nothing_machine_specific(repo: Path) -> None:
    text = devcontainer.render(_client(repo), "infra/etl")
    c = _parsed(text)
    assert c["image"] == f"{repo.name}-infra-etl:devcontainer-${{localEnv:USER:user}}"
    assert c["workspaceFolder"] == "/app/infra/etl" and c["name"].startswith("infra/etl (")
    assert c["workspaceMount"] == "source=${localWorkspaceFolder},target=/app,type=bind"
    assert c["initializeCommand"] == [
        "bash",
        f"${{localWorkspaceFolder}}/{SUB}/dev_scripts/devcontainer_init.sh",
        "${localWorkspaceFolder}",
        "infra/etl",
    ]
    args = c["runArgs"]
    assert args[:2] == [
        "--env-file",
        "${localWorkspaceFolder}/.helpers/devcontainer/infra__etl/env",
    ]
    pairs = list(zip(args, args[1:]))
    for pair in (("--network", "host"), ("--publish", "8080:80"), ("--env", "AWS_PROFILE")):
        assert pair in pairs
    assert ("--label", "io.helpers.repo=${localWorkspaceFolder}") in pairs
    assert "--user" not in args and "--name" not in args and "--rm" not in args
    # docker_bash's `--entrypoint ""` (keep_entrypoint off) is the CLI's to set: as a
    # runArg its empty value would vanish and swallow the next flag
    assert "--entrypoint" not in args and "" not in args
    assert c["mounts"] == [
        "source=${localWorkspaceFolder}/data,target=/data,type=bind",
        "source=${localEnv:HOME}/.aws,target=/home/helpers/.aws,type=bind,readonly",
        "source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind",
    ]
    env = c["containerEnv"]
    assert env["MODE"] == "dev" and env["DOCKER_HOST"] == "unix:///var/run/docker.sock"
    assert env["PYTHONPATH"] == "/app/infra/etl:/app" and "HOME" not in env
    assert str(repo) not in text and "very-secret" not in text and "TOKEN" not in text


def test_root_dir_folder_and_name(repo: Path) -> None:
    assert devcontainer.dest(".") == ".devcontainer/root/devcontainer.json"
    c = _parsed(devcontainer.render(_client(repo), "."))
    assert c["name"] == f"repo root ({repo.name})" and c["workspaceFolder"] == "/app"


def test_written_recorded_and_kept_in_sync(repo: Path) -> None:
    client = _client(repo)
    out = devcontainer.write_files(client, [".", "infra/etl"])
    assert out.code == 0 and "wrote   .devcontainer/infra__etl/devcontainer.json" in out.text
    record = sync.load_record(repo)
    assert record[devcontainer.dest("infra/etl")]["dir"] == "infra/etl"
    states = {s.path: s.status for s in sync.plan(client)}
    assert states[devcontainer.dest(".")] == states[devcontainer.dest("infra/etl")] == "same"
    # The dir's config changed: the untouched file is outdated, and sync rewrites it.
    write(repo / "infra/etl/repo_config.yaml", CONFIG + "ports: ['9000']\n")
    states = {s.path: s.status for s in sync.plan(client)}
    assert states[devcontainer.dest("infra/etl")] == "outdated"
    assert devcontainer.dest("infra/etl") in sync.apply(client, sync.plan(client))
    assert "9000" in (repo / devcontainer.dest("infra/etl")).read_text()
    # An edited file is the user's: shown as a diff, kept, exit 1 (--force replaces it).
    mine = write(repo / devcontainer.dest("."), "// mine\n{}\n")
    again = devcontainer.write_files(client, ["."])
    assert again.code == 1 and "differs" in again.text and mine.read_text() == "// mine\n{}\n"
    assert devcontainer.write_files(client, ["."], force=True).code == 0
    # A dir that is gone takes its file out of the sync.
    (repo / "infra/etl/changelog.txt").unlink()
    assert devcontainer.dest("infra/etl") not in {s.path for s in sync.plan(client)}


def test_adopt_offers_it_until_written(repo: Path) -> None:
    offer = adopt.devcontainer_offer(repo, [".", "infra/etl"])
    assert offer and "invoke devcontainer --all-dirs" in offer[0]
    devcontainer.write_files(_client(repo), ["."])
    assert adopt.devcontainer_offer(repo, [".", "infra/etl"]) == []
    assert adopt.devcontainer_offer(repo, []) == []


def test_derived_image_adds_the_host_user_and_socket_group() -> None:
    text = devcontainer._derived_dockerfile("app:local-u-1.0.0", 1000, 1000, [105])
    assert text.startswith("FROM app:local-u-1.0.0\nUSER root\n")
    assert "helpers:x:1000:1000::/home/helpers:/bin/sh" in text
    assert "helpers-105:x:105:helpers" in text and "chown 1000:1000 /home/helpers" in text
    assert "helpers-1000" not in devcontainer._derived_dockerfile("b", 1000, 1000, [1000])


SERVICES = """services:
  db:
    image: postgres:16
    healthcheck: pg_isready -h 127.0.0.1
  cache:
    dockerfile: devops/redis.Dockerfile
"""


def test_a_dir_with_services_joins_their_network_named_the_same_on_every_machine(
    repo: Path,
) -> None:
    make_runnable(repo, "svc")
    write(repo / "svc/repo_config.yaml", SERVICES)
    text = devcontainer.render(_client(repo), "svc")
    c = _parsed(text)
    net = f"helpers-devcontainer-{repo.name}-svc-${{localEnv:USER:user}}"
    pairs = list(zip(c["runArgs"], c["runArgs"][1:]))
    assert ("--network", net) in pairs and ("--label", f"io.helpers.devcontainer={net}") in pairs
    assert c["runArgs"].count("--network") == 1
    assert c["containerEnv"]["HELPERS_SERVICES"] == "db,cache"  # in declaration order
    assert str(repo) not in text and "postgres:16" not in text  # names only, nothing of this host
    # `prepare` on the host names the same network from the dir's config and $USER, as the
    # devcontainers CLI substitutes ${localEnv:USER:user} in the file.
    cfg = config.load(repo, "svc")
    for env, user in (({"USER": "ann"}, "ann"), ({}, "user")):
        host = devcontainer.set_name(cfg, devcontainer.local_user(env))
        assert host == net.replace("${localEnv:USER:user}", user)


def test_a_dir_without_services_has_no_network_or_services_env(repo: Path) -> None:
    c = _parsed(devcontainer.render(_client(repo), "."))
    assert "--network" not in c["runArgs"] and "HELPERS_SERVICES" not in c["containerEnv"]
    assert not any("io.helpers.devcontainer" in arg for arg in c["runArgs"])


def test_services_with_a_network_are_refused(repo: Path) -> None:
    make_runnable(repo, "svc")
    write(repo / "svc/repo_config.yaml", SERVICES + "network: host\n")
    with pytest.raises(UserError, match="'network: host' and 'services' cannot go together"):
        devcontainer.render(_client(repo), "svc")


def test_the_anchor_only_sleeps_carries_the_key_and_is_not_its_own_services_owner(
    repo: Path,
) -> None:
    from helpers.model import project
    from helpers.ops.run import services

    make_runnable(repo, "svc")
    write(repo / "svc/repo_config.yaml", SERVICES)
    target = project.Target(repo, "svc", config.load(repo, "svc"))
    name = devcontainer.set_name(target.cfg, "ann")
    refs = {n: services.Resolved(f"{n}:1", f"sha256:{n}") for n in target.cfg.services}
    labels = {devcontainer.SET_LABEL: name, services.LABEL_OWNER: name}
    sset = services.plan(target, refs, services.Scope(name, "", labels, name, network=name))
    assert sset is not None and sset.network == name
    assert sset.containers == (f"{name}-db", f"{name}-cache")
    for svc in sset.services:  # on the file's network, in the anchor's PID namespace
        line = " ".join(svc.argv)
        assert f"--network {name} " in line and f"--pid container:{name} " in line
        assert f"--network-alias {svc.name} " in line
    argv = devcontainer.anchor_argv("app:local", sset, "k123")
    assert argv[:6] == ("docker", "run", "--detach", "--rm", "--name", name)
    assert argv[-4:] == ("--entrypoint", "sleep", "app:local", "infinity")
    pairs = list(zip(argv, argv[1:]))
    assert ("--label", f"{devcontainer.KEY_LABEL}=k123") in pairs
    assert ("--label", "io.helpers.container=true") in pairs  # docker_ps and docker_kill list it
    assert not any(v.startswith(f"{services.LABEL_OWNER}=") for _, v in pairs)
