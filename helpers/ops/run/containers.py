"""`docker run` for a runnable dir: the argv, built from config and a few choices, pure.

The client repo is bind-mounted at MOUNT; the working dir is the runnable dir's
place inside it; the container runs as the host uid:gid; `.env` goes in as a
checked temp env file (helpers.model.envfile: values never on the command line); every
container is named and labelled so that it can be found and cleaned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import helpers
from helpers.effects import engine
from helpers.errors import UserError
from helpers.model import envfile, images, project, pyprojects, units
from helpers.model.config import CA_ENV
from helpers.ops.images import cacerts

LABEL_RUN = "io.helpers.run"


# Only containers carry this one (images carry the other io.helpers.* labels, and a
# container inherits its image's labels): it tells "started by these tools" apart
# from a container someone started by hand from one of our images.
LABEL_CONTAINER = "io.helpers.container"
ENV_FILE_FLAG = "--env-file"


# In a plan's argv until the run starts (testplan.prepare writes the file): plans write nothing.
ENV_FILE_LATER = "<env file, written when the run starts>"


@dataclass(frozen=True)
class RunOptions:
    command: tuple[str, ...] = ()
    interactive: bool = False
    tty: bool = False
    ports: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    run_id: str = ""
    name: str = ""
    remove: bool = True
    detach: bool = False
    workdir: Optional[str] = None
    # Names whose values docker copies from its own environment (secrets): never on argv.
    pass_env: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    # False: the code comes from the image (prod tests); nothing of the repo is mounted.
    mount_repo: bool = True
    volumes: tuple[str, ...] = ()  # more HOST:CONTAINER[:ro] mounts for this run
    # True: the env file's path is ENV_FILE_LATER (a plan); False: written now.
    defer_env_file: bool = False
    network: str = ""  # the run's private network (its services'); else config `network`


def helpers_inside(root: Path) -> Optional[str]:
    """Where this helpers checkout appears inside the container (when it is inside the repo)."""
    import helpers

    here = Path(helpers.__file__).resolve().parents[1]
    try:
        rel = here.relative_to(root.resolve())
    except ValueError:
        return None
    return project.MOUNT if str(rel) == "." else f"{project.MOUNT}/{rel.as_posix()}"


def python_path(
    target: project.Target,
    base: Optional[Sequence[str]] = None,
    ws: Optional[units.Workspace] = None,
) -> str:
    """PYTHONPATH in the dir's containers: `base` (default: the dir's code, its `src/` too
    for src layouts, a poetry project's package roots, the repo, and helpers for the
    pytest plugin a conftest names), then the config's `python_paths` under the mount,
    then a `container_env` PYTHONPATH, appended, never replacing helpers' own. In-repo
    dependencies are installed editable in the image, pointing at their place under the
    mount (see `depunits`). `ws`: the workspace the command read (its parsed pyprojects)."""
    if base is None:
        src = [f"{project.workdir(target.rel_dir)}/src"] if (target.path / "src").is_dir() else []
        src += [project.workdir(r) for r in _import_roots(target, ws)]
        base = [*src, project.workdir(target.rel_dir), project.MOUNT]
        base.append(helpers_inside(target.root) or "")
    extra = [project.workdir(p) for p in target.cfg.python_paths]
    given = target.cfg.container_env.get("PYTHONPATH", "").split(":")
    return ":".join(dict.fromkeys(p for p in (*base, *extra, *given) if p))


def _import_roots(target: project.Target, ws: Optional[units.Workspace]) -> list[str]:
    data = ws.pyprojects.get(target.rel_dir) if ws is not None else None
    if data is None:
        return pyprojects.import_roots(target.root, target.rel_dir)
    return pyprojects.import_roots_of(target.rel_dir, data)


def container_name(target: project.Target, purpose: str, token: Optional[str] = None) -> str:
    """`helpers-<image>-<purpose>-<token>`; a plan passes its token, else a random one."""
    token = token or os.urandom(3).hex()  # secrets.token_hex, without its imports
    return f"helpers-{target.cfg.image_name.replace('/', '-')}-{purpose}-{token}"


def mount_source(spec: str, root: Path) -> tuple[Path, list[str]]:
    """The host side of a `mounts` entry (relative paths are from the repo root)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise UserError(f"mounts: {spec!r} is not HOST:CONTAINER[:ro]; fix repo_config.yaml")
    host = Path(parts[0]).expanduser()
    return (host if host.is_absolute() else root / host), parts[1:]


def _mount(spec: str, root: Path) -> list[str]:
    host, rest = mount_source(spec, root)
    return ["--volume", ":".join([str(host), *rest])]


def mount_dirs(target: project.Target) -> tuple[Path, ...]:
    """The mount sources to create as dirs when missing (a name with a suffix is a file)."""
    hosts = (mount_source(spec, target.root)[0] for spec in target.cfg.mounts)
    return tuple(host for host in hosts if not host.suffix)


def make_dirs(paths: Sequence[Path]) -> None:
    """Create the missing ones as the host user (docker would make them root-owned)."""
    for path in paths:
        if not path.exists():
            path.mkdir(parents=True, exist_ok=True)


def prepare_host(target: project.Target) -> None:
    """Before a container starts: its missing mount sources, created as the host user."""
    make_dirs(mount_dirs(target))


