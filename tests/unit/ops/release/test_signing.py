"""Signed releases without an engine: keys, DSSE, statements, the SBOM inventory, verdicts."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.model import config, project
from helpers.ops.release import attest, dsse, keys, provenance, sbom, verify
from tests.conftest import make_runnable, write


def _target(root: Path, text: str = "") -> project.Target:
    make_runnable(root, ".", name="app", version="1.0.0")
    write(root / "repo_config.yaml", text)
    return project.Target(root, ".", config.load(root, ".", env={}))


def _pair(tmp_path: Path, name: str = "k") -> tuple[keys.SigningKey, keys.VerifyKey]:
    path, pub, _ = keys.generate(tmp_path / name)
    target = _target(tmp_path / f"repo-{name}", f"signing_key: {path}\n")
    signer = keys.signing_key(target, env={})
    assert signer is not None
    return signer, keys.verify_key(target, str(pub))


def test_pae_is_the_dsse_v1_encoding() -> None:
    # the DSSE spec's own example
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_generated_keys_are_0600_p256_and_never_overwritten(tmp_path: Path) -> None:
    path, pub, keyid = keys.generate(tmp_path / "release.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pub.name == "release.key.pub" and b"BEGIN PUBLIC KEY" in pub.read_bytes()
    assert len(keyid) == 64
    with pytest.raises(UserError, match="is never overwritten"):
        keys.generate(path)
    with pytest.raises(UserError, match="no directory"):
        keys.generate(tmp_path / "missing" / "k")


def test_the_environment_key_wins_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    path, _, keyid = keys.generate(tmp_path / "k")
    target = _target(tmp_path / "repo")
    assert keys.signing_key(target, env={}) is None  # no key: an unsigned release
    from_env = keys.signing_key(target, env={keys.ENV_KEY: path.read_text()})
    assert from_env is not None and from_env.keyid == keyid
    assert from_env.where == "$HELPERS_SIGNING_KEY"
    with pytest.raises(UserError, match=r"\$HELPERS_SIGNING_KEY: not an unencrypted PEM"):
        keys.signing_key(target, env={keys.ENV_KEY: "not a key"})
    missing = _target(tmp_path / "repo2", "signing_key: nowhere.key\n")
    with pytest.raises(UserError, match="signing_key .*nowhere.key .* cannot be read"):
        keys.signing_key(missing, env={})
    with pytest.raises(UserError, match="no key to verify with"):
        keys.verify_key(target, None)


def test_envelopes_verify_and_any_change_or_other_key_does_not(tmp_path: Path) -> None:
    signer, verifier = _pair(tmp_path)
    _, other = _pair(tmp_path, "other")
    body = dsse.statement([("reg/app", "sha256:" + "a" * 64)], provenance.PREDICATE_TYPE, {"x": 1})
    raw = dsse.sign(body, signer)
    opened = dsse.open_envelope(raw, verifier)
    assert opened.verified and opened.payload == body
    assert json.loads(raw)["payloadType"] == "application/vnd.in-toto+json"
    assert json.loads(body)["_type"] == "https://in-toto.io/Statement/v1"
    assert json.loads(body)["subject"][0]["digest"] == {"sha256": "a" * 64}
    assert not dsse.open_envelope(raw, other).verified
    env = json.loads(raw)
    env["payload"] = base64.b64encode(body.replace(b'"x":1', b'"x":2')).decode()
    assert not dsse.open_envelope(json.dumps(env).encode(), verifier).verified
    with pytest.raises(dsse.MalformedError):
        dsse.open_envelope(b"{}", verifier)


def _attached(monkeypatch: pytest.MonkeyPatch, layers: list[tuple[dict[str, str], bytes]]) -> None:
    from helpers.effects.registry_api import Manifest

    found = attest.Attached(Manifest("sha256:m", "x", b"{}"), tuple(layers))
    monkeypatch.setattr(attest, "read", lambda repo, digest: found if layers else None)


def _layers(signer: keys.SigningKey, digest: str) -> list[tuple[dict[str, str], bytes]]:
    out = []
    preds: list[tuple[str, dict[str, object]]] = [
        (provenance.PREDICATE_TYPE, {}),
        (sbom.PREDICATE_TYPE, {"components": []}),
    ]
    for kind, pred in preds:
        env = dsse.sign(dsse.statement([("reg/app", digest)], kind, pred), signer)
        notes = {attest.PREDICATE_ANNOTATION: kind, attest.KEYID_ANNOTATION: signer.keyid}
        out.append((notes, env))
    return out


def test_verdicts_name_what_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signer, verifier = _pair(tmp_path)
    other_signer, other = _pair(tmp_path, "other")
    digest = "sha256:" + "b" * 64
    _attached(monkeypatch, _layers(signer, digest))
    done = verify.verify_one("reg/app", "linux/amd64", digest, verifier)
    assert done.digest == digest and (done.python, done.debian) == (0, 0)
    with pytest.raises(verify.VerifyFailedError, match=r"^wrong key: .* signed by key") as err:
        verify.verify_one("reg/app", "linux/amd64", digest, other)
    assert err.value.exit_code == 1
    with pytest.raises(verify.VerifyFailedError, match="^subject mismatch: "):
        verify.verify_one("reg/app", "linux/amd64", "sha256:" + "c" * 64, verifier)
    _attached(monkeypatch, [])
    with pytest.raises(verify.VerifyFailedError, match="^unsigned: .* has no attestations"):
        verify.verify_one("reg/app", "linux/amd64", digest, verifier)
    only_provenance = _layers(signer, digest)[:1]
    _attached(monkeypatch, only_provenance)
    with pytest.raises(verify.VerifyFailedError, match="^unsigned: .* no signed SBOM"):
        verify.verify_one("reg/app", "linux/amd64", digest, verifier)
    notes, raw = _layers(signer, digest)[0]
    env = json.loads(raw)
    env["payload"] = base64.b64encode(base64.b64decode(env["payload"]) + b" ").decode()
    _attached(monkeypatch, [(notes, json.dumps(env).encode())])
    with pytest.raises(verify.VerifyFailedError, match="^bad signature: "):
        verify.verify_one("reg/app", "linux/amd64", digest, verifier)
    assert other_signer.keyid != signer.keyid


def test_inventory_keeps_installed_debian_packages_only() -> None:
    python = 'noise\n{"python": "3.11.2", "dists": [{"name": "six", "version": "1.16.0"}]}\n'
    dpkg = "ii \tbash\t5.2\tamd64\nrc \told\t1\tamd64\nii \tlibc6\t2.36\tamd64\n"
    inv = sbom.parse(python, dpkg)
    assert inv.python == "3.11.2" and inv.dists[0]["name"] == "six"
    assert inv.debs == (("bash", "5.2", "amd64"), ("libc6", "2.36", "amd64"))
    assert sbom.parse("{}", "").dists == ()  # an image without python3


def test_sbom_document_is_cyclonedx_about_the_image_digest() -> None:
    dist = {
        "name": "Demo_Pkg", "version": "1.0", "license_expression": "MIT",
        "record_sha256": "c" * 64, "record_files": 3, "archive_hashes": {"sha256": "d" * 64},
    }  # fmt: skip
    inv = sbom.Inventory("3.11.2", (dist,), (("bash", "5.2", "amd64"),))
    doc = json.loads(sbom.document(inv, "reg/app", "sha256:" + "e" * 64, "linux/amd64"))
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    assert doc["metadata"]["component"]["version"] == "sha256:" + "e" * 64
    py, deb = (c for c in doc["components"] if c["name"] in ("Demo_Pkg", "bash"))
    assert py["purl"] == "pkg:pypi/demo-pkg@1.0" and py["licenses"][0]["license"]["id"] == "MIT"
    assert py["hashes"] == [{"alg": "SHA-256", "content": "d" * 64}]
    assert {"name": "helpers:record-sha256", "value": "c" * 64} in py["properties"]
    assert deb["purl"] == "pkg:deb/debian/bash@5.2?arch=amd64"
    assert sbom.counts(doc) == (1, 1)


def test_secret_looking_build_args_keep_only_their_name() -> None:
    shown = provenance.public_args({"API_TOKEN": "x1", "DB_PASSWORD": "x2", "BASE_IMAGE": "b"})
    assert shown == {"API_TOKEN": "<redacted>", "BASE_IMAGE": "b", "DB_PASSWORD": "<redacted>"}


def test_config_keys_for_signed_releases(tmp_path: Path) -> None:
    write(
        tmp_path / "repo_config.yaml", "signing_key: k\nverify_key: k.pub\nrequire_signed: true\n"
    )
    cfg = config.load(tmp_path, ".", env={})
    assert (cfg.signing_key, cfg.verify_key, cfg.require_signed) == ("k", "k.pub", True)
    write(tmp_path / "repo_config.yaml", "require_signed: yes please\n")
    with pytest.raises(UserError, match="'require_signed' must be true or false"):
        config.load(tmp_path, ".", env={})


def test_attached_tags_follow_cosign() -> None:
    assert attest.attached("sha256:ab12", attest.ATT) == "sha256-ab12.att"
    assert attest.attached("sha256:ab12", attest.SBOM) == "sha256-ab12.sbom"


def test_require_signed_refuses_a_release_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.ops.release import signing

    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    assert signing.key_for(_target(tmp_path / "a")) is None  # unsigned, said once
    with pytest.raises(UserError, match="require_signed is true but no signing key"):
        signing.key_for(_target(tmp_path / "b", "require_signed: true\n"))
