#!/usr/bin/env bash
# Adopt helpers in a client repo in one command. Run it at the client root, with
# helpers already a submodule there (any dir name):
#
#   bash helpers_root/dev_scripts/adopt.sh [--force]
#
# Writes tasks.py, invoke.yaml, conftest.py (the pytest hook), the CI workflow
# (.github/workflows/helpers.yml) and the .gitignore entry, records which helpers
# version wrote them (.helpers-sync.json), builds the thin env, lists Dockerfiles
# that are not runnable dirs yet, and prints the next two commands. Idempotent:
# a second run changes nothing. A file that differs is left alone and shown as a
# diff; --force replaces it. Exit: 0 done, 1 files left differing, 2 bad usage.
set -u

die() {
    printf 'error: %s\n' "$*" >&2
    exit 2
}

self=${BASH_SOURCE[0]}
helpers=$(cd "$(dirname -- "$self")/.." && pwd -P) || die "cannot locate the helpers checkout ($self)"
force=()
for arg in "$@"; do
    case $arg in
        --force) force=(--force) ;;
        -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$self" && exit 0 ;;
        *) die "unknown argument '$arg' (adopt.sh): usage: adopt.sh [--force]" ;;
    esac
done

here=$(pwd -P)
top=$(git rev-parse --show-toplevel 2>/dev/null) ||
    die "$here is not in a git repo: run adopt.sh at your repo's root (git init there first)"
top=$(cd "$top" && pwd -P)
[ "$top" = "$here" ] || die "run adopt.sh at the repo root ($top), not in $here"
case $helpers in
    "$here"/*) rel=${helpers#"$here"/} ;;
    *) die "helpers ($helpers) is not inside this repo ($here): git submodule add <helpers-url> helpers_root, then run helpers_root/dev_scripts/adopt.sh" ;;
esac

"$helpers/dev_scripts/thin_env/build.sh" >&2 || exit $?
set -- # `.` would pass this script's arguments on to setenv.sh
# shellcheck source=thin_env/setenv.sh
. "$helpers/dev_scripts/thin_env/setenv.sh" || exit 2

rc=0
python -m helpers.cli.adopt ${force[@]+"${force[@]}"} || rc=$?
exit "$rc" # helpers.adopt printed the next steps
