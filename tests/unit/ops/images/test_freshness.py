"""Which inputs make a local image stale, and the stat-keyed digest cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers.effects import digestcache
from helpers.errors import UserError
from helpers.ops.images import build_context, choice, dockerfile, freshness, install_inputs
from tests.conftest import make_runnable, write

DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# COPY ignored.txt /nowhere
COPY --chown=1:1 devops/entrypoint.sh \\
     setup/*.sh /usr/local/bin/
COPY --from=builder /out/app /app
COPY ["conf/app.ini", "/etc/app.ini"]
COPY . /work
COPY src/ /work/src/
ADD https://example.com/x.tar.gz /tmp/
COPY $VAR /x
COPY app.py /app/app.py
WORKDIR /app
COPY README.md ./docs/
"""


def test_copied_sources_skip_other_stages_urls_and_variables() -> None:
    assert dockerfile.copied_sources(DOCKERFILE) == [
        "devops/entrypoint.sh",
        "setup/*.sh",
        "conf/app.ini",
        ".",
        "src/",
    ]


def _dir(tmp_path: Path) -> build_context.Context:
    d = make_runnable(tmp_path, ".")
    write(d / "devops/Dockerfile", DOCKERFILE)
    for rel in (
        "devops/entrypoint.sh",
        "setup/a.sh",
        "conf/app.ini",
        "src/pkg/__init__.py",
        "app.py",
        "README.md",
        "pyproject.toml",
        "libs/x/requirements-dev.txt",
        "poetry.lock",
    ):
        write(d / rel, f"{rel}\n")
    return build_context.collect(d, "devops/Dockerfile", {".helpers/install-deps.sh": b"sh"})


def _inputs(ctx: build_context.Context, args: dict[str, str], base_id: str) -> dict[str, str]:
    text = (ctx.root / ctx.dockerfile).read_text()
    digests = build_context.file_digests(ctx, install_inputs.selected(ctx, text))
    return install_inputs.install_inputs(ctx, args, base_id, text, digests)


def test_install_inputs_are_manifests_copied_files_and_settings_not_code(tmp_path: Path) -> None:
    ctx = _dir(tmp_path)
    inputs = _inputs(ctx, {"BASE_IMAGE": "b", "PIP_INDEX": "x"}, "sha256:1")
    assert sorted(inputs) == [
        ".helpers/install-deps.sh",
        "base image",
        "build arg PIP_INDEX",
        "conf/app.ini",
        "devops/Dockerfile",
        "devops/entrypoint.sh",
        "libs/x/requirements-dev.txt",
        "poetry.lock",
        "pyproject.toml",
        "setup/a.sh",
    ]


def test_code_edits_never_make_an_image_stale_manifest_edits_do(tmp_path: Path) -> None:
    ctx = _dir(tmp_path)
    args = {"BASE_IMAGE": "b"}
    built = _inputs(ctx, args, "sha256:1")
    for code in ("app.py", "src/pkg/__init__.py", "README.md"):
        write(ctx.root / code, "edited\n")
    assert freshness.changed(built, _inputs(ctx, args, "sha256:1")) == []
    write(ctx.root / "pyproject.toml", "[project]\nname = 'x'\n")
    now = _inputs(ctx, args, "sha256:2")
    assert freshness.changed(built, now) == ["base image", "pyproject.toml"]


def test_a_one_off_build_arg_is_not_second_guessed() -> None:
    old = {"base image": "1", "build arg FROM_CLI": "2", "build arg CFG": "3"}
    assert freshness.changed(old, {"base image": "1", "build arg CFG": "3"}) == []
    assert freshness.changed(old, {"base image": "1", "build arg CFG": "4"}) == ["build arg CFG"]


def test_label_round_trip_and_an_unlabelled_image() -> None:
    inputs = {"b": "2", "a": "1"}
    assert install_inputs.decode(install_inputs.encode(inputs)) == inputs
    assert install_inputs.decode(None) is None and install_inputs.decode("not json") is None


def test_names_are_shown_as_repo_paths_dependencies_first() -> None:
    names = [".helpers/requirements.txt", "pyproject.toml", ".helpers/units/libs/a/setup.cfg"]
    assert freshness.shown_names(names, "apps/b") == [
        "libs/a/setup.cfg (dependency unit)",
        "apps/b/pyproject.toml",
        ".helpers/requirements.txt (generated)",
    ]
    assert freshness.describe(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"


def test_policy_rejects_an_unknown_if_missing() -> None:
    with pytest.raises(UserError, match="--if-missing 'maybe'"):
        choice.Policy("maybe")


def test_digest_cache_reads_an_unchanged_file_once(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", "one\n")
    old = time.time() - 60
    os.utime(path, (old, old))
    store = tmp_path / ".helpers" / "digests.json"
    first = digestcache.DigestCache(store)
    value = first.digest(path)
    first.save()
    assert (tmp_path / ".helpers" / ".gitignore").is_file()
    second = digestcache.DigestCache(store)
    assert second.digest(path) == value and second.hits == 1
    path.write_text("two\n")  # new mtime and size: read again
    assert second.digest(path) != value and second.hits == 1


def test_digest_cache_does_not_trust_a_just_written_file(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", "one\n")
    cache = digestcache.DigestCache(tmp_path / "d.json")
    cache.digest(path)
    assert not cache.dirty  # racy: its mtime may not move on the next write
    assert digestcache.DigestCache(tmp_path / "missing" / "d.json").entries == {}


def test_choosing_a_fresh_local_image_asks_the_engine_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version check wants the image, the stale check its base: one inspect for both."""
    import json

    from helpers.effects.commands import Argv, Result
    from helpers.model import config, images, project, units
    from helpers.ops.images import source
    from tests.conftest import git
    from tests.fakes import FakeRunner, result

    monkeypatch.setattr(freshness, "_BASE_IDS", {})
    make_runnable(tmp_path, ".", version="1.2.0")
    git(tmp_path, "init", "-q")
    target = project.Target(tmp_path, ".", config.load(tmp_path, ".", env={}))
    ref = images.ref(target.cfg, "local", target.version, images.user_name())
    base = target.cfg.base_image
    args = {"BASE_IMAGE": base, **target.cfg.build_args}
    src = source.read(target, units.load(tmp_path), every_file=False)
    text, digests = src.dockerfile_text, src.digests
    inputs = install_inputs.install_inputs(src.context, args, "sha256:b", text, digests)
    labels = {images.LABEL_VERSION: "1.2.0", install_inputs.LABEL: install_inputs.encode(inputs)}
    known = {ref: ("sha256:a", labels), base: ("sha256:b", {})}

    def inspect(argv: Argv) -> Result:
        asked = argv[5:]
        lines = [
            json.dumps({"Id": known[r][0], "RepoTags": [r], "Config": {"Labels": known[r][1]}})
            for r in asked
        ]
        return result(0, "\n".join(lines) + "\n")

    runner = FakeRunner({"image inspect": inspect}, passthrough=["git"])
    chosen = choice.choose(target, "local", None, choice.Policy(), runner)
    assert (chosen.ref, chosen.warnings) == (ref, ())
    assert runner.argvs == [
        ("docker", "image", "inspect", "--format", "{{json .}}", *sorted((ref, base)))
    ]
