"""Stale local images: what an image installs changed since it was built.

A local image records, in its `io.helpers.install-inputs` label, a short digest
of each input that decides what it installs (its *install inputs*):

  - the Dockerfile;
  - the id of the base image (BASE_IMAGE) and each build arg of repo_config.yaml;
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
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Optional

from helpers.effects import digestcache
from helpers.model import project
from helpers.ops.images import build_context, depunits

LABEL = "io.helpers.install-inputs"
SHORT = 12
BASE = "base image"
ARG = "build arg "


def _instructions(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        out.append(current + stripped)
        current = ""
    if current:
        out.append(current)
    return out


def _shadowed(dest: str, workdir: str) -> bool:
    """Whether a COPY destination lies under the mount point, hidden at run time."""
    where = posixpath.normpath(posixpath.join(workdir, dest))
    return where == project.MOUNT or where.startswith(project.MOUNT + "/")


def copied_sources(dockerfile: str) -> list[str]:
    """The context sources of COPY/ADD that stay visible at run time: not `--from` ones,
    URLs or ones with variables, and not those copied under the mount point (/app)."""
    found = []
    workdir = "/"
    for line in _instructions(dockerfile):
        word, _, rest = line.partition(" ")
        if word.upper() == "WORKDIR" and "$" not in rest:
            workdir = posixpath.join(workdir, rest.strip())
            continue
        if word.upper() not in ("COPY", "ADD"):
            continue
        rest = rest.strip()
        tokens = rest.split()
        flags = [t for t in tokens if t.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue
        args = [t for t in tokens if not t.startswith("--")]
        if args and args[0].startswith("["):
            try:
                parsed = json.loads(" ".join(args))
                args = [a for a in parsed if isinstance(a, str)]
            except ValueError:
                continue
        if len(args) < 2 or _shadowed(args[-1], workdir):
            continue
        for src in args[:-1]:
            if "$" in src or "://" in src:
                continue
            found.append(re.sub(r"^(\./|/)+", "", src))
    return found


def _counted_copies(dockerfile: str, files: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for src in copied_sources(dockerfile):
        clean = src.rstrip("/")
        if clean in ("", "."):
            continue
        if any(f.startswith(clean + "/") for f in files):
            continue  # a dir: its code is shadowed by the mount
        out.update(f for f in files if f == clean or fnmatch.fnmatchcase(f, clean))
    return out


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:SHORT]


def install_inputs(
    ctx: build_context.Context,
    args: Mapping[str, str],
    base_id: str,
    cache: Optional[digestcache.DigestCache] = None,
) -> dict[str, str]:
    """Name -> short digest of every install input (see the module doc)."""
    digest = cache.digest if cache is not None else digestcache.compute
    out = {BASE: _short(base_id)}
    out.update({f"{ARG}{k}": _short(v) for k, v in args.items() if k != "BASE_IMAGE"})
    try:
        dockerfile = (ctx.root / ctx.dockerfile).read_text(encoding="utf-8", errors="replace")
    except OSError:
        dockerfile = ""
    counted = _counted_copies(dockerfile, ctx.files)
    for rel in ctx.files:
        if rel == ctx.dockerfile or depunits.is_manifest(rel) or rel in counted:
            out[rel] = digest(os.path.join(ctx.root, rel))[:SHORT]
    for rel, data in ctx.injected.items():
        if rel != depunits.UNITS_KEEP:  # a placeholder, never a change
            out[rel] = hashlib.sha256(data).hexdigest()[:SHORT]
    for rel, path in ctx.extra.items():
        if depunits.is_manifest(rel):
            out[rel] = digest(path)[:SHORT]
    return out


def encode(inputs: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(inputs.items())), separators=(",", ":"))


def decode(label: Optional[str]) -> Optional[dict[str, str]]:
    try:
        data = json.loads(label) if label else None
    except ValueError:
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None
