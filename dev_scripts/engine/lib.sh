# shellcheck shell=bash
# Shared helpers for the engine bootstrap scripts. Source it; do not run it.
#
# Conventions:
#   - results ("what is ready") go to stdout, one line per component;
#   - progress ("installing X", "starting Y") goes to stderr, short;
#   - every error is ONE line on stderr, `error: <what> (<where>): <how to fix>`,
#     and exit status 2.

HELPERS_STATE_DIR=${HELPERS_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/helpers}
# shellcheck disable=SC2034  # used by the scripts sourcing this file
HELPERS_CONFIG_DIR=${XDG_CONFIG_HOME:-$HOME/.config}/helpers
# shellcheck disable=SC2034
HELPERS_CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/helpers
_LOCK_FD=""

say() { printf '%s\n' "$*"; }
log() { printf 'bootstrap: %s\n' "$*" >&2; }

# die WHAT WHERE FIX
die() {
    printf 'error: %s (%s): %s\n' "$1" "$2" "$3" >&2
    exit 2
}

have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) == 0 ]]; }

# Logs, generated configs and the lock live here (never in a repo).
init_state_dir() {
    mkdir -p "$HELPERS_STATE_DIR" 2>/dev/null \
        || die "cannot create the state directory" "$HELPERS_STATE_DIR" \
            "make it writable or set HELPERS_STATE_DIR"
}

# Serialise the slow paths of concurrent bootstrap runs (two runs must not both
# start dockerd or the registry). Only taken after a fast probe failed.
take_lock() {
    [[ -n $_LOCK_FD ]] && return 0
    local file=$HELPERS_STATE_DIR/bootstrap.lock
    init_state_dir
    exec {_LOCK_FD}>>"$file"
    flock -w 600 "$_LOCK_FD" \
        || die "another bootstrap run holds the lock for 10 min" "$file" \
            "wait for it to finish or kill it"
}

release_lock() {
    [[ -z $_LOCK_FD ]] && return 0
    exec {_LOCK_FD}>&-
    _LOCK_FD=""
}

# Start a daemon fully detached: own session, stdin from /dev/null, output to
# a log file, and no other inherited descriptor (a CI runner's pipe or our lock
# kept open by a daemon would hang the job or hold the lock forever). Prints
# the daemon's pid.
start_detached() {
    local logfile=$1
    shift
    (
        close_inherited_fds
        exec setsid nohup "$@" >"$logfile" 2>&1 </dev/null
    ) &
    printf '%s\n' "$!"
}

close_inherited_fds() {
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then
            exec {fd}>&- 2>/dev/null || true
        fi
    done
}

# True if PID exists and is not a zombie.
pid_running() {
    local pid=$1 key value _
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/status ]] || return 1
    while read -r key value _; do
        if [[ $key == State: ]]; then
            [[ $value != Z ]]
            return
        fi
    done <"/proc/$pid/status" 2>/dev/null
    return 1
}

# ---- apt ---------------------------------------------------------------------

apt_lists_present() {
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

_apt() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@" \
        >>"$HELPERS_STATE_DIR/apt.log" 2>&1
}

# apt_install PKG... : install Debian packages without recommends; run
# `apt-get update` only when there are no package lists or the install failed.
apt_install() {
    local cmd="apt-get install -y -qq --no-install-recommends $*"
    if ! have apt-get; then
        die "missing $*" "no apt-get on this machine" "install $* with your package manager"
    fi
    if ! is_root; then
        die "missing $*" "not root" "run as root: apt-get update -qq && $cmd"
    fi
    local aptlog=$HELPERS_STATE_DIR/apt.log
    init_state_dir
    log "installing $* with apt-get (log: $aptlog)"
    if ! apt_lists_present; then
        _apt update -qq || die "apt-get update failed" "$aptlog" "check the Debian mirror is reachable"
    fi
    if ! _apt install -y -qq --no-install-recommends "$@"; then
        _apt update -qq || die "apt-get update failed" "$aptlog" "check the Debian mirror is reachable"
        _apt install -y -qq --no-install-recommends "$@" \
            || die "apt-get install $* failed" "$aptlog" "read the log, then run: $cmd"
    fi
}

# ---- files -------------------------------------------------------------------

# set_env_line FILE KEY VALUE: make FILE contain `KEY=VALUE` (replacing any
# existing KEY line, keeping the other lines), written atomically. Prints
# nothing; does not touch the file if it already has the line.
set_env_line() {
    local file=$1 key=$2 value=$3 line found=0 tmp
    local -a lines=()
    if [[ -f $file ]]; then
        while IFS= read -r line || [[ -n $line ]]; do
            if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?${key}= ]]; then
                ((found)) && continue
                line="$key=$value"
                found=1
            fi
            lines+=("$line")
        done <"$file"
    fi
    ((found)) || lines+=("$key=$value")
    if [[ -f $file ]] && [[ $(<"$file") == "$(printf '%s\n' "${lines[@]}")" ]]; then
        return 0
    fi
    if ! mkdir -p "$(dirname "$file")" 2>/dev/null || ! tmp=$(mktemp "$file.tmp.XXXXXX" 2>/dev/null); then
        die "cannot write settings" "$file" "make that directory writable or set XDG_CONFIG_HOME"
    fi
    printf '%s\n' "${lines[@]}" >"$tmp"
    if [[ -f $file ]]; then
        chmod --reference="$file" "$tmp"
    else
        chmod 644 "$tmp"
    fi
    mv -f "$tmp" "$file"
}
