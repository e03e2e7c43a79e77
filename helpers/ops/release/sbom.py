"""The SBOM of a platform image: what is inside, read inside it, as CycloneDX 1.5 JSON.

One container per image (`--network none`, the entrypoint off; started in the
background as soon as the image exists, so it overlaps the tests and pushes): the image's own
`python3` lists its distributions with importlib.metadata (name, version, licence,
the digest of each RECORD and its file count, an archive hash where direct_url.json
has one), and `dpkg-query` lists the installed Debian packages. The document is built
with cyclonedx-python-lib (imported here only) and describes the image by its digest.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Optional

from helpers.effects import commands, engine
from helpers.errors import UserError

PREDICATE_TYPE = "https://cyclonedx.org/bom"
MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPLIT = "---helpers-sbom-dpkg---"

# Runs inside the image with its own interpreter; prints one JSON line.
PROBE = r"""
import hashlib, json, re, sys
try:
    from importlib import metadata
except ImportError:
    print(json.dumps({"python": sys.version.split()[0], "dists": None})); sys.exit(0)
seen, dists = set(), []
for d in metadata.distributions():
    m = d.metadata
    name = m.get("Name") or ""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if not name or key in seen:
        continue
    seen.add(key)
    record = d.read_text("RECORD")
    direct = d.read_text("direct_url.json")
    try:
        archive = (json.loads(direct).get("archive_info") or {}) if direct else {}
    except ValueError:
        archive = {}
    lic = (m.get("License") or "").strip()
    dists.append({
        "name": name,
        "version": m.get("Version") or "",
        "license_expression": m.get("License-Expression") or "",
        "license": lic.splitlines()[0][:200] if lic else "",
        "classifiers": [c for c in (m.get_all("Classifier") or []) if c.startswith("License ::")],
        "record_sha256": hashlib.sha256(record.encode()).hexdigest() if record else "",
        "record_files": sum(1 for line in (record or "").splitlines() if ",sha256=" in line),
        "archive_hashes": archive.get("hashes") or {},
    })
print(json.dumps({"python": sys.version.split()[0], "dists": dists}))
"""
SHELL = (
    "if command -v python3 >/dev/null 2>&1; then python3 -c \"$1\"; else echo '{}'; fi; "
    f"echo {SPLIT}; "
    "if command -v dpkg-query >/dev/null 2>&1; then "
    "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\n'; fi"
)


@dataclass(frozen=True)
class Inventory:
    """What one image holds: Python distributions and Debian packages."""

    python: str  # the interpreter's version, "" without one
    dists: tuple[Mapping[str, Any], ...]
    debs: tuple[tuple[str, str, str], ...]  # (package, version, architecture), installed only


def scan_argv(image: str, platform: str = "") -> tuple[str, ...]:
    """One throw-away container that prints the inventory (the probe is sh's $1)."""
    plat = ("--platform", platform) if platform else ()
    return (
        engine.DOCKER, "run", "--rm", "--network", "none", *plat, "--entrypoint", "sh",
        image, "-c", SHELL, "sh", PROBE,
    )  # fmt: skip


def _inventory(image: str, ok: bool, out: str, err: str) -> Inventory:
    if not ok or SPLIT not in out:
        detail = (err.strip().splitlines() or out.strip().splitlines()[-1:] or ["no output"])[0]
        raise UserError(f"reading what {image} holds (for its SBOM) failed: {detail}")
    head, _, tail = out.partition(SPLIT)
    return parse(head, tail)


def scan(image: str, platform: str = "", runner: commands.Runner = commands.run) -> Inventory:
    """Read the inventory inside `image` (a foreign platform's under qemu)."""
    result = runner(scan_argv(image, platform))
    return _inventory(image, result.ok, result.out, result.err)


@dataclass(frozen=True)
class Pending:
    """A scan started in the background (while the release tests or pushes)."""

    image: str
    proc: commands.Process[bytes]
    out: IO[bytes]

    def result(self) -> Inventory:
        code = self.proc.wait()
        self.out.seek(0)
        text = self.out.read().decode(errors="replace")
        self.out.close()
        return _inventory(self.image, code == 0, text, "")


def start(image: str, platform: str = "") -> Pending:
    fd, path = tempfile.mkstemp(prefix="helpers-sbom-")
    os.unlink(path)  # an anonymous file: gone with its last descriptor
    out = os.fdopen(fd, "w+b")
    return Pending(image, commands.start(scan_argv(image, platform), stdout=out), out)


def parse(python_out: str, dpkg_out: str) -> Inventory:
    lines = [line for line in python_out.splitlines() if line.strip().startswith("{")]
    data = json.loads(lines[-1]) if lines else {}
    debs = []
    for line in dpkg_out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0].startswith("ii"):
            debs.append((parts[1], parts[2], parts[3]))
    return Inventory(str(data.get("python") or ""), tuple(data.get("dists") or ()), tuple(debs))


