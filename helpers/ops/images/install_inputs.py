"""Stale local images: what an image installs changed since it was built.

A local image records, in its `io.helpers.install-inputs` label, a short digest
of each input that decides what it installs (its *install inputs*):

  - the Dockerfile;
  - the id of the base image (the image the final FROM names, with BASE_IMAGE and
    the other build args substituted: `dockerfile.base_image`) and each build arg
    of repo_config.yaml;
  - the injected `.helpers/` files: CA bundle, install helper, the list of
    dependency units and the third-party requirements it installs;
  - every dependency manifest or lock in the context (`depunits.MANIFESTS`:
    pyproject.toml, setup.py, setup.cfg, requirements*.txt/.in,
    constraints*.txt, uv.lock, poetry.lock, pdm.lock, Pipfile[.lock]), at any
    depth, the dir's own and its dependency units' copies alike;
  - every other context file that a COPY/ADD of the Dockerfile names as a file
    or a glob (`COPY devops/entrypoint.sh /usr/local/bin/`), unless it is copied
    under the mount point (/app, WORKDIR followed), where the mount hides it. A
    source that is `.` or a dir does not make its files count: code reaches the
    container through the mount at /app.

Everything else (code, tests, docs, a dependency unit's code) is not an install
input: editing it never makes the image stale, though `docker_build_local_image`
still rebuilds for it (its inputs hash covers the whole context). A build arg
given only on the command line (`--build-arg`) is not second-guessed.
Only local images are checked: dev/prod images are release artifacts.

Computed only, from what `source.read` read once (the Dockerfile's text, the digests
of the selected files): the build and the stale check share this one definition.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Optional

from helpers.ops.images import build_context, depunits, dockerfile

LABEL = "io.helpers.install-inputs"
SHORT = 12
BASE = "base image"
ARG = "build arg "


def _counted_copies(dockerfile_text: str, files: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for src in dockerfile.copied_sources(dockerfile_text):
        clean = src.rstrip("/")
        if clean in ("", "."):
            continue
        if any(f.startswith(clean + "/") for f in files):
            continue  # a dir: its code is shadowed by the mount
        out.update(f for f in files if f == clean or fnmatch.fnmatchcase(f, clean))
    return out


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:SHORT]


def selected(ctx: build_context.Context, dockerfile_text: str) -> list[str]:
    """The context paths whose content is an install input (see the module doc)."""
    counted = _counted_copies(dockerfile_text, ctx.files)
    own = [r for r in ctx.files if r == ctx.dockerfile or depunits.is_manifest(r) or r in counted]
    return own + [r for r in ctx.extra if depunits.is_manifest(r)]


def install_inputs(
    ctx: build_context.Context,
    args: Mapping[str, str],
    base_id: str,
    dockerfile_text: str,
    digests: Mapping[str, str],
) -> dict[str, str]:
    """Name -> short digest of every install input (see the module doc); computed only:
    `digests` holds each selected file's digest (by context path), read beforehand."""
    out = {BASE: _short(base_id)}
    out.update({f"{ARG}{k}": _short(v) for k, v in args.items() if k != "BASE_IMAGE"})
    for rel in selected(ctx, dockerfile_text):
        out[rel] = digests[rel][:SHORT]
    for rel, data in ctx.injected.items():
        if rel != depunits.UNITS_KEEP:  # a placeholder, never a change
            out[rel] = hashlib.sha256(data).hexdigest()[:SHORT]
    return out


def encode(inputs: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(inputs.items())), separators=(",", ":"))


def decode(label: Optional[str]) -> Optional[dict[str, str]]:
    try:
        data = json.loads(label) if label else None
    except ValueError:
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None
