"""Releases you can verify (issue 20), on the real engine and the real local registry.

What is in the registry is read back with raw HTTP, the signature is also checked by an
independent path (`openssl dgst -sha256 -verify` over the DSSE pre-authentication
encoding), tampering is done by hand the way an attacker with push rights would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, write
from tests.integration.conftest import Client, ClientFactory, base_image, one_line_error
from tests.integration.test_chores import registry  # noqa: F401 - the registry fixture
from tests.integration.test_release import (
    BAKED_TEST,
    REG,
    delete_repo,
    digest,
    docker,
    manifest,
)

pytestmark = pytest.mark.integration

PROVENANCE = "https://slsa.dev/provenance/v1"
CYCLONEDX = "https://cyclonedx.org/bom"
SECRET = "s3cr3t-build-arg-value"


def blob(repo: str, dig: str) -> bytes:
    with urllib.request.urlopen(f"http://{REG}/v2/{repo}/blobs/{dig}", timeout=10) as resp:
        return resp.read()  # type: ignore[no-any-return]


def put(repo: str, path: str, body: bytes, content_type: str, method: str = "PUT") -> str:
    request = urllib.request.Request(
        f"http://{REG}/v2/{repo}/{path}", data=body, method=method,
        headers={"Content-Type": content_type},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.headers.get("Location") or resp.headers.get("Docker-Content-Digest") or ""


def push_blob(repo: str, data: bytes) -> str:
    """A monolithic blob upload with plain HTTP, as any registry client could do."""
    dig = "sha256:" + hashlib.sha256(data).hexdigest()
    location = put(repo, "blobs/uploads/", b"", "application/octet-stream", method="POST")
    sep = "&" if "?" in location else "?"
    request = urllib.request.Request(
        f"{location}{sep}digest={dig}" if location.startswith("http")
        else f"http://{REG}{location}{sep}digest={dig}",
        data=data, method="PUT", headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=10).close()
    return dig


def att_tag(dig: str) -> str:
    return dig.replace(":", "-") + ".att"


def attestations(repo: str, dig: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The .att manifest of an image digest and its envelopes by predicate type."""
    found = manifest(repo, att_tag(dig))
    assert found is not None, f"no {att_tag(dig)}"
    layers = found[1]["layers"]
    assert all(layer["mediaType"] == "application/vnd.dsse.envelope.v1+json" for layer in layers)
    return found[1], {
        layer["annotations"]["predicateType"]: blob(repo, layer["digest"]) for layer in layers
    }


def replace_layer(repo: str, dig: str, predicate: str, envelope: bytes, keyid: str = "") -> None:
    """Put `envelope` in place of the `predicate` layer of the image's .att (raw HTTP)."""
    data, _ = attestations(repo, dig)
    for layer in data["layers"]:
        if layer["annotations"]["predicateType"] == predicate:
            layer["digest"] = push_blob(repo, envelope)
            layer["size"] = len(envelope)
            if keyid:
                layer["annotations"]["io.helpers.signer-keyid"] = keyid
    body = json.dumps(data).encode()
    put(repo, f"manifests/{att_tag(dig)}", body, "application/vnd.oci.image.manifest.v1+json")


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def openssl_verifies(tmp: Path, pub: Path, envelope: bytes) -> subprocess.CompletedProcess[str]:
    """Check the DSSE signature with openssl alone: no helpers, no cryptography package."""
    env = json.loads(envelope)
    payload = base64.b64decode(env["payload"])
    (tmp / "pae.bin").write_bytes(pae(env["payloadType"], payload))
    (tmp / "sig.der").write_bytes(base64.b64decode(env["signatures"][0]["sig"]))
    return subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature",
         str(tmp / "sig.der"), str(tmp / "pae.bin")],
        capture_output=True, text=True,
    )  # fmt: skip


def statement(envelope: bytes) -> dict[str, Any]:
    return json.loads(base64.b64decode(json.loads(envelope)["payload"]))  # type: ignore[no-any-return]