def _licenses(dist: Mapping[str, Any]) -> list[Any]:
    from cyclonedx.contrib.license.factories import LicenseFactory

    factory = LicenseFactory()
    if dist.get("license_expression"):
        return [factory.make_from_string(str(dist["license_expression"]))]
    named = [str(c).rsplit(" :: ", 1)[-1] for c in dist.get("classifiers") or ()]
    if not named and dist.get("license"):
        named = [str(dist["license"])]
    return [factory.make_from_string(n) for n in dict.fromkeys(named) if n and n != "UNKNOWN"]


def _python_component(dist: Mapping[str, Any]) -> Any:
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    name, version = str(dist["name"]), str(dist["version"])
    purl = PackageURL("pypi", name=name.lower().replace("_", "-"), version=version or None)
    hashes = [
        HashType(alg=HashAlgorithm.SHA_256, content=str(v))
        for k, v in (dist.get("archive_hashes") or {}).items()
        if k == "sha256"
    ]
    props = [Property(name="helpers:source", value="python")]
    if dist.get("record_sha256"):
        props.append(Property(name="helpers:record-sha256", value=str(dist["record_sha256"])))
        props.append(Property(name="helpers:record-files", value=str(dist["record_files"])))
    return Component(
        name=name, version=version, type=ComponentType.LIBRARY, purl=purl,
        bom_ref=purl.to_string(), licenses=_licenses(dist), hashes=hashes, properties=props,
    )  # fmt: skip


def _deb_component(package: str, version: str, arch: str) -> Any:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    purl = PackageURL("deb", namespace="debian", name=package, version=version,
                      qualifiers={"arch": arch})  # fmt: skip
    props = [Property(name="helpers:source", value="dpkg")]
    return Component(name=package, version=version, type=ComponentType.LIBRARY, purl=purl,
                     bom_ref=purl.to_string(), properties=props)  # fmt: skip


def components(inv: Inventory) -> list[Any]:
    """The CycloneDX components of `inv` (what takes the time; no digest needed yet)."""
    parts = [_python_component(d) for d in inv.dists]
    return parts + [_deb_component(*deb) for deb in inv.debs]


def document(
    inv: Inventory, repo: str, digest: str, platform: str, parts: Optional[list[Any]] = None
) -> bytes:
    """The CycloneDX 1.5 JSON of `inv`, describing the image `repo@digest`."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot5
    from packageurl import PackageURL

    name = repo.rsplit("/", 1)[-1]
    image = Component(
        name=repo, version=digest, type=ComponentType.CONTAINER,
        purl=PackageURL("oci", name=name, version=digest,
                        qualifiers={"repository_url": repo, "platform": platform}),
        bom_ref=f"{repo}@{digest}",
        properties=[Property(name="helpers:python", value=inv.python or "none")],
    )  # fmt: skip
    bom = Bom()
    bom.metadata.component = image
    parts = components(inv) if parts is None else parts
    for part in parts:
        bom.components.add(part)
    bom.register_dependency(image, parts)
    with warnings.catch_warnings():  # the library warns about graphs it cannot know
        warnings.simplefilter("ignore")
        return JsonV1Dot5(bom).output_as_string(indent=None).encode()


def counts(doc: Mapping[str, Any]) -> tuple[int, int]:
    """(Python distributions, Debian packages) an SBOM document lists."""
    python = deb = 0
    for comp in doc.get("components") or ():
        purl = str(comp.get("purl", ""))
        python += purl.startswith("pkg:pypi/")
        deb += purl.startswith("pkg:deb/")
    return python, deb


def names(doc: Mapping[str, Any], kind: str) -> Sequence[Optional[str]]:
    """The names of the components whose purl starts with `kind` (`pkg:pypi/`, `pkg:deb/`)."""
    listed = doc.get("components") or ()
    return [c.get("name") for c in listed if str(c.get("purl", "")).startswith(kind)]
