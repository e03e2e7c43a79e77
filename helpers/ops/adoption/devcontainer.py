"""`invoke devcontainer [--dir D] [--all-dirs]`: `.devcontainer/<dir>/devcontainer.json` for
VS Code and the devcontainers CLI, giving the container `docker_bash` gives.

The file is rendered from `templates/devcontainer.json` with what `containers.run_argv`
puts on a `docker run` of the dir (mounts, ports, env, network), so both stay one
definition; host paths under the repo become `${localWorkspaceFolder}`. It is recorded in
`.helpers-sync.json` like the other synced files, so `sync_files` keeps it current and
`--check` reports drift. It holds nothing that differs between machines: what does
(your image tag and version, your uid, your env file's values, extra CA certificates) is
made on the host by its `initializeCommand` (`prepare` below), which

- chooses the dir's local image and builds it when missing or stale (`--if-missing build`);
- derives `<image_name>:devcontainer-<user>` from it: a `helpers` user with your uid and
  gid (what `containerUser`/`remoteUser` name; `updateRemoteUserUID` keeps it right where
  the CLI remaps), a member of the engine socket's group when `sibling_docker` is on;
- writes the env file `runArgs` names, mode 0600 under `.helpers/devcontainer/<dir>/`
  (git-ignored): your env file's values in docker's format, and the extra CA bundle's path;
- starts the dir's `services:` (below).

Services. A dir with `services:` gets, in its file, `--network NAME`, `--label
io.helpers.devcontainer=NAME` and `HELPERS_SERVICES=<names>`, with NAME =
`helpers-devcontainer-<image_name>-${localEnv:USER:user}`: a name fixed in the file, made of
what is already in it (the image name, the user variable the image tag uses), so the file is
the same on every machine and `prepare` derives the same NAME on the host (the dir's config
and $USER) without the CLI passing it. On the host `prepare` then keeps the dir's service set
up the way a warm container's is kept (`services.plan`/`start`, health-gated): the private
network NAME; an anchor container NAME (`sleep infinity` from the dir's image, labelled as
ours with the services' key) whose PID namespace the services join, so they end with it; one
container `NAME-<service>` per service, answering by its name on the network. The key (a hash
of the services' config and image ids, `services.fingerprint`) is on the anchor: a second
`devcontainer up` reuses a running, healthy set with the same key; a changed service config
replaces anchor and services (the network stays: a dev container may be on it). The services
run on after the dev container stops (a reopen finds them up); `invoke docker_kill --all`
ends the anchor, its services and the network (`services.remove_owned`), like a warm set's.
A network made again after that is attached to the stopped dev container of the dir (docker
starts a container only on the network object it was created on). One NAME per repo name,
dir and user: a second clone with the same name's set is refused while the first's network
exists, never taken over.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from helpers.effects import commands, engine, fsutil
from helpers.errors import UserError
from helpers.model import config, envfile, images, project, workspace
from helpers.model.config import CA_ENV
from helpers.model.services import names
from helpers.ops.adoption import sync
from helpers.ops.run import containers, network, services
from helpers.outcome import Outcome

TEMPLATE = "devcontainer.json"
FOLDER = workspace.DEVCONTAINER_DIR
USER = "helpers"  # the user inside: containerUser and remoteUser
WORKSPACE = "${localWorkspaceFolder}"
LOCAL_USER = "${localEnv:USER:user}"  # the devcontainers CLI's; `prepare` reads the same
STATE = ".helpers/devcontainer"
SOCKET_INSIDE = "/var/run/docker.sock"
_VALUE_FLAGS = {"--name", "--label", "--user", "--workdir", "--volume", "--env", "--env-file"}
_BOOL_FLAGS = {"--rm", "--detach", "--interactive", "--tty"}
_IMAGE = "<image>"
SET_LABEL = "io.helpers.devcontainer"  # the dir's dev container, its services' anchor and network
KEY_LABEL = "io.helpers.devcontainer-key"  # on the anchor: the services' config it runs
CLI_LABEL = "devcontainer.local_folder"  # the devcontainers CLI's, on every container it makes
_DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def folder(rel_dir: str) -> str:
    """One level under .devcontainer/ (what VS Code lists): `root` for the repo root's dir,
    `infra__etl` for infra/etl, as the report dirs are named."""
    from helpers.ops.testing.testplan import slug

    return slug(rel_dir)


def dest(rel_dir: str) -> str:
    return f"{FOLDER}/{folder(rel_dir)}/devcontainer.json"


def state_dir(rel_dir: str) -> str:
    return f"{STATE}/{folder(rel_dir)}"


def image_tag(cfg: config.Config, user: str = LOCAL_USER) -> str:
    return f"{cfg.image_name}:devcontainer-{user}"


def set_name(cfg: config.Config, user: str = LOCAL_USER) -> str:
    """The network (and anchor) of the dir's services: the same in the file and on the host."""
    return f"helpers-devcontainer-{cfg.image_name.replace('/', '-')}-{user}"


