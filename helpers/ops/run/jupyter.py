"""docker_jupyter: a Jupyter server in the runnable dir's container, on a free port.

Same mount, user and env as docker_bash. The token is generated here and reaches
the server as $JUPYTER_TOKEN, copied by docker from its own environment: it is
never on a command line. The port is published on 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
from typing import Optional

from helpers import events
from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import project
from helpers.model.hints import task_line
from helpers.ops.images import choice
from helpers.ops.run import containers
from helpers.outcome import Outcome

TOKEN_ENV = "JUPYTER_TOKEN"
HOST = "127.0.0.1"
NO_JUPYTER = 127


# Constant: the server's flags arrive as "$@", never spliced into the script.
LAUNCHER = (
    "for app in jupyter-lab jupyter-notebook jupyter-server; do "
    'command -v "$app" >/dev/null 2>&1 && exec "$app" "$@"; '
    f"done; exit {NO_JUPYTER}"
)


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    """Nothing listens there (a port in TIME_WAIT is free to a server, as to docker's proxy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(text: str | int) -> int:
    """--port 0 (the default): a free one; otherwise the given one, if it is free."""
    try:
        flag = int(text)
    except ValueError:
        raise UserError(f"--port {text!r}: not a number; pick 1-65535, or omit it") from None
    if flag == 0:
        return free_port()
    if not 0 < flag < 65536:
        raise UserError(f"--port {flag}: not a TCP port; pick 1-65535, or omit it for a free one")
    if not port_is_free(flag):
        raise UserError(f"--port {flag} is in use on {HOST}; pick another or omit --port")
    return flag


def url(port: int, token: str) -> str:
    return f"http://{HOST}:{port}/?token={token}"


def run_options(
    port: int, name: str, *, as_root: bool = False, host_network: bool = False
) -> containers.RunOptions:
    """The server's flags; as root (the container runs as the host uid) Jupyter needs consent.

    On the host's network there is nothing to publish: the server itself listens on
    127.0.0.1 only; otherwise it listens inside the container and is published on HOST.
    """
    ip = HOST if host_network else "0.0.0.0"
    server: tuple[str, ...] = (f"--ip={ip}", f"--port={port}", "--no-browser")
    server += ("--allow-root",) if as_root else ()
    return containers.RunOptions(
        command=("sh", "-c", LAUNCHER, "jupyter", *server),
        ports=() if host_network else (f"{HOST}:{port}:{port}",),
        name=name,
        pass_env=(TOKEN_ENV,),
    )


def no_jupyter_message(ref: str, target: project.Target) -> str:
    dockerfile = (target.path / "devops" / "Dockerfile").relative_to(target.root).as_posix()
    return (
        f"image {ref} has no jupyter: add it to {dockerfile} (e.g. `RUN pip install "
        "jupyterlab` or `RUN apt-get install -y jupyter-notebook`), then run "
        f"`{task_line('docker_build_local_image', target.rel_dir)}`"
    )


def _wait(argv: commands.Argv, name: str, token: str, runner: commands.Runner) -> int:
    """Run the server in the foreground; on Ctrl-C, SIGTERM or SIGHUP (the edge turns them all
    into KeyboardInterrupt), stop its container first."""
    proc = commands.start(argv, env={TOKEN_ENV: token})
    try:
        return proc.wait()
    except KeyboardInterrupt:
        runner((engine.DOCKER, "stop", "--time", "5", name))
        proc.wait()
        raise


def serve(
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    port_flag: str,
    dry_run: bool,
    runner: commands.Runner = commands.run,
) -> Outcome:
    target = project.target(dir_flag)
    port = choose_port(port_flag)
    chosen = choice.choose_image(target, stage, version, runner=runner).said()
    name = containers.container_name(target, "jupyter")
    host_network = target.cfg.network == "host"
    opts = run_options(port, name, as_root=os.getuid() == 0, host_network=host_network)
    argv = containers.run_argv(target, chosen.ref, opts)
    if dry_run:
        return Outcome.of(
            [
                f"url      {url(port, '<token generated at start>')}",
                f"env      {TOKEN_ENV}=<token> (in docker's environment, not on its command line)",
                f"command  {commands.display(argv)}",
            ]
        )
    token = secrets.token_hex(24)
    containers.prepare_host(target)
    from helpers.ops.run import services

    short = secrets.token_hex(3)
    run_id = f"jupyter-{short}"  # the server's and its services' (docker_cleanup pairs them)
    with services.running_for(target, run_id, short, runner) as sset:
        opts = dataclasses.replace(services.on_network(opts, sset), run_id=run_id)
        argv = containers.run_argv(target, chosen.ref, opts)
        events.data(f"jupyter: {url(port, token)}  (container {name}; Ctrl-C stops it)")
        code = _wait(argv, name, token, runner)
    if code == NO_JUPYTER:
        raise UserError(no_jupyter_message(chosen.ref, target))
    return Outcome(code=code)
