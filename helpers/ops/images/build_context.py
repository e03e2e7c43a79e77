"""The build context of a runnable dir and the hash of everything a build reads.

The context is the runnable dir filtered by its `.dockerignore`, never the whole
repo. Some paths never enter an image, whatever `.dockerignore` says: `.git`,
env files (`.env`, `.env.*`, `.envrc` and the configured `env_file`), the
`.helpers/` state dir, the test and bytecode caches runs write through the
mount, and the dirs the caller skips (nested runnable dirs and submodules: they
have images of their own). Files the tools inject (extra CA
certificates, the install helper) live under `.helpers/` in the context, and so
do the files of the in-repo units the dir depends on (`extra`, see `depunits`).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Optional

from helpers.effects import digestcache
from helpers.errors import UserError
from helpers.model import dockerignore
from helpers.ops.images import dockerfile

if TYPE_CHECKING:
    import tarfile

IGNORE_FILE = ".dockerignore"
NEVER_SENT = tuple(
    f"{where}{name}"
    for name in (".git", ".env", ".env.*", ".envrc", "__pycache__", ".pytest_cache")
    for where in ("", "**/")
)


INJECTED_DIR = dockerfile.INJECTED_DIR


@dataclass(frozen=True)
class Context:
    root: Path
    files: tuple[str, ...]
    dockerfile: str
    injected: Mapping[str, bytes] = field(default_factory=dict)
    extra: Mapping[str, Path] = field(default_factory=dict)  # context path -> host file


def _patterns(root: Path, secrets: Sequence[str]) -> tuple[dockerignore.Pattern, ...]:
    path = root / IGNORE_FILE
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({exc}); fix or remove the file") from None
    # Appended last so that no `!pattern` in the user's file can re-include them.
    forced = "\n".join(["/" + s for s in (*NEVER_SENT, *secrets, INJECTED_DIR)])
    return dockerignore.parse(f"{text}\n{forced}")


def collect(
    root: Path,
    dockerfile: str,
    injected: Mapping[str, bytes] | None = None,
    skip_dir: Callable[[Path], bool] = lambda _: False,
    secrets: Sequence[str] = (),
) -> Context:
    """Files of the context under `root`; dirs for which `skip_dir` is true are left out.

    `secrets` are more context-relative paths that must never be sent (the env file).
    """
    patterns = _patterns(root, secrets)
    combined = dockerignore.any_of(patterns)
    files: list[str] = []
    # Per dir, which patterns match it or an ancestor: a file then costs one match per pattern.
    hits: dict[str, tuple[bool, ...]] = {"": (False,) * len(patterns)}
    for current, dirs, names in os.walk(root):
        rel_dir = os.path.relpath(current, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        here = hits.pop(prefix.rstrip("/"))
        dirs[:] = sorted(
            d
            for d in dirs
            if not dockerignore.may_prune(patterns, prefix + d) and not skip_dir(Path(current, d))
        )
        for d in dirs:
            hits[prefix + d] = dockerignore.dir_hits(patterns, here, prefix + d)
        for name in names:
            rel = prefix + name
            if not dockerignore.excluded_in(patterns, here, rel, combined):
                files.append(rel)
    for always in (dockerfile, IGNORE_FILE):
        if always not in files and (root / always).is_file():
            files.append(always)
    return Context(root, tuple(sorted(files)), dockerfile, dict(injected or {}))


def host_path(ctx: Context, rel: str) -> Path:
    """Where a context path's file is on the host (the dir's own, or an `extra` one)."""
    return ctx.extra[rel] if rel in ctx.extra else ctx.root / rel


def file_digests(
    ctx: Context,
    rels: Optional[Sequence[str]] = None,
    cache: Optional[digestcache.DigestCache] = None,
) -> dict[str, str]:
    """The digest of each context file (`rels`: only those), by context path; the read
    step of a plan. With `cache`: a stat per unchanged file, no read."""
    file_digest = cache.digest if cache is not None else digestcache.compute
    wanted = [*ctx.files, *ctx.extra] if rels is None else rels
    return {rel: file_digest(host_path(ctx, rel)) for rel in wanted}


def inputs_hash(ctx: Context, settings: Mapping[str, str], digests: Mapping[str, str]) -> str:
    """sha256 over the context's files, injected files and build settings (args, base id...).

    Computed only: `digests` holds every file's digest (`file_digests`), read beforehand.
    """
    digest = hashlib.sha256()
    for rel in ctx.files:
        digest.update(f"F {rel}\0{digests[rel]}\n".encode())
    for rel, data in sorted(ctx.injected.items()):
        digest.update(f"I {rel}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    for rel in sorted(ctx.extra):
        digest.update(f"E {rel}\0{digests[rel]}\n".encode())
    for key, value in sorted(settings.items()):
        digest.update(f"S {key}\0{value}\n".encode())
    return digest.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import tarfile

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def write_tar(ctx: Context) -> IO[bytes]:
    """The context as an uncompressed tar in a temp file, rewound, for `docker build -`.

    The docker CLI decides whether stdin is a tar from its first 512 bytes, so the
    first member must be a plain header: GNU format, short injected names first.
    (tarfile and tempfile load here: the stale check that every run does writes no tar.)
    """
    import tarfile
    import tempfile

    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for rel, data in sorted(ctx.injected.items()):
            _add_bytes(tar, rel, data)
        members = [(rel, ctx.root / rel) for rel in ctx.files]
        for rel, path in [*members, *sorted(ctx.extra.items())]:
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    out.seek(0)
    return out
