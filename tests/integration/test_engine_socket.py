"""The engine's local socket answers `docker image inspect` as the CLI does (the fields
helpers reads: a newer CLI drops empty ones when it prints)."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers.effects import commands, engine
from tests.integration.conftest import base_image

pytestmark = pytest.mark.integration


def test_the_socket_answers_image_inspect_as_the_cli_does() -> None:
    if engine.local_socket() is None:
        pytest.fail(f"the CLI talks to no plain local socket here ({engine.where()})")
    ref, absent = base_image(), "helpers-absent-image:never-built"
    via_socket = engine.inspect_json([ref, absent])
    via_cli = engine.inspect_json([ref, absent], lambda argv, **kw: commands.run(argv, **kw))
    assert via_socket[absent] is None and via_cli[absent] is None
    direct, printed = (json.loads(via[ref] or "{}") for via in (via_socket, via_cli))
    for key in ("Id", "RepoTags", "Architecture", "Os"):
        assert direct[key] == printed[key], key
    assert direct["Config"]["Labels"] == printed["Config"]["Labels"]
    assert direct["Id"].startswith("sha256:")
    # The engine alone would also resolve these; both paths answer the same: not found.
    aliases = [f"docker.io/library/{ref}" if "/" not in ref else f"{ref}@{direct['Id']}"]
    aliases.append(direct["Id"][len("sha256:") :][:12])  # a short id
    assert engine.inspect_json(aliases) == dict.fromkeys(aliases)
    assert engine.inspect_json(aliases, lambda argv, **kw: commands.run(argv, **kw)) == (
        dict.fromkeys(aliases)
    )
    assert engine.inspect_json([direct["Id"]])[direct["Id"]] is not None  # its full id is it
    listed = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True
    )
    assert engine.inspect_images([ref])[ref].id == listed.stdout.strip()  # type: ignore[union-attr]
