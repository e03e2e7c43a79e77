"""Talking to the registry: pull a stage's image, log in (the secret never on argv)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Optional

from helpers import events
from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import config, images, project, workspace
from helpers.ops.images import choice
from helpers.ops.run.inventory import last_line
from helpers.outcome import Outcome


def pull_ref(target: project.Target, stage: str, version: Optional[str]) -> str:
    images.check_stage(stage)
    if stage == "local":
        raise UserError(
            "--stage local images are built here, not pulled: run "
            "`invoke docker_build_local_image`, or pull --stage dev or prod"
        )
    if not target.cfg.registry:
        raise UserError(
            f"no registry configured for {target.rel_dir}: set `registry` in repo_config.yaml "
            "(e.g. `registry: ghcr.io/acme`) or $HELPERS_REGISTRY to pull dev/prod images"
        )
    return choice.chosen_ref(target, stage, version, images.user_name())


def pull_checks(target: project.Target, stage: str, ref: str, image: engine.ImageInfo) -> list[str]:
    """The version check every task applies; after a pull, the fix is a fresh local build."""
    # No newer release to pull yet: a local build from this code is what runs today.
    fix = choice.fix_command(target, "local")
    changelog = target.changelog.path.relative_to(target.root).as_posix()
    label = image.labels.get(images.LABEL_VERSION, "")
    wanted = target.changelog.version
    return choice.check(label, wanted, ref, changelog, fix, going_on="pulled it anyway")


def login_host(registry: str) -> str:
    """`ghcr.io/acme` -> `ghcr.io`: docker logs in to a host, not a path."""
    return registry.split("/", 1)[0]


def default_registry(cwd: Path) -> str:
    root = workspace.find_repo_root(cwd)
    rel = workspace.innermost_runnable(root, cwd) or "."
    registry = config.load(root, rel).registry
    if not registry:
        raise UserError(
            "no registry to log in to: pass --registry HOST or set `registry` in repo_config.yaml"
        )
    return registry


def login_argv(host: str, username: Optional[str], password_stdin: bool) -> commands.Argv:
    """The secret is never an argument: docker reads it from stdin or its credential helper."""
    argv = [engine.DOCKER, "login"]
    if username:
        argv += ["--username", username]
    if password_stdin:
        argv.append("--password-stdin")
    return (*argv, host)


def read_secret(stdin: IO[str], username: Optional[str]) -> str:
    if not username:
        raise UserError("--password-stdin needs --username (the account the secret belongs to)")
    secret = stdin.read().rstrip("\r\n")
    if not secret:
        raise UserError(
            "--password-stdin: stdin is empty; pipe the secret in, e.g. "
            "`printenv REGISTRY_TOKEN | invoke docker_login --username U --password-stdin`"
        )
    return secret


def scrub(text: str, secret: Optional[str]) -> str:
    return text.replace(secret, "***") if secret else text


def pull(
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    dry_run: bool,
    runner: commands.Runner = commands.run,
) -> Outcome:
    target = project.target(dir_flag)
    ref = pull_ref(target, stage, version)
    source = ref
    if target.cfg.require_signed and not dry_run:
        from helpers.ops.release import verify

        # Pull exactly the digest that verified, then name it as the tag here.
        source = f"{ref.rsplit(':', 1)[0]}@{verify.require(target, ref)}"
        events.progress(f"require_signed: {ref} verified ({source.rsplit('@', 1)[1][:19]}…)")
    argv = (engine.DOCKER, "pull", source)
    if dry_run:
        return Outcome(commands.display(argv))
    engine.require(runner)
    events.data(f"pulling {ref}")  # stdout: stderr keeps its one line if the pull fails
    result = runner(argv)
    if result.ok and source != ref:
        result = runner((engine.DOCKER, "tag", source, ref))
    if not result.ok:
        raise UserError(
            f"docker pull {ref} failed: {last_line(result.err)}; check that the tag was "
            "pushed and that you are logged in (`invoke docker_login`)"
        )
    image = engine.inspect_image(ref, runner)
    if image is None:
        raise UserError(f"docker pull {ref} reported success but the image is not present")
    for warning in pull_checks(target, stage, ref, image):
        events.warning(warning)
    return Outcome(f"pulled {ref} (version {image.labels.get(images.LABEL_VERSION, '?')})")


def login(
    registry: Optional[str],
    username: Optional[str],
    password_stdin: bool,
    stdin: IO[str],
    runner: commands.Runner = commands.run,
) -> Outcome:
    host = login_host(registry or default_registry(Path.cwd()))
    argv = login_argv(host, username, password_stdin)
    secret = read_secret(stdin, username) if password_stdin else None
    if secret is None and stdin.isatty():
        # docker prompts on the terminal itself, or uses its credential helper.
        code = commands.run_live(argv)
        if code != 0:
            raise UserError(f"docker login to {host} failed (exit {code}); see docker's message")
        return Outcome()
    result = runner(argv, input=secret)
    if not result.ok:
        # No engine check: a v28 CLI logs in by itself when the engine is down.
        hint = (
            "check the user name and secret"
            if secret is not None
            else "pipe the secret with --username U --password-stdin, or configure a "
            "credential helper (credsStore in ~/.docker/config.json)"
        )
        reason = scrub(last_line(result.err), secret)
        raise UserError(f"docker login to {host} failed: {reason}; {hint}")
    if "unencrypted" in result.err:
        events.warning(
            "docker stored the credentials unencrypted in its config.json; "
            "configure a credential helper to avoid that"
        )
    return Outcome(f"logged in to {host}")
