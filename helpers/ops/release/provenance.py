"""SLSA v1 provenance of a released platform image: where it came from, how it was built.

The predicate (https://slsa.dev/provenance/v1) says: the source repo and commit, dirty
or not; the Dockerfile and its digest; the build args (values of secret-looking names
never: only their names); the base image and its digest; the inputs hash; the tests
that ran on this platform and their result; the builder (helpers' version and commit,
the engine's version, classic or buildx); when the release started and ended.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import __version__
from helpers.effects import commands, engine
from helpers.model import project

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:helpers:release:docker:v1"  # a URI; no web page claimed
SECRET_NAME = re.compile(r"(secret|token|passw|pwd|key|credential|auth)", re.IGNORECASE)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Builder:
    """Who built: helpers (version and checkout commit), the engine, the builder kind."""

    helpers_version: str
    helpers_commit: str
    engine_version: str
    kind: str  # classic | buildx


def builder(runner: commands.Runner = commands.run) -> Builder:
    here = Path(__file__).resolve().parents[3]
    commit = runner(("git", "-C", str(here), "rev-parse", "HEAD"))
    st = engine.status(runner)
    kind = "buildx" if engine.has_buildx(runner) else "classic"
    return Builder(__version__, commit.out.strip() if commit.ok else "", st.server_version, kind)


def source_uri(target: project.Target, runner: commands.Runner = commands.run) -> str:
    """The repo as others can name it: its `origin` remote, else its path here."""
    found = runner(("git", "-C", str(target.root), "remote", "get-url", "origin"))
    url = found.out.strip() if found.ok else ""
    return url if url else f"file://{target.root}"


@dataclass(frozen=True)
class Facts:
    """What one release knows about how its images were made (the same for every platform
    but the base, the inputs hash and the tests)."""

    target: project.Target
    source: str
    revision: str  # ends in -dirty for a dirty tree
    stage: str
    tag: str
    dockerfile: str
    dockerfile_digest: str
    build_args: Mapping[str, str]
    lists: tuple[str, ...]
    started: str


@dataclass(frozen=True)
class PlatformFacts:
    platform: str
    inputs_hash: str
    base: str
    base_digest: str
    tests: str  # passed | not-run | skipped
    tested_on: tuple[str, ...]


def public_args(args: Mapping[str, str]) -> dict[str, str]:
    """Build args as the statement shows them: a secret-looking name keeps only its name."""
    return {k: ("<redacted>" if SECRET_NAME.search(k) else v) for k, v in sorted(args.items())}


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def predicate(f: Facts, p: PlatformFacts, by: Builder, finished: str) -> dict[str, Any]:
    commit = f.revision.removesuffix("-dirty")
    base: dict[str, Any] = {"uri": f"docker-image://{p.base}", "name": "base image"}
    if p.base_digest:
        base["digest"] = {"sha256": p.base_digest.removeprefix("sha256:")}
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "source": {"uri": f.source, "digest": {"gitCommit": commit}},
                "dir": f.target.rel_dir,
                "stage": f.stage,
                "tag": f.tag,
                "platform": p.platform,
                "dockerfile": {"path": f.dockerfile, "digest": {"sha256": f.dockerfile_digest}},
                "buildArgs": public_args(f.build_args),
            },
            "internalParameters": {
                "dirty": f.revision.endswith("-dirty"),
                "inputsHash": p.inputs_hash,
                "tests": {"result": p.tests, "lists": list(f.lists), "ranOn": list(p.tested_on)},
            },
            "resolvedDependencies": [
                {"uri": f"git+{f.source}", "digest": {"gitCommit": commit}, "name": "source"},
                base,
            ],
        },
        "runDetails": {
            "builder": {
                "id": f"urn:helpers:{by.helpers_version}:{by.kind}",
                "version": {
                    "helpers": by.helpers_version,
                    "helpersCommit": by.helpers_commit,
                    "engine": by.engine_version,
                    "builder": by.kind,
                },
            },
            "metadata": {"startedOn": f.started, "finishedOn": finished},
        },
    }


def summary(pred: Mapping[str, Any]) -> dict[str, str]:
    """What verify_image prints of a predicate: commit, dirty, tests, base."""
    definition = pred.get("buildDefinition") or {}
    ext = definition.get("externalParameters") or {}
    internal = definition.get("internalParameters") or {}
    tests = internal.get("tests") or {}
    deps: Sequence[Mapping[str, Any]] = definition.get("resolvedDependencies") or ()
    base = next((d for d in deps if d.get("name") == "base image"), {})
    base_digest = (base.get("digest") or {}).get("sha256", "")
    return {
        "commit": str(((ext.get("source") or {}).get("digest") or {}).get("gitCommit", "")),
        "dirty": "dirty" if internal.get("dirty") else "clean",
        "tests": str(tests.get("result", "?")),
        "lists": ",".join(tests.get("lists") or ()),
        "ran_on": ",".join(tests.get("ranOn") or ()) or "none",
        "base": str(base.get("uri", "?")).removeprefix("docker-image://"),
        "base_digest": base_digest,
    }
