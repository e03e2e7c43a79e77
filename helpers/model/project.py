"""What a task works on: the repo root, one runnable dir, its config and changelog."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers.model import changelog, config, workspace

PROD_DOCKERFILE = "devops/prod.Dockerfile"


@dataclass(frozen=True)
class Target:
    root: Path
    rel_dir: str
    cfg: config.Config

    @classmethod
    def load(cls, root: Path, rel_dir: str) -> Target:
        """The runnable dir `rel_dir` of the repo at `root`, with its config read."""
        return cls(root, rel_dir, config.load(root, rel_dir))

    @property
    def path(self) -> Path:
        return self.root if self.rel_dir == "." else self.root / self.rel_dir

    @functools.cached_property
    def changelog(self) -> changelog.Changelog:
        return changelog.load(self.path / changelog.FILENAME)

    @property
    def dockerfile(self) -> str:
        """Its Dockerfile, relative to the dir: the `dockerfile` key, else devops/Dockerfile."""
        return self.cfg.dockerfile

    @property
    def prod_dockerfile(self) -> Optional[str]:
        """The prod image's own Dockerfile: `prod_dockerfile`, else devops/prod.Dockerfile
        when present; None: prod is the dev image plus the code (a generated recipe)."""
        if self.cfg.prod_dockerfile:
            return self.cfg.prod_dockerfile
        return PROD_DOCKERFILE if (self.path / PROD_DOCKERFILE).is_file() else None

    @property
    def version(self) -> str:
        return str(self.changelog.version)


def target(dir_flag: Optional[str] = None, cwd: Optional[Path] = None) -> Target:
    """Resolve `--dir` (or the runnable dir holding cwd) and load its config."""
    cwd = (cwd or Path.cwd()).resolve()
    root = workspace.find_repo_root(cwd)
    rel = workspace.resolve_dir(root, cwd, dir_flag)
    return Target.load(root, rel)


MOUNT = "/app"


def workdir(rel_dir: str) -> str:
    return MOUNT if rel_dir == "." else f"{MOUNT}/{rel_dir}"