def local_user(env: Mapping[str, str] | None = None) -> str:
    """What `${localEnv:USER:user}` gives the CLI: $USER, else `user`."""
    return (os.environ if env is None else env).get("USER") or "user"


def _portable(text: str, root: Path) -> str:
    """Host paths as the devcontainers CLI names them on any machine."""
    home = str(Path.home())
    places = [(str(root), WORKSPACE)] + ([(home, "${localEnv:HOME}")] if home != "/" else [])
    for path, name in sorted(places, key=lambda p: -len(p[0])):  # the innermost first
        text = text.replace(path, name)
    return text


def _mount(spec: str, root: Path) -> str:
    host, _, rest = spec.partition(":")
    target, _, mode = rest.partition(":")
    ro = ",readonly" if mode == "ro" else ""
    return f"source={_portable(host, root)},target={_portable(target, root)},type=bind{ro}"


def _pairs(argv: Sequence[str]) -> Iterator[tuple[str, str]]:
    """A `docker run` argv as (flag, value) up to the image; boolean flags get ''."""
    args = iter(argv[2:])
    for arg in args:
        if arg == _IMAGE:
            return
        if arg in _BOOL_FLAGS or not arg.startswith("-"):
            yield arg, ""
        else:
            yield arg, next(args, "")


@dataclasses.dataclass(frozen=True)
class Settings:
    run_args: tuple[str, ...]
    container_env: dict[str, str]
    mounts: tuple[str, ...]


def settings(target: project.Target) -> Settings:
    """runArgs, containerEnv and mounts: `docker run`'s for the dir, machine-free."""
    # Handled below (or by `prepare`), where docker_bash's values depend on this host.
    cfg = dataclasses.replace(
        target.cfg, sibling_docker=False, extra_ca_certs=(), env_passthrough=()
    )
    local = project.Target(target.root, target.rel_dir, cfg)
    opts = containers.RunOptions(remove=False, name="-", defer_env_file=True)
    if target.cfg.services:  # on the services' network, as docker_bash's container is
        services.check_network(target)
        net = set_name(target.cfg)
        known = {services.SERVICES_ENV: names(target.cfg.services)}
        opts = dataclasses.replace(opts, network=net, env=known, labels={SET_LABEL: net})
    argv = containers.run_argv(local, _IMAGE, opts, env={})
    env_path = f"{WORKSPACE}/{state_dir(target.rel_dir)}/env"
    run_args = ["--env-file", env_path]
    env: dict[str, str] = {}
    mounts: list[str] = []
    root_mount = f"{target.root}:{project.MOUNT}"
    for flag, value in _pairs(argv):
        own = ("--name", "--user", "--workdir", "--env-file", "--entrypoint")
        if flag in own or value == root_mount:
            # the CLI's own (it sets the entrypoint too), the helpers user, workspaceFolder,
            # the env file above
            continue
        if flag == "--label":
            run_args += [flag, _portable(value, target.root)]
        elif flag == "--volume":
            mounts.append(_mount(value, target.root))
        elif flag == "--env" and "=" in value:
            name, _, val = value.partition("=")
            if name != "HOME":  # the helpers user has one
                env[name] = _portable(val, target.root)
        else:
            run_args += [flag, _portable(value, target.root)] if value else [flag]
    for name in target.cfg.env_passthrough:
        run_args += ["--env", name]  # docker copies the value from the CLI's environment
    if target.cfg.sibling_docker:
        mounts.append(f"source={SOCKET_INSIDE},target={SOCKET_INSIDE},type=bind")
        env["DOCKER_HOST"] = f"unix://{SOCKET_INSIDE}"
    return Settings(tuple(run_args), env, tuple(mounts))


