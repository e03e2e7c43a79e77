#!/usr/bin/env bash
# Create or refresh the thin env: a virtualenv with the pinned packages the
# invoke tasks need on the host. It lives outside any repo, named by a hash of
# the pins and the python, so checkouts with the same pins share it.
# A no-op when up to date. Run from anywhere.
#
#   build.sh [--dev]    --dev: also requirements-dev.txt (to develop helpers)
#
# Environment: HELPERS_PYTHON (default python3), HELPERS_THIN_ENV_HOME (default
# ${XDG_CACHE_HOME:-~/.cache}/helpers/thin_env), HELPERS_THIN_ENV_INSTALLER=uv|pip
# (default: uv when on PATH, else pip).
set -u

die() {
    printf 'error: %s\n' "$*" >&2
    exit 2
}

self=${BASH_SOURCE[0]}
# shellcheck source=_lib.sh
. "$(dirname -- "$self")/_lib.sh" || exit 2
root=$(_hte_root "$self") || die "cannot locate the helpers checkout ($self)"

dev=0
for arg in "$@"; do
    case $arg in
        --dev) dev=1 ;;
        -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$self" && exit 0 ;;
        *) die "unknown argument '$arg' (build.sh): usage: build.sh [--dev]" ;;
    esac
done
case ${HELPERS_THIN_ENV_INSTALLER:-} in
    '' | uv | pip) ;;
    *) die "bad HELPERS_THIN_ENV_INSTALLER='$HELPERS_THIN_ENV_INSTALLER' (environment): use uv or pip, or unset it" ;;
esac

rc=0
_hte_probe "$root" "$dev" || rc=$?
case $rc in
    0) ;;
    127) die "python not found (HELPERS_PYTHON=$_hte_py): install python3 >= 3.9 or set HELPERS_PYTHON to one" ;;
    3) die "python $_hte_version is too old, 3.9+ needed ($(command -v "$_hte_py")): install a newer python3 or set HELPERS_PYTHON to one" ;;
    *) die "cannot run python ($_hte_py): $_hte_error" ;;
esac

home=$(_hte_home)
dir=$home/$_hte_key
if _hte_complete "$dir" "$_hte_key"; then
    echo "thin env up to date: $dir"
    exit 0
fi

installer=${HELPERS_THIN_ENV_INSTALLER:-}
if [ -z "$installer" ]; then
    installer=pip
    command -v uv >/dev/null 2>&1 && installer=uv
fi
if [ "$installer" = uv ]; then
    command -v uv >/dev/null 2>&1 ||
        die "uv not found on PATH (HELPERS_THIN_ENV_INSTALLER=uv): install uv (pip install uv) or use pip"
elif [ "$_hte_venv_ok" != 1 ]; then
    die "python module venv or ensurepip missing ($_hte_exe): install it (Debian/Ubuntu: apt-get install python3-venv) or install uv"
fi

mkdir -p "$home" || die "cannot create the env home ($home): fix permissions or set HELPERS_THIN_ENV_HOME"
# One build per env at a time; whoever waited finds it done.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$home/$_hte_key.lock" || die "cannot write a lock file ($home): fix permissions or set HELPERS_THIN_ENV_HOME"
    if ! flock -n 9; then
        echo "waiting for another build of $dir" >&2
        flock 9
    fi
    if _hte_complete "$dir" "$_hte_key"; then
        echo "thin env up to date: $dir"
        exit 0
    fi
fi

# Build in place; the marker, written last, makes the env count as done.
# Until then any exit (error, Ctrl-C) removes the dir.
log=$home/$_hte_key.log
rm -rf "$dir" || die "cannot remove a half-built env ($dir): remove it by hand"
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
reqs=(-r "$root/dev_scripts/thin_env/requirements.txt")
[ "$dev" = 1 ] && reqs+=(-r "$root/dev_scripts/thin_env/requirements-dev.txt")
t0=$("$_hte_exe" -c 'import time; print(time.time())')
: >"$log"

# step WHAT CMD...: runs CMD, output to the log; on failure says what failed, stops.
step() {
    local what=$1
    shift
    "$@" >>"$log" 2>&1 && return 0
    grep -q 'ensurepip is not' "$log" &&
        die "python module ensurepip missing ($_hte_exe): install it (Debian/Ubuntu: apt-get install python3-venv) or install uv"
    die "$installer failed $what (log: $log): nothing was kept; fix the cause shown in the log and rerun build.sh"
}
if [ "$installer" = uv ]; then
    step "creating the venv" uv venv --python "$_hte_exe" "$dir"
    step "installing the pinned requirements" uv pip install --python "$dir/bin/python" "${reqs[@]}"
else
    step "creating the venv" "$_hte_exe" -m venv "$dir"
    step "installing the pinned requirements" "$dir/bin/python" -m pip install --disable-pip-version-check "${reqs[@]}"
fi
# invoke's own script lets an early Ctrl-C print a traceback: ours says one line, exit 130.
for name in invoke inv; do
    { printf '#!%s -S\n' "$dir/bin/python" && cat "$root/dev_scripts/thin_env/invoke_launcher.py"; } >"$dir/bin/$name" &&
        chmod +x "$dir/bin/$name" || die "cannot write $dir/bin/$name: nothing was kept; check disk space"
done
if ! { printf '%s\n' "$_hte_key" >"$dir/$_HTE_MARKER.tmp" &&
    mv "$dir/$_HTE_MARKER.tmp" "$dir/$_HTE_MARKER"; }; then
    die "cannot write the marker ($dir): nothing was kept; check disk space and permissions"
fi
trap - EXIT
rm -f "$log"
secs=$("$_hte_exe" -c 'import sys, time; print("%.1f" % (time.time() - float(sys.argv[1])))' "$t0")
echo "thin env built in $secs s ($installer): $dir"
