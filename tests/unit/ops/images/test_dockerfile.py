"""A Dockerfile without `ARG BASE_IMAGE` names its own base: the build, print_setup and
adopt say once that `base_image` has no effect there (16.9); its inputs record the base
the build really starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.model import config, project
from helpers.ops.adoption import setup_report
from helpers.ops.images import build, dockerfile, source
from tests.conftest import git, make_runnable, write
from tests.fakes import FakeRunner, result

OLD_TOOL = """# syntax = docker/dockerfile:experimental
FROM ubuntu:24.04 AS builder
ARG AM_CONTAINER_VERSION
WORKDIR /install
COPY devops/docker_build/utils.sh .
ENTRYPOINT ["devops/docker_run/entrypoint.sh"]
"""
MULTI = """ARG BASE_IMAGE=python:3.11-slim
ARG TAG="1.2"
FROM ${BASE_IMAGE} AS deps
FROM registry.example/tools:${TAG:-9} AS tools
FROM deps
COPY --from=tools /bin/x /bin/x
"""


def test_the_base_is_the_final_stage_image_with_args_substituted() -> None:
    assert dockerfile.base_image(OLD_TOOL, {"BASE_IMAGE": "x:1"}) == "ubuntu:24.04"
    assert dockerfile.base_image(MULTI, {}) == "python:3.11-slim"  # deps -> its FROM
    assert dockerfile.base_image(MULTI, {"BASE_IMAGE": "b:2"}) == "b:2"
    assert dockerfile.base_image("FROM registry.example/tools:${TAG:-9}\n", {}) == (
        "registry.example/tools:9"
    )
    assert dockerfile.base_image("ARG V\nFROM img:$V\n", {}) is None  # no value: unknown
    assert dockerfile.base_image("FROM scratch\n", {}) is None
    assert dockerfile.takes_base_arg(MULTI) and not dockerfile.takes_base_arg(OLD_TOOL)


def test_the_note_names_the_file_the_setting_and_the_fix() -> None:
    note = dockerfile.base_arg_note(
        "svc/devops/docker_build/dev.Dockerfile",
        OLD_TOOL,
        "helpers-python:3.11",
        "$HELPERS_BASE_IMAGE",
    )
    assert note == (
        "svc/devops/docker_build/dev.Dockerfile has no `ARG BASE_IMAGE` in its FROM (it starts "
        "from ubuntu:24.04), so base_image helpers-python:3.11 (set by $HELPERS_BASE_IMAGE) has "
        "no effect on it; to use it, start the file with `ARG BASE_IMAGE=ubuntu:24.04` and "
        "`FROM ${BASE_IMAGE}`"
    )
    assert dockerfile.base_arg_note("x", MULTI, "b", "repo_config.yaml") is None
    assert dockerfile.base_arg_note("x", "", "b", "repo_config.yaml") is None  # unreadable


def _old_tool_dir(root: Path) -> project.Target:
    d = make_runnable(root, "svc")
    (d / "devops/Dockerfile").unlink()
    write(d / "repo_config.yaml", "dockerfile: devops/docker_build/dev.Dockerfile\n")
    write(d / "devops/docker_build/dev.Dockerfile", OLD_TOOL)
    write(d / "devops/docker_build/utils.sh", "echo\n")
    write(root / "repo_config.yaml", "base_image: helpers-python:3.11-bookworm\n")
    git(root, "init", "-q")
    return project.Target(root, "svc", config.load(root, "svc", env={}))


def test_the_build_says_it_once_and_records_the_real_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _old_tool_dir(tmp_path)
    fake = FakeRunner({"image inspect": result(0, "")}, passthrough=["git"])
    p = build.prepare(target, user="ann", runner=fake)
    assert fake.argvs[0][-1] == "ubuntu:24.04"  # the base asked about is the FROM image
    assert len(p.notes) == 1 and "has no effect on it" in p.notes[0]
    assert "(set by repo_config.yaml)" in p.notes[0]
    assert any(
        line.startswith("note     svc/devops/docker_build/dev.Dockerfile")
        for line in build.describe(p)
    )
    src = source.read(target, source.workspace_of(target, fake))
    assert source.base_of(src, source.build_args(target)) == "ubuntu:24.04"
    # The built-in default is nobody's setting: nothing to say.
    plain = project.Target(
        tmp_path, "svc", config.Config(image_name="svc", dockerfile=target.dockerfile)
    )
    assert dockerfile.base_notes(plain) == []


def test_print_setup_and_adopt_show_the_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _old_tool_dir(tmp_path)
    monkeypatch.chdir(target.path)
    text = setup_report.render(None, FakeRunner({"version": result(1)}))
    lines = [line for line in text.splitlines() if line.startswith("  note ")]
    assert len(lines) == 1 and "dev.Dockerfile has no `ARG BASE_IMAGE`" in lines[0]
    write(tmp_path / "web/devops/Dockerfile", "FROM node:20\n")
    notes = dockerfile.candidate_notes(tmp_path, "web", "devops/Dockerfile")
    assert notes == [
        "  note: web/devops/Dockerfile has no `ARG BASE_IMAGE` in its FROM (it starts from "
        "node:20), so base_image has no effect on it; to use it, start the file with "
        "`ARG BASE_IMAGE=node:20` and `FROM ${BASE_IMAGE}`"
    ]


POLYLITH_PROJECT = """FROM python:3.10
ARG wheel=message_fastapi_project-0.1.0-py3-none-any.whl
WORKDIR /code
COPY ./dist/$wheel /code/$wheel
COPY requirements.txt .helpers/*.sh /code/
COPY --from=builder /venv /venv
ADD https://example.com/tool.tgz /opt/
COPY . /app
"""


def test_adopt_notes_a_copy_of_what_git_does_not_have(tmp_path: Path) -> None:
    """python-polylith-example's shape: a project's Dockerfile COPYs the wheel a
    `poetry build-project` leaves in its git-ignored dist/; adopt says a fresh clone
    cannot build it. What git has, helpers' own .helpers/, URLs and stages are fine."""
    write(tmp_path / "projects/api/Dockerfile", POLYLITH_PROJECT)
    files = {"projects/api/Dockerfile", "projects/api/requirements.txt"}
    assert dockerfile.outside_git(POLYLITH_PROJECT, "projects/api", files) == ["./dist/$wheel"]
    with_wheel = {*files, "projects/api/dist/message_fastapi_project-0.1.0-py3-none-any.whl"}
    assert dockerfile.outside_git(POLYLITH_PROJECT, "projects/api", with_wheel) == []
    notes = dockerfile.candidate_notes(tmp_path, "projects/api", "Dockerfile", files)
    assert any("projects/api/Dockerfile COPYs ./dist/$wheel, which git does not have" in n
               for n in notes), notes  # fmt: skip