def _json(value: object, indent: str = "  ") -> str:
    text = json.dumps(value, indent=2)
    return text.replace("\n", "\n" + indent)


def render(client: sync.Client, rel_dir: str) -> str:
    """The dir's devcontainer.json, from the template and the dir's config."""
    target = project.Target.load(client.root, rel_dir)
    s = settings(target)
    init = [
        "bash",
        f"{WORKSPACE}/{client.helpers_dir}/dev_scripts/devcontainer_init.sh",
        WORKSPACE,
        rel_dir,
    ]
    values = {
        "@DIR@": rel_dir,
        "@NAME@": _json(f"{'repo root' if rel_dir == '.' else rel_dir} ({target.cfg.image_name})"),
        "@IMAGE@": _json(image_tag(target.cfg)),
        "@INITIALIZE@": _json(init),
        "@MOUNT@": project.MOUNT,
        "@WORKSPACE_FOLDER@": _json(project.workdir(rel_dir)),
        "@RUN_ARGS@": _json(list(s.run_args)),
        "@CONTAINER_ENV@": _json(s.container_env),
        "@MOUNTS@": _json(list(s.mounts)),
    }
    text = sync.render(client, TEMPLATE)
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def write(cwd: Path, dir_flag: str | None, all_dirs: bool, force: bool = False) -> Outcome:
    """`invoke devcontainer`: write (or show as a diff) each dir's file; record it for sync."""
    client = sync.locate(cwd)
    root = client.root
    if all_dirs:
        ignore = config.load(root, ".").ignore_dirs
        dirs = workspace.runnable_in_work_tree(root, workspace.list_files(root), ignore)
        if not dirs:
            raise UserError(f"{root}: no runnable dirs; `invoke create_runnable_dir DIR` makes one")
    else:
        dirs = [workspace.resolve_dir(root, cwd, dir_flag)]
    return write_files(client, dirs, force)


def write_files(client: sync.Client, dirs: Sequence[str], force: bool = False) -> Outcome:
    root = client.root
    states = [_state(client, rel) for rel in dirs]
    written = sync.apply(client, states, force)
    sync.record_entries(root, {dest(rel): {"template": TEMPLATE, "dir": rel} for rel in dirs})
    lines = []
    for s in states:
        if s.path in written:
            lines.append(f"wrote   {s.path}")
        elif s.status == sync.DIFFERS:
            lines += [f"differs {s.path}: left alone (--force replaces it):", s.diff().rstrip()]
        else:
            lines.append(f"ok      {s.path}")
    left = [s for s in states if s.status == sync.DIFFERS and not force]
    lines.append(
        "open the repo in VS Code and pick the dir's container, or: devcontainer up "
        f"--workspace-folder . --config {dest(dirs[0])}"
    )
    return Outcome.of(lines, 1 if left else 0)


def _state(client: sync.Client, rel_dir: str) -> sync.FileState:
    path = dest(rel_dir)
    want = render(client, rel_dir)
    record = sync.load_record(client.root)
    return sync.state_of(client.root, path, want, record)


# ---------------------------------------------------------------- the initializeCommand


