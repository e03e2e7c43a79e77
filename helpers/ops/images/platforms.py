"""CPU platforms: which ones a release builds, which this engine runs natively, how.

A release builds every foreign platform with its own `docker build --platform p`
(BuildKit where the CLI has buildx, the classic builder otherwise; RUN steps of a
foreign platform run under qemu through binfmt_misc), so each platform image has
labels of its own; each is pushed as `<tag>-<arch>` and the version tag is a
manifest list written over the registry API, as are the moving tags.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import images

BINFMT = Path("/proc/sys/fs/binfmt_misc")


# Platforms a host runs without an emulator besides its own.
NATIVE_EXTRA = {"amd64": ("386",), "arm64": ("arm",)}


def native(runner: commands.Runner = commands.run) -> str:
    """The engine's own platform, e.g. linux/amd64 (asked of the engine, not of this host)."""
    result = runner((engine.DOCKER, "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"))
    value = result.out.strip()
    if not result.ok or not images._PLATFORM.match(value):
        raise UserError(engine.down_message(engine.status(runner)))
    return value


_MACHINE_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def emulation_note(ref: str, image_arch: str) -> Optional[str]:
    """One warning line when an image of another architecture is about to run here."""
    if not image_arch or engine.socket_path() is None:
        return None  # a remote engine's architecture is not this host's
    machine = os.uname().machine  # what platform.machine() says, without its import
    mine = _MACHINE_ARCH.get(machine, machine)
    if is_foreign(f"linux/{image_arch}", f"linux/{mine}"):
        return (
            f"{ref} is linux/{image_arch} and this machine linux/{mine}: "
            "it runs under emulation, slowly"
        )
    return None


def is_foreign(platform: str, native_platform: str) -> bool:
    mine = native_platform.split("/")[1]
    theirs = platform.split("/")[1]
    return theirs != mine and theirs not in NATIVE_EXTRA.get(mine, ())


def emulator_missing(
    platforms: Sequence[str], native_platform: str, binfmt: Path = BINFMT
) -> Optional[str]:
    """One line naming what to install when a foreign platform has no emulator, else None.

    Only a local engine can be checked (binfmt_misc of this kernel, when mounted); with
    a remote DOCKER_HOST, or inside a container that does not see binfmt_misc, the
    engine's kernel decides and the build says so if it cannot.
    """
    if engine.socket_path() is None or not (binfmt / "status").exists():
        return None  # not this kernel, or binfmt_misc not visible here (inside a container)
    for platform in platforms:
        if not is_foreign(platform, native_platform):
            continue
        entry = binfmt / f"qemu-{images.QEMU_NAMES[platform.split('/')[1]]}"
        try:
            enabled = entry.read_text().splitlines()[0].strip() == "enabled"
        except (OSError, IndexError):
            enabled = False
        if not enabled:
            return (
                f"--platforms {platform}: this {native_platform} machine has no emulator for it "
                f"({entry} is missing or disabled): install qemu binfmt support (Debian/Ubuntu "
                "as root: dev_scripts/engine/bootstrap.sh --qemu), or release fewer platforms"
            )
    return None


@dataclass(frozen=True)
class MultiArchPath:
    name: str  # "buildx" or "classic"
    why: str


def multiarch_path(runner: commands.Runner = commands.run) -> MultiArchPath:
    joined = "pushed as <tag>-<arch>, joined in one manifest list over the registry API"
    if engine.has_buildx(runner):
        return MultiArchPath(
            "buildx", f"`docker buildx version` answers: one BuildKit build per platform, {joined}"
        )
    return MultiArchPath(
        "classic",
        f"no buildx plugin: one classic `docker build --platform` per platform, {joined}",
    )
