"""Image names, tags and OCI labels: pure functions over config and versions.

<registry>/<image_name>:<tag>
local-<user>-X.Y.Z | dev-X.Y.Z, dev | prod-X.Y.Z, prod
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from typing import Optional

from helpers.errors import UserError
from helpers.model.config import Config

STAGES = ("local", "dev", "prod")
LABEL_VERSION = "org.opencontainers.image.version"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_INPUTS = "io.helpers.inputs-hash"
LABEL_MANAGED = "io.helpers.managed"
LABEL_DIR = "io.helpers.dir"
LABEL_REPO = "io.helpers.repo"
LABEL_STAGE = "io.helpers.stage"
LABEL_TESTS = "io.helpers.tests"  # passed | skipped (--skip-tests) | not-run


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise UserError(f"--stage {stage!r} is not one of {', '.join(STAGES)}")
    return stage


_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def check_version(version: str, flag: str = "--version") -> str:
    """A version as changelogs and image tags spell it: X.Y.Z."""
    if not _VERSION.match(version):
        raise UserError(
            f"{flag} {version!r} is not a version like 1.2.3; omit it to use the changelog's"
        )
    return version


def user_name(env: Optional[Mapping[str, str]] = None) -> str:
    """The user part of local tags: $USER (or the login name), tag-safe."""
    env = os.environ if env is None else env
    raw = env.get("USER") or env.get("LOGNAME") or _login_name()
    return re.sub(r"[^a-z0-9_.-]+", "-", raw.lower()).strip(".-") or "user"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (e.g. inside a container)
        return f"uid{os.getuid()}"


def repository(cfg: Config, registry: Optional[str] = None) -> str:
    """`<registry>/<image_name>`; `registry` picks one of the configured `registries`."""
    where = registry or cfg.registry
    return f"{where.rstrip('/')}/{cfg.image_name}" if where else cfg.image_name


def repositories(cfg: Config) -> tuple[str, ...]:
    """One repository per configured registry, the main one first."""
    ordered = dict.fromkeys([cfg.registry, *cfg.registries] if cfg.registry else [])
    return tuple(repository(cfg, r) for r in ordered if r)


def tag(stage: str, version: str, user: str) -> str:
    check_stage(stage)
    return f"local-{user}-{version}" if stage == "local" else f"{stage}-{version}"


def ref(cfg: Config, stage: str, version: str, user: str) -> str:
    return f"{repository(cfg)}:{tag(stage, version, user)}"


def moving_ref(cfg: Config, stage: str) -> str:
    """The moving tag (`dev`, `prod`) that releases and rollbacks repoint."""
    if stage not in ("dev", "prod"):
        raise UserError(f"stage {stage!r} has no moving tag; use dev or prod")
    return f"{repository(cfg)}:{stage}"


def labels(
    *, version: str, revision: str, inputs_hash: str, rel_dir: str, repo_id: str, stage: str
) -> dict[str, str]:
    return {
        LABEL_VERSION: version,
        LABEL_REVISION: revision,
        LABEL_INPUTS: inputs_hash,
        LABEL_MANAGED: "true",
        LABEL_DIR: rel_dir,
        LABEL_REPO: repo_id,
        LABEL_STAGE: stage,
    }


def _quoted(text: str) -> str:
    """A double-quoted Dockerfile word: backslash, quote and `$` (substitution) escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def labelled_dockerfile(base: str, labels: Mapping[str, str]) -> str:
    """`FROM base` plus every label in ONE instruction: the classic builder turns each
    `--label` flag into a step of its own (a container and a commit each)."""
    if any("\n" in k or "\n" in v for k, v in labels.items()):
        raise UserError("a label holds a line break; labels are one line each")
    pairs = " \\\n      ".join(f"{_quoted(k)}={_quoted(v)}" for k, v in sorted(labels.items()))
    return f"FROM {base}\n" + (f"LABEL {pairs}\n" if labels else "")


_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")


# docker arch -> the qemu binary name binfmt_misc registers for it
QEMU_NAMES = {
    "arm64": "aarch64",
    "arm": "arm",
    "amd64": "x86_64",
    "386": "i386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64le": "mips64el",
}


def parse_platforms(text: str, where: str = "--platforms") -> tuple[str, ...]:
    items = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not items:
        raise UserError(f"{where}: give at least one platform, e.g. linux/amd64,linux/arm64")
    for item in items:
        if not _PLATFORM.match(item):
            raise UserError(
                f"{where}: {item!r} is not a platform like linux/amd64 or linux/arm64/v8; fix it"
            )
        arch = item.split("/")[1]
        if arch not in QEMU_NAMES:
            known = ", ".join(f"linux/{a}" for a in QEMU_NAMES)
            raise UserError(f"{where}: unknown architecture in {item!r}; known: {known}")
    return items


def parse_one_platform(text: Optional[str], where: str = "--platform") -> Optional[str]:
    """A single `--platform` (a local build's): checked like `--platforms`, one only."""
    if text is None:
        return None
    items = parse_platforms(text, where)
    if len(items) != 1:
        raise UserError(
            f"{where}: a local build is for one platform, got {','.join(items)}; give one "
            "(several at once: docker_release_dev_image --platforms)"
        )
    return items[0]


def platform_arch(platform: str) -> str:
    """`linux/arm64/v8` -> `arm64v8`: the suffix of per-platform tags."""
    return "".join(platform.split("/")[1:])