def _derived_dockerfile(base: str, uid: int, gid: int, groups: Sequence[int]) -> str:
    extra = "".join(
        f" && echo 'helpers-{g}:x:{g}:{USER}' >> /etc/group" for g in groups if g != gid
    )
    return (
        f"FROM {base}\n"
        "USER root\n"
        f"RUN grep -q '^{USER}:' /etc/passwd"
        f" || echo '{USER}:x:{uid}:{gid}::/home/{USER}:/bin/sh' >> /etc/passwd"
        f" && (grep -q '^[^:]*:[^:]*:{gid}:' /etc/group || echo '{USER}:x:{gid}:' >> /etc/group)"
        f"{extra} && mkdir -p /home/{USER} && chown {uid}:{gid} /home/{USER}\n"
    )


def _env_text(target: project.Target) -> str:
    text = envfile.docker_text_for(target.root, target.cfg) or ""
    if target.cfg.extra_ca_certs:
        from helpers.ops.images import cacerts

        bundle = cacerts.bundle(target.cfg.extra_ca_certs, target.root)
        rel = f"{state_dir(target.rel_dir)}/extra-ca.crt"
        fsutil.write_atomic(target.root / rel, bundle.decode("utf-8", "replace"))
        text += f"{CA_ENV}={project.MOUNT}/{rel}\n"
    return text


def _services(target: project.Target, image_ref: str, runner: commands.Runner) -> str:
    """The dir's services up and healthy on the network the file names (see the module's
    docstring); what was done, "" when the dir has none."""
    if not target.cfg.services:
        return ""
    services.check_network(target)
    name = set_name(target.cfg, local_user())
    if not _DOCKER_NAME.match(name):
        raise UserError(
            f"devcontainer: {name!r} (from $USER) is not a docker network name; "
            "run the devcontainers CLI with USER set to letters, digits, '.', '_' or '-'"
        )
    refs = services.resolve(target, runner)
    key = hashlib.sha256(services.fingerprint(target, refs).encode()).hexdigest()[:12]
    labels = {SET_LABEL: name, services.LABEL_OWNER: name}
    scope = services.Scope(name, "", labels, pid_of=name, network=name)
    sset = services.plan(target, refs, scope)
    assert sset is not None
    listed = ", ".join(s.name for s in sset.services)
    exists = _network_of(target, name, runner)
    if exists and _running_set(name, key, len(sset.services), runner):
        try:
            services.wait_healthy(sset, runner)
            return f"services {listed} reused on {name}"
        except UserError:
            pass  # not healthy any more: a fresh set below
    _remove_set(name, runner)
    if not exists:
        network.create(name, sset.network_labels, runner)
        _reattach(name, runner)
    try:
        _start_anchor(target, image_ref, sset, key, runner)
        with services.logs_shown():
            services.start(sset, runner, create_network=False)
    except BaseException:
        _remove_set(name, runner)
        raise
    return f"services {listed} started on {name}"


def _network_of(target: project.Target, name: str, runner: commands.Runner) -> bool:
    """Whether the network exists (it is this repo's); another clone's is refused."""
    fmt = f'{{{{index .Labels "{images.LABEL_REPO}"}}}}'
    found = runner((engine.DOCKER, "network", "inspect", "--format", fmt, name))
    if not found.ok:
        return False
    repo = found.out.strip().replace("<no value>", "")  # what `index` gives for no label
    if repo != str(target.root):
        raise UserError(
            f"devcontainer: the network {name} belongs to {repo or 'no repo of helpers'}, "
            f"not {target.root}; stop that dev container (`invoke docker_kill --all` there) "
            "or give this dir another image_name"
        )
    return True


def _running_set(name: str, key: str, count: int, runner: commands.Runner) -> bool:
    """The anchor runs with this key and all `count` services run beside it."""
    fmt = f'{{{{.State.Running}}}} {{{{index .Config.Labels "{KEY_LABEL}"}}}}'
    state = runner((engine.DOCKER, "container", "inspect", "--format", fmt, name))
    if not state.ok or state.out.split() != ["true", key]:
        return False
    owner = f"label={services.LABEL_OWNER}={name}"
    argv = (engine.DOCKER, "ps", "--quiet", "--filter", owner, "--filter", "status=running")
    return len(runner(argv).out.split()) == count