def _ca_args(target: project.Target) -> list[str]:
    if not target.cfg.extra_ca_certs:
        return []
    # Same path inside: tools started in the container (sibling builds) read them too.
    argv = []
    paths = [str(target.root / p) for p in target.cfg.extra_ca_certs]
    cacerts.bundle(paths, target.root)  # one clear line for a missing or non-PEM file
    for path in paths:
        argv += ["--volume", f"{path}:{path}:ro"]
    argv += [arg for name, value in cacerts.RUN_ENV.items() for arg in ("--env", f"{name}={value}")]
    return [*argv, "--env", f"{CA_ENV}={os.pathsep.join(paths)}"]


def _sibling_args(target: project.Target, env: Mapping[str, str]) -> list[str]:
    if not target.cfg.sibling_docker:
        return []
    sock = engine.socket_path(env)
    if sock is None or not engine.socket_mountable(env):
        raise UserError(
            "sibling_docker is on but no local engine socket can be mounted "
            f"({engine.where(env)}); turn sibling_docker off or use a local engine"
        )
    argv = [
        "--volume",
        f"{sock}:/var/run/docker.sock",
        "--env",
        "DOCKER_HOST=unix:///var/run/docker.sock",
    ]
    gid = sock.stat().st_gid
    if gid != os.getgid():
        argv += ["--group-add", str(gid)]
    return argv


def _mode_flags(opts: RunOptions) -> list[str]:
    flags = (
        (opts.remove, "--rm"),
        (opts.detach, "--detach"),
        (opts.interactive, "--interactive"),
        (opts.tty, "--tty"),
    )
    return [flag for on, flag in flags if on]


def _label_args(target: project.Target, opts: RunOptions) -> list[str]:
    labels = {
        images.LABEL_MANAGED: "true",
        images.LABEL_DIR: target.rel_dir,
        images.LABEL_REPO: str(target.root),
        LABEL_CONTAINER: "true",
    }
    if opts.run_id:
        labels[LABEL_RUN] = opts.run_id
    labels.update(opts.labels)
    return [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]


def _env_args(
    target: project.Target,
    opts: RunOptions,
    env: Mapping[str, str],
    ws: Optional[units.Workspace],
) -> list[str]:
    cfg = target.cfg
    argv = ["--env", "HOME=/tmp", "--env", "HELPERS_IN_CONTAINER=1"]
    if opts.mount_repo:
        argv += ["--env", f"PYTHONPATH={python_path(target, ws=ws)}"]
    text = envfile.docker_text_for(target.root, cfg)  # checked; values never on argv
    if text is not None:
        later = opts.defer_env_file
        argv += [ENV_FILE_FLAG, ENV_FILE_LATER if later else str(envfile.private_file(text))]
    for name in cfg.env_passthrough:
        if name in env:
            argv += ["--env", name]  # docker copies the value from its own environment
    merged = {**cfg.container_env, **opts.env}
    if opts.mount_repo:
        merged.pop("PYTHONPATH", None)  # python_path() appended it to helpers' own
    for name, value in merged.items():
        argv += ["--env", f"{name}={value}"]
    for name in opts.pass_env:
        argv += ["--env", name]
    return argv


def run_argv(
    target: project.Target,
    image_ref: str,
    opts: RunOptions,
    env: Optional[Mapping[str, str]] = None,
    ws: Optional[units.Workspace] = None,
) -> tuple[str, ...]:
    """The `docker run` argv (`ws`: the workspace the command read, if it read one)."""
    env = os.environ if env is None else env
    cfg = target.cfg
    argv = [engine.DOCKER, "run", *_mode_flags(opts)]
    argv += ["--name", opts.name or container_name(target, "run")]
    if not cfg.keep_entrypoint:
        argv += ["--entrypoint", ""]  # an image's ENTRYPOINT is not run first (keep_entrypoint)
    argv += _label_args(target, opts)
    argv += ["--user", f"{os.getuid()}:{os.getgid()}"]
    if opts.network or cfg.network:
        argv += ["--network", opts.network or cfg.network or ""]
    if opts.mount_repo:
        argv += ["--volume", f"{target.root}:{project.MOUNT}"]
    for volume in opts.volumes:
        argv += ["--volume", volume]
    argv += ["--workdir", opts.workdir or project.workdir(target.rel_dir)]
    argv += _env_args(target, opts, env, ws)
    for spec in cfg.mounts:
        argv += _mount(spec, target.root)
    for port in (*cfg.ports, *opts.ports):
        argv += ["--publish", port]
    argv += _ca_args(target)
    argv += _sibling_args(target, env)
    return (*argv, image_ref, *opts.command)


def exec_argv(
    container: str, workdir: str, env: Mapping[str, str], command: Sequence[str]
) -> tuple[str, ...]:
    """`docker exec` of one command in a running container, with per-run variables."""
    argv = [engine.DOCKER, "exec", "--workdir", workdir]
    for name, value in env.items():
        argv += ["--env", f"{name}={value}"]
    return (*argv, container, *command)


def run_command_line(command: str) -> tuple[str, ...]:
    """`--cmd "..."` is the user's own shell line, run by the container's shell."""
    return ("sh", "-c", command)


def container_env(target: project.Target) -> dict[str, str]:
    """What every test container of the dir needs: its code and helpers' plugin importable."""
    if helpers_inside(target.root) is None:
        raise UserError(
            f"helpers ({Path(helpers.__file__).parents[1]}) is outside the repo {target.root}: "
            "add it as a submodule of the repo so containers can load its pytest plugin"
        )
    # No __pycache__ written into the user's repo through the mount.
    return {"PYTHONDONTWRITEBYTECODE": "1"}
