#!/usr/bin/env bash
# The tools helpers' own suite drives besides the engine, for a fresh machine (CI runs it
# after bootstrap.sh): headless Chromium (Debian's `chromium`, to open report.html) and the
# devcontainers CLI (npm `@devcontainers/cli`, pinned in node-tools.txt, installed with npm
# into a cache dir outside the repo). Idempotent: about 0.1 s when both are there.
#
# Usage: dev_scripts/engine/test_tools.sh
# Environment: HELPERS_NODE_PREFIX (default ${XDG_CACHE_HOME:-~/.cache}/helpers/node).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

prefix=${HELPERS_NODE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/helpers/node}

if ! have chromium; then
    apt_install chromium
fi
if ! have npm; then
    apt_install nodejs npm
fi
while read -r spec; do
    case $spec in "" | "#"*) continue ;; esac
    name=${spec%@*} version=${spec##*@}
    installed="$prefix/node_modules/$name/package.json"
    if [[ -f $installed ]] && grep -q "\"version\": \"$version\"" "$installed"; then
        continue
    fi
    log "installing $spec with npm into $prefix"
    npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" "$spec" >&2 \
        || die "npm install $spec failed" "see npm's output above" "check the npm registry is reachable"
done <"$HERE/node-tools.txt"
say "test tools ready: $(command -v chromium), $prefix/node_modules/.bin"
