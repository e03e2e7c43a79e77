"""A run's services without an engine: their plan, start and health wait (a fake runner),
the warm set's key, and the clean-ups that know them."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import config, project
from helpers.ops.run import cleanup, inventory, services, warm
from helpers.ops.run.services import Resolved
from tests.conftest import make_runnable, write
from tests.fakes import FakeRunner, result

CONFIG = """services:
  db:
    image: pg:1
    env: {A: b}
    healthcheck: pg_isready
    tmpfs: [/data]
  cache:
    image: redis:1
"""
REFS = {"db": Resolved("pg:1", "sha256:pg"), "cache": Resolved("redis:1", "sha256:rd")}


def _target(tmp_path: Path, text: str = CONFIG) -> project.Target:
    (tmp_path / ".git").mkdir(exist_ok=True)
    make_runnable(tmp_path, "infra")
    write(tmp_path / "infra" / "repo_config.yaml", text)
    return project.Target(tmp_path, "infra", config.load(tmp_path, "infra", env={}))


def _value(argv: commands.Argv, flag: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv) if word == flag]


def test_a_runs_services_are_its_own_by_name_and_label(tmp_path: Path) -> None:
    target = _target(tmp_path)
    sset = services.plan(target, REFS, services.for_run(target, "run-1", "tok"))
    assert sset is not None
    assert sset.env == {"HELPERS_SERVICES": "db,cache"}
    image = target.cfg.image_name
    assert sset.network == f"helpers-{image}-svc-net-tok"
    db, cache = sset.services
    assert db.container == f"helpers-{image}-svc-db-tok"
    assert _value(db.argv, "--network") == [sset.network]
    assert _value(db.argv, "--network-alias") == ["db"]  # the host name tests connect to
    labels = _value(db.argv, "--label")
    for label in (
        "io.helpers.run=run-1",
        "io.helpers.service=db",
        "io.helpers.container=true",
        f"io.helpers.repo={tmp_path}",
    ):
        assert label in labels
    assert _value(db.argv, "--env") == ["A=b"] and _value(db.argv, "--tmpfs") == ["/data"]
    assert db.argv[-1] == "pg:1" and "--pid" not in db.argv
    assert db.health == ("docker", "exec", db.container, "sh", "-c", "pg_isready")
    assert cache.health == ()  # none given: running (or the image's own HEALTHCHECK) is healthy
    assert sset.network_labels["io.helpers.run"] == "run-1"


def test_a_warm_sets_services_share_its_lifetime(tmp_path: Path) -> None:
    target = _target(tmp_path)
    scope = services.for_warm("helpers-warm-x-abc", "slot")
    sset = services.plan(target, REFS, scope)
    assert sset is not None and sset.network == "helpers-warm-x-abc"
    db = sset.services[0]
    assert db.container == "helpers-warm-x-abc-db"
    assert _value(db.argv, "--pid") == ["container:helpers-warm-x-abc"]
    assert "io.helpers.service-of=helpers-warm-x-abc" in _value(db.argv, "--label")


def test_no_services_no_plan_and_a_network_key_refused(tmp_path: Path) -> None:
    plain = _target(tmp_path, "warm_containers: true\n")
    assert services.plan(plain, {}, services.for_run(plain, "r", "t")) is None
    both = _target(tmp_path, CONFIG + "network: host\n")
    with pytest.raises(UserError, match="'network: host' and 'services' cannot go together"):
        services.plan(both, REFS, services.for_run(both, "r", "t"))


def _sset(tmp_path: Path) -> services.ServiceSet:
    target = _target(tmp_path)
    sset = services.plan(target, REFS, services.for_run(target, "run-1", "tok"))
    assert sset is not None
    return sset


def test_start_waits_until_each_is_healthy(tmp_path: Path) -> None:
    sset = _sset(tmp_path)
    polls = iter([result(1, err="no response"), result(1, err="no response"), result(0)])
    runner = FakeRunner(
        {
            "exec": lambda argv: next(polls),
            "container inspect": result(out="running 0 \n"),
        }
    )
    services.start(sset, runner, poll=0.0)
    kinds = [" ".join(argv[1:3]) for argv in runner.argvs]
    assert kinds[0] == "network create" and kinds.count("run --detach") == 2
    assert kinds.count("exec " + sset.services[0].container) == 3
    assert not any(argv[1] == "rm" for argv in runner.argvs)  # nothing removed: it is up


def test_a_service_that_never_gets_healthy_is_one_line_with_its_logs(tmp_path: Path) -> None:
    sset = _sset(tmp_path)
    sset = services.ServiceSet(
        sset.rel_dir,
        sset.network,
        sset.network_labels,
        (services.ServiceRun(**{**sset.services[0].__dict__, "timeout": 0.0}),),
    )
    runner = FakeRunner(
        {
            "exec": result(1, out="/tmp:5432 - no response"),
            "container inspect": result(out="running 0 \n"),
            "logs": result(out="starting\n", err="FATAL: could not bind\n"),
        }
    )
    with pytest.raises(services.NotHealthyError) as err:
        services.start(sset, runner, poll=0.0)
    assert str(err.value).startswith(
        "service db of infra is not healthy (healthcheck `pg_isready` still failing after 0 s: "
        "/tmp:5432 - no response); its last log lines are above"
    )
    assert err.value.logs == ("db | starting", "db | FATAL: could not bind")
    removed = [argv for argv in runner.argvs if argv[1] in ("rm", "network") and "rm" in argv]
    assert removed[0][:4] == ("docker", "rm", "--force", "--volumes")
    assert removed[1] == ("docker", "network", "rm", sset.network)  # nothing left


def test_a_service_that_exits_fails_at_once(tmp_path: Path) -> None:
    sset = _sset(tmp_path)
    runner = FakeRunner(
        {
            "exec": result(1, err="Error response from daemon: Container x is not running"),
            "container inspect": result(out="exited 3 \n"),
        }
    )
    with pytest.raises(services.NotHealthyError, match=r"\(it exited with code 3\)"):
        services.start(sset, runner, poll=0.0)


def _image() -> engine.ImageInfo:
    return engine.ImageInfo("img:1", "sha256:abc", {}, "amd64")


@pytest.fixture()
def _helpers_inside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("helpers.ops.run.containers.helpers_inside", lambda root: "/app/h")
    monkeypatch.setenv("HELPERS_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.usefixtures("_helpers_inside")
def test_the_warm_key_covers_the_services_config_and_images(tmp_path: Path) -> None:
    target = _target(tmp_path)
    first = warm.name_for(target, _image(), REFS)
    assert warm.name_for(target, _image(), {}) != first
    rebuilt = {**REFS, "db": Resolved("pg:1", "sha256:new")}
    assert warm.name_for(target, _image(), rebuilt) != first
    changed = _target(tmp_path, CONFIG.replace("A: b", "A: c"))
    assert warm.name_for(changed, _image(), REFS) != first


@pytest.mark.usefixtures("_helpers_inside")
def test_a_warm_set_starts_its_services_after_it_and_reuses_them(tmp_path: Path) -> None:
    target = _target(tmp_path)
    expected = warm.name_for(target, _image(), REFS)

    def inspect(argv: commands.Argv) -> commands.Result:
        if argv[-1] == expected:  # the warm container: not there yet
            return result(1, err="No such container")
        return result(out="running 0 \n")  # a service

    fresh = FakeRunner({"container inspect": inspect})
    name = warm.ensure_with_services(target, _image(), REFS, fresh)
    assert name == expected
    order = [argv for argv in fresh.argvs if argv[1] == "run" or argv[1:3] == ("network", "create")]
    assert [argv[1] for argv in order] == ["network", "run", "run", "run"]
    warm_run = order[1]  # the warm container first: its services join its PID namespace
    assert _value(warm_run, "--name") == [name]
    assert _value(order[2], "--pid") == [f"container:{name}"]
    assert _value(warm_run, "--network") == [name]
    assert "HELPERS_SERVICES=db,cache" in _value(warm_run, "--env")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.1Z")
    up = FakeRunner({"container inspect": result(out=f"true {now}"), "ps": result(out="a\nb\n")})
    assert warm.ensure_with_services(target, _image(), REFS, up) == name
    assert not any(argv[1] == "run" for argv in up.argvs)  # both services up: reused


def test_an_interrupts_clean_up_removes_the_runs_networks_too() -> None:
    runner = FakeRunner({"ps": result(out="svc\nmain\n"), "network ls": result(out="net-1\n")})
    assert inventory.remove_run_containers("run-9", runner) == 2
    listing = ("docker", "network", "ls", "--format", "{{.Name}}")
    assert runner.argvs[-2] == (*listing, "--filter", "label=io.helpers.run=run-9")
    assert runner.argvs[-1] == ("docker", "network", "rm", "net-1")


def _row(
    name: str, state: str, *, service: str = "", run: str = "", age: int = 3600
) -> inventory.ContainerRow:
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age)
    return inventory.ContainerRow(
        f"{name}-id",
        name,
        "img:1",
        state,
        state,
        "/repo",
        "infra",
        ours=True,
        service=service,
        run=run,
        created=created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
    )


def test_cleanup_removes_services_of_ended_runs_and_unused_networks() -> None:
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    scope = cleanup.Scope("/repo", "ann", {}, now=now)
    boxes = [
        _row("orphan", "running", service="db", run="gone"),  # its run's container is gone
        _row("live-db", "running", service="db", run="live"),
        _row("live-main", "running", run="live"),
        _row("young", "running", service="db", run="starting", age=5),  # may be starting
    ]

    def stamp(seconds: int) -> str:
        return (now - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")

    nets = [
        cleanup.NetworkRow("old-net", stamp(3600) + ".1 +0000 UTC", "/repo"),
        cleanup.NetworkRow("new-net", stamp(5) + ".1 +0000 UTC", "/repo"),
    ]
    plan = cleanup.select(boxes, [], scope, nets)
    assert [r.what for r in plan.services] == ["orphan"]
    assert [r.what for r in plan.networks] == ["old-net"]
    assert plan.argvs() == [
        ("docker", "rm", "--force", "--volumes", "orphan"),
        ("docker", "network", "rm", "old-net"),
    ]


def test_ps_names_a_service_and_the_run_it_serves() -> None:
    row = {
        "id": "c" * 64,
        "name": "helpers-x-svc-db-tok",
        "image": "pg:1",
        "state": "running",
        "status": "Up 2 seconds",
        "repo": "/repo",
        "dir": "infra",
        "managed": "true",
        "container": "true",
        "service": "db",
        "run": "run-1",
        "created": "2026-12-02 06:46:49 +0000 UTC",
    }
    runner = FakeRunner({"ps": result(out=json.dumps(row) + "\n")})
    rows = inventory.list_containers(runner=runner)
    assert rows[0].service == "db" and rows[0].run == "run-1"
    assert "infra (service db)" in inventory.ps_table(rows, Path("/repo"))


def test_the_github_workflow_runs_the_same_command_and_no_job_services() -> None:
    """Services are ours: CI runs main_pytest, which starts them; no job's `services:`."""
    import yaml

    from tests.conftest import REPO

    text = (REPO / "templates" / "github-workflow.yml").read_text()
    jobs = yaml.safe_load(text.replace("@HELPERS_DIR@", "helpers_root"))["jobs"]
    assert all("services" not in job for job in jobs.values())
    runs = [step.get("run", "") for job in jobs.values() for step in job.get("steps", [])]
    assert any("dev_scripts/main_pytest.py --dir" in run for run in runs)
