#!/usr/bin/env bash
# The main job on the bundled example client repo, from a fresh machine: set up
# what is missing, copy examples/client_repo into a new git repo with this
# checkout (its committed HEAD) as the `helpers_root` submodule, then test every
# runnable dir in its own container, in parallel, with one summary.
#
#   dev_scripts/demo.sh [DEST]    DEST: where to make the client repo (default: a new
#                                 temp dir, kept so you can cd in and try the tasks)
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=_setup.sh
source "$root/dev_scripts/_setup.sh"
setup_machine "$root" "--base" ""

dest=${1:-$(mktemp -d "${TMPDIR:-/tmp}/helpers-demo.XXXXXX")}
if [ -e "$dest/.git" ]; then
    echo "error: $dest already holds a git repo (demo.sh DEST): pick a new or empty dir" >&2
    exit 2
fi
mkdir -p "$dest"
cp -R "$root/examples/client_repo/." "$dest/"
cd "$dest"
cp .env.example .env
git_() { git -c user.name=helpers-demo -c user.email=demo@example.invalid -c protocol.file.allow=always "$@"; }
git_ init -q
git_ submodule add -q "$root" helpers_root
git_ add -A
git_ commit -q -m "example client repo with helpers as a submodule"
# Now the client repo is the root: put it and its helpers_root on PYTHONPATH.
set --
# shellcheck source=thin_env/setenv.sh
source helpers_root/dev_scripts/thin_env/setenv.sh

echo "demo: client repo at $dest"
echo "demo: python helpers_root/dev_scripts/main_pytest.py --dir . --if-missing build"
code=0
python helpers_root/dev_scripts/main_pytest.py --dir . --if-missing build || code=$?
echo
echo "demo: the client repo stays at $dest: cd there, source helpers_root/dev_scripts/thin_env/setenv.sh,"
echo "demo: then try invoke --list, invoke info, invoke run_tests --dir infra"
exit "$code"
