"""The prod release's plan without an engine: what it builds FROM, and what it records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import pytest

from helpers.effects import commands, registry_api
from helpers.model import images
from helpers.ops.release import attest, flow, keys, prod, verify
from tests.conftest import git, make_runnable, write

REPO = "localhost:5000/app"
VERIFIED = "sha256:" + "d" * 64
MOVED = "sha256:" + "e" * 64  # what the tag names by the time the build would read it


def _engine_free(
    argv: Sequence[str],
    *,
    cwd: Optional[Path] = None,
    input: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> commands.Result:
    """git for real; the engine answers as one with nothing built (no docker is started)."""
    if argv[0] != "docker":
        return commands.run(argv, cwd=cwd, input=input, env=env)
    if argv[1:3] == ("version", "--format") and "Os" in argv[3]:
        return commands.Result(tuple(argv), 0, "linux/amd64\n", "")
    if argv[1] == "version":
        return commands.Result(tuple(argv), 0, "20.10.24\n", "")
    if argv[1:3] == ("image", "inspect"):
        return commands.Result(tuple(argv), 1, "", "Error: No such image: x\n")
    return commands.Result(tuple(argv), 1, "", "not here")


def test_a_signed_promotion_builds_from_the_digest_it_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _, _ = keys.generate(tmp_path / "release.key")
    root = tmp_path / "app"
    make_runnable(root, ".", name="app", version="1.0.0")
    write(root / "app.py", "X = 1\n")
    write(
        root / "repo_config.yaml",
        f"registry: localhost:5000\nplatforms: [linux/amd64]\nsigning_key: {key}\n"
        "require_signed: true\n",
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    monkeypatch.chdir(root)
    monkeypatch.delenv(keys.ENV_KEY, raising=False)

    checked: list[str] = []

    def verified(target: Any, ref: str, key_flag: Optional[str] = None) -> str:
        checked.append(ref)
        return VERIFIED

    def registry(ref: str, *a: Any, **kw: Any) -> Optional[registry_api.RemoteImage]:
        name = registry_api.parse(ref)
        if name.reference not in (VERIFIED, "dev-1.0.0"):
            return None  # no prod image published yet
        digest = VERIFIED if name.reference == VERIFIED else MOVED
        labels = {images.LABEL_VERSION: "1.0.0", images.LABEL_REVISION: "abc"}
        return registry_api.RemoteImage(name, digest, ("linux/amd64",), labels)

    signers: list[attest.Attestor] = []
    real_attestor = flow._attestor

    def kept(*a: Any) -> Optional[attest.Attestor]:
        made = real_attestor(*a)
        signers.extend([made] if made else [])
        return made

    monkeypatch.setattr(verify, "require", verified)
    monkeypatch.setattr(registry_api, "inspect", registry)
    monkeypatch.setattr(flow, "_attestor", kept)
    req = flow.Request(dry_run=True, skip_tests=True)
    shown = prod.release_prod(req, _engine_free).text

    assert checked == [f"{REPO}:dev-1.0.0"]
    build = next(line for line in shown.splitlines() if "docker build" in line)
    assert f"--build-arg DEV_IMAGE={REPO}@{VERIFIED}" in build  # not the tag, not MOVED
    assert "dev-1.0.0" not in build and MOVED not in shown
    # The provenance names the base it verified: that digest, not a second look at the tag.
    (signer,) = signers
    base = signer.platforms["linux/amd64"]
    assert (base.base, base.base_digest) == (f"{REPO}@{VERIFIED}", VERIFIED)


def test_verify_shows_a_pinned_base_once() -> None:
    facts = {
        "commit": "c" * 40, "dirty": "clean", "tests": "passed", "lists": "fast",
        "ran_on": "linux/amd64", "base": f"{REPO}@{VERIFIED}", "base_digest": "d" * 64,
    }  # fmt: skip
    v = verify.Verified("linux/amd64", MOVED, facts, 1, 2)
    from cryptography.hazmat.primitives.asymmetric import ec

    key = keys.VerifyKey(ec.generate_private_key(ec.SECP256R1()).public_key(), "here")
    said = verify.line(f"{REPO}:prod", v, key)
    assert f"base {REPO}@sha256:{'d' * 12}…, SBOM" in said
