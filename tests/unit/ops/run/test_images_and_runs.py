from __future__ import annotations

import os
from pathlib import Path

import pytest
from packaging.version import Version

from helpers.errors import UserError
from helpers.model import config, images, project
from helpers.ops.images import choice
from helpers.ops.run import containers
from tests.conftest import make_runnable, write


def _target(root: Path, rel: str = ".", **cfg: object) -> project.Target:
    base = config.load(root, rel, env={})
    return project.Target(root, rel, config.Config(**{**base.__dict__, **cfg}))


def test_refs_and_tags(tmp_path: Path) -> None:
    cfg = config.Config(image_name="acme-infra", registry="localhost:5000/")
    assert images.ref(cfg, "local", "1.2.0", "ann") == "localhost:5000/acme-infra:local-ann-1.2.0"
    assert images.ref(cfg, "dev", "1.2.0", "ann") == "localhost:5000/acme-infra:dev-1.2.0"
    assert images.moving_ref(cfg, "prod") == "localhost:5000/acme-infra:prod"
    with pytest.raises(UserError, match="--stage 'qa' is not one of local, dev, prod"):
        images.ref(cfg, "qa", "1.0.0", "ann")


def test_user_name_is_tag_safe() -> None:
    assert images.user_name({"USER": "Ann.Lee@Corp"}) == "ann.lee-corp"


def test_chosen_ref_defaults(tmp_path: Path) -> None:
    make_runnable(tmp_path, "infra", version="1.3.0")
    target = _target(tmp_path, "infra", image_name="infra")
    assert choice.chosen_ref(target, "local", None, "ann") == "infra:local-ann-1.3.0"
    assert choice.chosen_ref(target, "dev", None, "ann") == "infra:dev"
    assert choice.chosen_ref(target, "dev", "1.2.0", "ann") == "infra:dev-1.2.0"


def test_compat_check() -> None:
    want = Version("1.3.1")
    fix = "invoke docker_pull --stage dev"
    with pytest.raises(UserError) as err:
        choice.check("1.2.9", want, "img:dev", "infra/changelog.txt", fix)
    assert str(err.value) == (
        "img:dev is version 1.2.9 but infra/changelog.txt says 1.3.1: "
        "the image is too old for this code; run `invoke docker_pull --stage dev`"
    )
    assert choice.check("1.3.1", want, "img", "c", fix) == []
    (patch,) = choice.check("1.3.0", want, "img", "c", fix)
    assert patch.startswith("img is version 1.3.0, c says 1.3.1")
    assert choice.check("1.10.0", Version("1.9.0"), "img", "c", fix)  # newer: a warning only
    (nolabel,) = choice.check("", want, "img", "c", fix)
    assert "no usable version label" in nolabel


def test_run_argv(tmp_path: Path) -> None:
    make_runnable(tmp_path, "infra")
    write(tmp_path / ".env", "TOKEN=secret\n")
    target = _target(
        tmp_path,
        "infra",
        mounts=("data:/data:ro",),
        ports=("8080:80",),
        env_passthrough=("CI", "ABSENT"),
    )
    opts = containers.RunOptions(command=("sh", "-c", "echo hi"), name="n1", run_id="r1")
    argv = containers.run_argv(target, "img:1", opts, env={"CI": "1", "TOKEN": "x"})
    text = " ".join(argv)
    assert argv[:3] == ("docker", "run", "--rm")
    assert argv[-4:] == ("img:1", "sh", "-c", "echo hi")
    assert f"--user {os.getuid()}:{os.getgid()}" in text
    assert f"--volume {tmp_path}:/app --workdir /app/infra" in text
    env_file = Path(argv[argv.index("--env-file") + 1])
    assert env_file.read_text() == "TOKEN=secret\n"  # checked, rewritten for docker
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert "secret" not in text
    assert "--env CI " in text and "ABSENT" not in text
    assert f"--volume {tmp_path}/data:/data:ro" in text
    assert "--publish 8080:80" in text
    assert "--label io.helpers.run=r1" in text and "--name n1" in text
    assert "--tty" not in argv and "docker.sock" not in text


