from __future__ import annotations

import os
import tarfile
from pathlib import Path

from helpers.model import workspace
from helpers.ops.images import build_context
from tests.conftest import make_runnable, write


def _ctx(root: Path) -> build_context.Context:
    return build_context.collect(root, "devops/Dockerfile", {".helpers/x": b"1"})


def test_context_honours_dockerignore_and_never_sends_secrets(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    write(tmp_path / ".dockerignore", "*.log\n!.env\n")
    write(tmp_path / "app.py", "print(1)\n")
    write(tmp_path / "debug.log", "x")
    for secret in (".env", "sub/.env", ".env.local", "sub/.env.production", ".envrc", "prod.env"):
        write(tmp_path / secret, "TOKEN=secret\n")
    write(tmp_path / ".git" / "HEAD", "ref\n")
    ctx = build_context.collect(tmp_path, "devops/Dockerfile", secrets=["prod.env"])
    assert ctx.files == (".dockerignore", "app.py", "changelog.txt", "devops/Dockerfile")


def test_dockerfile_is_sent_even_when_ignored(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    write(tmp_path / ".dockerignore", "*\n")
    assert _ctx(tmp_path).files == (".dockerignore", "devops/Dockerfile")


def test_skip_dir_leaves_nested_units_out(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    make_runnable(tmp_path, "infra")
    ctx = build_context.collect(tmp_path, "devops/Dockerfile", skip_dir=lambda p: p.name == "infra")
    assert ctx.files == ("changelog.txt", "devops/Dockerfile")


def _hash(root: Path, settings: dict[str, str]) -> str:
    ctx = _ctx(root)
    return build_context.inputs_hash(ctx, settings, build_context.file_digests(ctx))


def test_hash_tracks_content_mode_and_settings(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    script = write(tmp_path / "run.sh", "echo hi\n")
    first = _hash(tmp_path, {"arg:A": "1"})
    assert _hash(tmp_path, {"arg:A": "1"}) == first
    assert _hash(tmp_path, {"arg:A": "2"}) != first
    os.chmod(script, 0o755)
    second = _hash(tmp_path, {"arg:A": "1"})
    assert second != first
    script.write_text("echo bye\n")
    assert _hash(tmp_path, {"arg:A": "1"}) not in (first, second)


def test_tar_holds_context_and_injected_files(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    ctx = _ctx(tmp_path)
    with build_context.write_tar(ctx) as handle, tarfile.open(fileobj=handle) as tar:
        names = sorted(tar.getnames())
        injected = tar.extractfile(".helpers/x")
        assert injected is not None and injected.read() == b"1"
        assert {m.uid for m in tar.getmembers()} == {0}
    assert names == [".helpers/x", "changelog.txt", "devops/Dockerfile"]


def test_excluded_dirs_are_not_walked(tmp_path: Path) -> None:
    make_runnable(tmp_path, ".")
    write(tmp_path / ".dockerignore", "*\n!devops/\n")
    write(tmp_path / "node_modules" / "x" / "y.js", "")
    seen: list[Path] = []

    def skip(path: Path) -> bool:
        seen.append(path)
        return False

    ctx = build_context.collect(tmp_path, "devops/Dockerfile", skip_dir=skip)
    assert ctx.files == (".dockerignore", "devops/Dockerfile")
    assert tmp_path / "node_modules" / "x" not in seen  # pruned at node_modules


def test_what_helpers_writes_for_editors_and_sync_is_never_sent(tmp_path: Path) -> None:
    """devcontainer_init and sync write these at the root: a root dir's image holds neither;
    a file the user keeps in .devcontainer/ is sent."""
    make_runnable(tmp_path, ".")
    write(tmp_path / ".devcontainer" / "infra" / "devcontainer.json", "{}\n")
    write(tmp_path / ".devcontainer" / "requirements.txt", "pytest\n")
    write(tmp_path / ".helpers-sync.json", "{}\n")
    never = workspace.helpers_written_patterns(".")
    ctx = build_context.collect(tmp_path, "devops/Dockerfile", secrets=never)
    assert ctx.files == (".devcontainer/requirements.txt", "changelog.txt", "devops/Dockerfile")
    assert workspace.helpers_written_patterns("infra") == ()