def failed(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 1 with one line: what failed verification."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture()
def signed(client_factory: ClientFactory, registry: str, tmp_path: Path) -> Any:  # noqa: F811
    """A root runnable dir with a baked test, signing with a key kept outside the repo."""
    client = client_factory(
        ".",
        files={
            "tests/test_baked.py": BAKED_TEST,
            "src/calc/__init__.py": "def add(a, b):\n    return a + b\n",
            "conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n',
            ".dockerignore": "*\n!devops/\n",
        },
    )
    made = client.invoke("generate_signing_key", "--path", str(tmp_path / "release.key"))
    assert made.returncode == 0, made.stderr
    key = tmp_path / "release.key"
    write(
        client.root / "repo_config.yaml",
        f"registry: {REG}\nplatforms: [linux/amd64]\nsigning_key: {key}\n"
        f"build_args: {{API_TOKEN: {SECRET}}}\n",
    )
    client.commit("sign releases")
    yield client, key
    delete_repo(client.name)


def test_generated_key_pair_is_private_and_refuses_to_overwrite(
    signed: tuple[Client, Path],
) -> None:
    client, key = signed
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.with_name("release.key.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = one_line_error(client.invoke("generate_signing_key", "--path", str(key)))
    assert "exists: a signing key is never overwritten" in again


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_signed_prod_release_verifies_and_every_tampering_is_exit_1(
    signed: tuple[Client, Path], tmp_path: Path
) -> None:
    client, key = signed
    pub, repo = key.with_name("release.key.pub"), client.name
    dev = client.invoke("docker_release_dev_image", "--skip-tests")
    assert dev.returncode == 0, dev.stderr
    prod = client.invoke("docker_release_prod_image")
    assert prod.returncode == 0, prod.stderr
    assert "attested " in prod.stderr and "signed by key" in prod.stderr

    ok = client.invoke("verify_image", "--stage", "prod")
    assert ok.returncode == 0, ok.stderr
    head = git(client.root, "rev-parse", "HEAD").strip()
    assert f"commit {head[:12]} (clean)" in ok.stdout
    assert "tests passed (fast,slow on linux/amd64)" in ok.stdout
    prod_digest = digest(repo, "prod-0.1.0")
    dev_digest = digest(repo, "dev-0.1.0")
    assert prod_digest and dev_digest and prod_digest[:19] in ok.stdout
    assert f"base {REG}/{repo}:dev-0.1.0@{dev_digest[:19]}" in ok.stdout  # prod's base: dev

    # an independent check of the signature, and what the statement says
    _, envelopes = attestations(repo, prod_digest)
    assert set(envelopes) == {PROVENANCE, CYCLONEDX}
    checked = openssl_verifies(tmp_path, pub, envelopes[PROVENANCE])
    assert checked.returncode == 0 and "Verified OK" in checked.stdout, checked.stderr
    said = statement(envelopes[PROVENANCE])
    assert said["subject"][0]["digest"]["sha256"] == prod_digest.removeprefix("sha256:")
    definition = said["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["source"]["digest"]["gitCommit"] == head
    assert definition["internalParameters"]["dirty"] is False
    assert definition["internalParameters"]["tests"]["result"] == "passed"
    assert SECRET not in envelopes[PROVENANCE].decode() + base64.b64decode(
        json.loads(envelopes[PROVENANCE])["payload"]).decode()  # fmt: skip
    assert said["predicate"]["runDetails"]["builder"]["version"]["builder"] in ("classic", "buildx")

    # a statement edited by one byte: the signature no longer matches
    original = envelopes[PROVENANCE]
    env = json.loads(original)
    payload = base64.b64decode(env["payload"])
    at = payload.index(head.encode())
    edited = payload[:at] + (b"0" if payload[at : at + 1] != b"0" else b"1") + payload[at + 1 :]
    env["payload"] = base64.b64encode(edited).decode()
    replace_layer(repo, prod_digest, PROVENANCE, json.dumps(env).encode())
    assert "bad signature: " in failed(client.invoke("verify_image", "--stage", "prod"))

    # the same statement re-signed with another key: wrong key
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())
    sig = other.sign(pae(env["payloadType"], payload), ec.ECDSA(hashes.SHA256()))
    env.update(payload=base64.b64encode(payload).decode(),
               signatures=[{"keyid": "", "sig": base64.b64encode(sig).decode()}])  # fmt: skip
    der = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other_id = hashlib.sha256(der).hexdigest()
    replace_layer(repo, prod_digest, PROVENANCE, json.dumps(env).encode(), other_id)
    wrong = failed(client.invoke("verify_image", "--stage", "prod"))
    assert "wrong key: " in wrong and other_id[:16] in wrong

    # a valid attestation of another image copied onto this one: subject mismatch
    _, dev_envelopes = attestations(repo, dev_digest)
    replace_layer(repo, prod_digest, PROVENANCE, dev_envelopes[PROVENANCE])
    assert "subject mismatch: " in failed(client.invoke("verify_image", "--stage", "prod"))
    replace_layer(repo, prod_digest, PROVENANCE, original)
    assert client.invoke("verify_image", "--stage", "prod").returncode == 0

    # the moving tag swapped to an image nobody signed
    unsigned = f"{REG}/{repo}:prod"
    assert docker("tag", base_image(), unsigned).returncode == 0
    assert docker("push", unsigned).returncode == 0
    assert "unsigned: " in failed(client.invoke("verify_image", "--stage", "prod"))
    assert client.invoke("verify_image", "--stage", "prod", "--version", "0.1.0").returncode == 0

    # require_signed: a pull verifies first, and so does a promotion from dev
    write(client.root / "repo_config.yaml",
          (client.root / "repo_config.yaml").read_text() + "require_signed: true\n")  # fmt: skip
    client.commit("require signed images")
    assert "unsigned: " in failed(client.invoke("docker_pull", "--stage", "prod"))
    back = client.invoke("docker_rollback_prod_image", "--version", "0.1.0")
    assert back.returncode == 0, back.stderr
    pulled = client.invoke("docker_pull", "--stage", "prod")  # rollback stays verifiable
    assert pulled.returncode == 0, pulled.stderr
    assert "require_signed: " in pulled.stderr and "verified" in pulled.stderr
    # a promotion builds FROM the dev digest it verified, and its provenance says so
    trial = client.invoke("docker_release_prod_image", "--candidate", "--skip-tests")
    assert trial.returncode == 0, trial.stderr
    assert f"DEV_IMAGE={REG}/{repo}@{dev_digest}" in trial.stderr
    short = git(client.root, "rev-parse", "HEAD").strip()[:7]
    cand = digest(repo, f"prod-{short}")
    assert cand is not None
    deps = statement(attestations(repo, cand)[1][PROVENANCE])["predicate"]["buildDefinition"]
    base = next(d for d in deps["resolvedDependencies"] if d["name"] == "base image")
    assert base["uri"] == f"docker-image://{REG}/{repo}@{dev_digest}"
    assert base["digest"]["sha256"] == dev_digest.removeprefix("sha256:")
    assert docker("tag", base_image(), f"{REG}/{repo}:dev-0.1.0").returncode == 0
    assert docker("push", f"{REG}/{repo}:dev-0.1.0").returncode == 0
    assert "unsigned: " in failed(client.invoke("docker_release_prod_image", "--skip-tests"))


def test_sbom_lists_every_pip_and_dpkg_package_of_the_image(signed: tuple[Client, Path]) -> None:
    client, _ = signed
    repo = client.name
    done = client.invoke("docker_release_dev_image", "--skip-tests")
    assert done.returncode == 0, done.stderr
    dig = digest(repo, "dev-0.1.0")
    assert dig is not None
    found = manifest(repo, dig.replace(":", "-") + ".sbom")
    assert found is not None
    layer = found[1]["layers"][0]
    assert layer["mediaType"] == "application/vnd.cyclonedx+json"
    doc = json.loads(blob(repo, layer["digest"]))
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] in ("1.5", "1.6")
    assert doc["metadata"]["component"]["version"] == dig
    image = f"{REG}/{repo}@{dig}"
    pip = docker("run", "--rm", "--entrypoint", "python3", image, "-m", "pip", "list",
                 "--format", "json")  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    listed = {_norm(d["name"]): d["version"] for d in json.loads(pip.stdout)}
    dpkg = docker("run", "--rm", "--entrypoint", "dpkg", image, "-l")
    installed = {line.split()[1].split(":")[0] for line in dpkg.stdout.splitlines()
                 if line.startswith("ii ")}  # fmt: skip
    python = {_norm(c["name"]): c["version"] for c in doc["components"]
              if c["purl"].startswith("pkg:pypi/")}  # fmt: skip
    debian = {c["name"] for c in doc["components"] if c["purl"].startswith("pkg:deb/")}
    assert len(python) == len(listed) and python == listed
    assert len(debian) == len(installed) and debian == installed
    with_licence = [c for c in doc["components"] if c["purl"].startswith("pkg:pypi/")
                    and c.get("licenses")]  # fmt: skip
    assert with_licence, "no Python distribution carries a licence"
    recorded = [c for c in doc["components"] if any(
        p["name"] == "helpers:record-sha256" for p in c.get("properties", []))]  # fmt: skip
    assert recorded, "no RECORD digest"


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_multiarch_signed_release_is_verified_on_every_platform(
    client_factory: ClientFactory,
    registry: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    arm_base = base_image() + "-arm64"
    if docker("image", "inspect", arm_base).returncode != 0:
        message = f"no {arm_base}: run dev_scripts/engine/bootstrap.sh --base --arch arm64"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    client = client_factory(
        ".", files={".dockerignore": "*\n!devops/\n", "repo_config.yaml": f"registry: {REG}\n"}
    )
    key = tmp_path / "k"
    assert client.invoke("generate_signing_key", "--path", str(key)).returncode == 0
    try:
        env = {"HELPERS_SIGNING_KEY": key.read_text()}  # as CI passes it: never on argv
        done = client.invoke("docker_release_dev_image", "--skip-tests", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stderr.count("attested ") == 2
        verified = client.invoke("verify_image", "--stage", "dev", "--key",
                                 str(key.with_name("k.pub")))  # fmt: skip
        assert verified.returncode == 0, verified.stderr
        lines = verified.stdout.strip().splitlines()
        assert [line.split()[2] for line in lines] == ["linux/amd64", "linux/arm64"]
        found = manifest(client.name, "dev-0.1.0")
        assert found is not None
        arm = next(m["digest"] for m in found[1]["manifests"]
                   if m["platform"]["architecture"] == "arm64")  # fmt: skip
        sbom = manifest(client.name, arm.replace(":", "-") + ".sbom")
        assert sbom is not None
        doc = json.loads(blob(client.name, sbom[1]["layers"][0]["digest"]))
        archs = {c["purl"].rsplit("arch=", 1)[-1] for c in doc["components"]
                 if c["purl"].startswith("pkg:deb/")}  # fmt: skip
        assert archs <= {"arm64", "all"} and "arm64" in archs  # read inside the arm64 image
    finally:
        delete_repo(client.name)