def _remove_set(name: str, runner: commands.Runner) -> None:
    """The anchor and every service of the set (the network stays)."""
    runner((engine.DOCKER, "rm", "--force", name))
    owner = f"label={services.LABEL_OWNER}={name}"
    listed = runner((engine.DOCKER, "ps", "--all", "--filter", owner, "--format", "{{.Names}}"))
    if listed.out.split():
        runner((engine.DOCKER, "rm", "--force", "--volumes", *listed.out.split()))


def _reattach(name: str, runner: commands.Runner) -> None:
    """A stopped dev container of the set was on the network's earlier self: on this one."""
    argv = [engine.DOCKER, "ps", "--all", "--format", "{{.Names}}"]
    argv += ["--filter", f"label={SET_LABEL}={name}", "--filter", f"label={CLI_LABEL}"]
    for box in runner(tuple(argv)).out.split():
        runner((engine.DOCKER, "network", "disconnect", "--force", name, box))
        runner((engine.DOCKER, "network", "connect", name, box))


def anchor_argv(image_ref: str, sset: services.ServiceSet, key: str) -> commands.Argv:
    """`docker run` of the set's anchor: it only sleeps; its services share its PID namespace."""
    labels = {k: v for k, v in sset.network_labels.items() if k != services.LABEL_OWNER}
    labels[KEY_LABEL] = key
    argv = [engine.DOCKER, "run", "--detach", "--rm", "--name", sset.network]
    argv += [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]
    return (*argv, "--entrypoint", "sleep", image_ref, "infinity")


def _start_anchor(
    target: project.Target,
    image_ref: str,
    sset: services.ServiceSet,
    key: str,
    runner: commands.Runner,
) -> None:
    for _ in range(15):  # docker lets go of a removed container's name a moment later
        started = runner(anchor_argv(image_ref, sset, key))
        if started.ok or "Conflict" not in started.err:
            break
        time.sleep(0.2)
    if not started.ok:
        reason = engine.first_line(started.err)
        raise UserError(f"devcontainer {target.rel_dir}: could not start {sset.network} ({reason})")


def prepare(cwd: Path, rel_dir: str, runner: commands.Runner = commands.run) -> Outcome:
    """The initializeCommand: the image, the derived image with the host user, the env file."""
    from helpers.ops.images import choice

    root = workspace.find_repo_root(cwd)
    rel = workspace.resolve_dir(root, root, rel_dir)
    target = project.Target.load(root, rel)
    chosen = choice.choose(target, "local", None, choice.Policy("build", quiet_build=True)).said()
    env_path = root / state_dir(rel) / "env"
    env_path.parent.mkdir(parents=True, exist_ok=True)
    containers.prepare_host(target)
    fsutil.write_atomic(env_path, _env_text(target))
    env_path.chmod(0o600)
    groups = []
    sock = engine.socket_path()
    if target.cfg.sibling_docker and sock is not None and sock.exists():
        groups.append(sock.stat().st_gid)
    started = _services(target, chosen.ref, runner)
    tag = image_tag(target.cfg, local_user())
    dockerfile = _derived_dockerfile(chosen.ref, os.getuid(), os.getgid(), groups)
    built = runner((engine.DOCKER, "build", "--quiet", "--tag", tag, "-"), input=dockerfile)
    if not built.ok:
        reason = (built.err.strip().splitlines() or ["no reason given"])[-1]
        raise UserError(f"devcontainer: could not derive {tag} from {chosen.ref} ({reason})")
    done = f"devcontainer {rel}: {tag} (from {chosen.ref}), env file {env_path}"
    return Outcome(f"{done}; {started}" if started else done)