def test_bad_mount_is_user_error(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    target = _target(tmp_path, mounts=("justonepart",))
    with pytest.raises(UserError, match="'justonepart' is not HOST:CONTAINER"):
        containers.run_argv(target, "img", containers.RunOptions(), env={})


def test_sibling_needs_socket(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    target = _target(tmp_path, sibling_docker=True)
    env = {"DOCKER_HOST": "tcp://10.0.0.1:2375"}
    with pytest.raises(UserError, match="sibling_docker is on but no local engine socket"):
        containers.run_argv(target, "img", containers.RunOptions(), env=env)


def test_poetry_package_roots_are_on_the_containers_import_path(tmp_path: Path) -> None:
    write(
        tmp_path / "projects/api/pyproject.toml",
        '[tool.poetry]\nname = "api"\nversion = "0.1.0"\npackages = [\n'
        '    {include = "example/log", from = "../../components"},\n'
        '    {include = "example/greet_api", from = "../../bases"},\n]\n',
    )
    path = containers.python_path(_target(tmp_path, "projects/api"))
    assert path.split(":")[:3] == ["/app/components", "/app/bases", "/app/projects/api"]


def test_the_prod_image_puts_poetry_package_roots_on_its_path_too(tmp_path: Path) -> None:
    from helpers.ops.images import prod_image
    from tests.shapes import POLY_ROOT

    write(tmp_path / "pyproject.toml", POLY_ROOT)
    recipe = prod_image.generated_dockerfile(_target(tmp_path, "."))
    assert "ENV PYTHONPATH=/app/bases:/app/components:/app\n" in recipe


def test_prod_tests_put_poetry_package_roots_on_their_path(tmp_path: Path) -> None:
    from helpers.ops.testing import testplan
    from tests.shapes import POLY_ROOT

    write(tmp_path / "pyproject.toml", POLY_ROOT)
    make_runnable(tmp_path, ".")
    run = testplan.plan_baked(_target(tmp_path, "."), "img:prod", ["fast"], "run1")
    env = dict(a.split("=", 1) for a in run.argv if a.startswith("PYTHONPATH="))
    assert env["PYTHONPATH"].startswith("/app/bases:/app/components:/app:")


def _env_value(argv: tuple[str, ...], name: str) -> list[str]:
    return [v.split("=", 1)[1] for v in argv if v.startswith(f"{name}=")]


def test_entrypoint_is_off_unless_kept(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    opts = containers.RunOptions(command=("true",))
    off = containers.run_argv(_target(tmp_path), "img", opts, env={})
    assert off[off.index("--entrypoint") + 1] == ""
    kept = containers.run_argv(_target(tmp_path, keep_entrypoint=True), "img", opts, env={})
    assert "--entrypoint" not in kept


def test_keep_entrypoint_and_python_paths_are_config_keys(tmp_path: Path) -> None:
    write(
        tmp_path / "repo_config.yaml",
        "keep_entrypoint: true\npython_paths: [bases, ./components/]\n",
    )
    cfg = config.load(tmp_path, ".", env={})
    assert cfg.keep_entrypoint is True
    assert cfg.python_paths == ("bases", "components")


def test_container_env_pythonpath_is_appended_to_helpers_own(tmp_path: Path) -> None:
    make_runnable(tmp_path, "infra")
    (tmp_path / "helpers_root").mkdir()
    target = _target(
        tmp_path,
        "infra",
        container_env={"PYTHONPATH": "/opt/extra", "A": "1"},
        python_paths=("bases", "components"),
    )
    argv = containers.run_argv(target, "img", containers.RunOptions(command=("true",)), env={})
    values = _env_value(argv, "PYTHONPATH")
    assert len(values) == 1, argv  # one --env PYTHONPATH: nothing replaces it afterwards
    parts = values[0].split(":")
    assert parts[:2] == ["/app/infra", "/app"]
    assert parts[-3:] == ["/app/bases", "/app/components", "/opt/extra"]
    assert _env_value(argv, "A") == ["1"]
