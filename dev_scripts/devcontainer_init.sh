#!/usr/bin/env bash
# The initializeCommand of every devcontainer.json `invoke devcontainer` writes; VS Code and
# the devcontainers CLI run it on the host before the container starts:
#
#   bash helpers_root/dev_scripts/devcontainer_init.sh REPO_ROOT DIR
#
# Builds the thin env when missing (a fast no-op otherwise; not in a container), then, in the repo: the dir's
# image (built when missing or stale), the derived image with your user, the env file.
set -eu

[ $# -eq 2 ] || {
    echo "error: usage: devcontainer_init.sh REPO_ROOT DIR" >&2
    exit 2
}
root=$1 dir=$2
helpers=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
# Inside a container (a CI job's, a dev container's own CLI) its python has the packages.
if ! [ -f /.dockerenv ] && [ "${HELPERS_IN_CONTAINER:-}" != 1 ]; then
    "$helpers/dev_scripts/thin_env/build.sh" >&2
fi
set +u -- # setenv.sh is written for interactive shells; `.` would pass our arguments on
# shellcheck source=thin_env/setenv.sh
. "$helpers/dev_scripts/thin_env/setenv.sh" || exit 2
cd "$root"
exec python -m helpers.cli.devcontainer "$dir"
