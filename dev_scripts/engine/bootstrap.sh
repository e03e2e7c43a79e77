#!/usr/bin/env bash
# Make this machine ready to run the helpers toolchain: a running Docker engine
# and, on request, a local Python base image, a local registry and arm64
# emulation. Idempotent; when everything asked for is up it only probes.
#
# Usage: dev_scripts/engine/bootstrap.sh [--base] [--registry] [--qemu] [--all] [--arch A[,B]]
#   (no flag)   engine only: `docker info` must answer (installs docker.io and
#               starts dockerd when root on Debian)
#   --base      a local python base image for `ARG BASE_IMAGE` Dockerfiles,
#               recorded as HELPERS_BASE_IMAGE in ~/.config/helpers/machine.env
#   --registry  an open registry on 127.0.0.1:${HELPERS_REGISTRY_PORT:-5000}
#   --qemu      arm64 emulation through binfmt_misc (qemu-user-static) and a tiny
#               arm64 base image (helpers-busybox:arm64) for multi-arch trials
#   --all       all of the above
#   --arch A[,B]  with --base: also a runnable Python base for each foreign
#               architecture (arm64 on amd64: debootstrap under qemu, ~4 min once,
#               then cached), named <base>-<arch>; enables qemu when it builds one.
#               A multi-arch release of a dir on the local base uses it there
#   --ca-certs FILE  record FILE (PEM) as HELPERS_EXTRA_CA_CERTS in machine.env:
#               trusted in image builds and runs (TLS-intercepting proxies)
#
# Environment: DOCKER_HOST, HELPERS_BASE_IMAGE, HELPERS_LOCAL_BASE_IMAGE,
# HELPERS_DEBIAN_MIRROR, HELPERS_REGISTRY_PORT, HELPERS_REGISTRY_DIR,
# HELPERS_STATE_DIR (logs, registry config; default ~/.local/state/helpers),
# HELPERS_ENGINE_WAIT_S (default 30), HELPERS_DOCKERD_DATA_ROOT (where dockerd
# keeps its state; default: daemon.json's data-root or /var/lib/docker),
# XDG_CACHE_HOME, XDG_CONFIG_HOME.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

DOCKERD_PIDFILE=/var/run/docker.pid
DEFAULT_DOCKER_HOST=unix:///var/run/docker.sock
ENGINE_WAIT_S=${HELPERS_ENGINE_WAIT_S:-30}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

# Prints the server version when the engine answers.
engine_version() {
    have docker || return 1
    timeout 20 docker info --format '{{.ServerVersion}}' 2>/dev/null
}

# A dockerd that is alive: the pid file is trusted only when it names a live,
# non-zombie process called dockerd; a stale pid file is removed. Falls back to
# scanning /proc so that we never start a second daemon.
running_dockerd_pid() {
    local pid="" comm
    if [[ -f $DOCKERD_PIDFILE ]]; then
        read -r pid <"$DOCKERD_PIDFILE" || true
        if is_dockerd "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
        log "removing stale $DOCKERD_PIDFILE (pid ${pid:-?} is not a live dockerd)"
        rm -f "$DOCKERD_PIDFILE"
    fi
    for comm in /proc/[0-9]*/comm; do
        pid=${comm#/proc/}
        pid=${pid%/comm}
        if is_dockerd "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

is_dockerd() {
    local pid=$1 comm=""
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
    [[ $comm == dockerd ]] && pid_running "$pid"
}

install_docker() {
    if ! have apt-get; then
        die "Docker is not installed" "dockerd not on PATH" \
            "install Docker Engine: https://docs.docker.com/engine/install/"
    fi
    apt_install docker.io
}

# wait_for_engine PID LOG: until `docker info` answers (0), PID dies (1) or time
# is up (dies with a message).
wait_for_engine() {
    local pid=$1 logfile=$2 deadline=$((SECONDS + ENGINE_WAIT_S))
    until engine_version >/dev/null; do
        if ! pid_running "$pid"; then
            return 1
        fi
        if ((SECONDS >= deadline)); then
            die "dockerd did not answer within ${ENGINE_WAIT_S}s" "$logfile" "read that log"
        fi
        sleep 0.2
    done
}

# dockerd 20.10 panics at start in libnetwork's reservePools when its network
# store holds a network whose address allocation was never written (a create
# cut short by a killed daemon). Nothing but networks lives in that store: the
# default ones are recreated, user networks are lost (ours are per-run). Any
# other failure is left to the caller, with the log kept.
recover_network_store() {
    local logfile=$1 store
    if ! grep -q 'reservePools' "$logfile"; then
        die "dockerd exited while starting" "$logfile" "read the end of that log"
    fi
    store=$(docker_data_root)/network/files/local-kv.db
    [[ -f $store ]] || die "dockerd exited while starting" "$logfile" "read the end of that log"
    mv "$store" "$store.broken-$(date +%s)"
    log "dockerd could not load its network store (a network half-created); moved it aside: $store.broken-*"
}

docker_data_root() {
    local conf=/etc/docker/daemon.json root=${HELPERS_DOCKERD_DATA_ROOT:-}
    if [[ -z $root && -f $conf ]]; then
        root=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("data-root", ""))' "$conf" 2>/dev/null || true)
    fi
    printf '%s\n' "${root:-/var/lib/docker}"
}

# start_engine LOG: start dockerd; once more after a recoverable start failure.
start_engine() {
    local logfile=$1 pid
    log "starting dockerd (log: $logfile)"
    pid=$(start_detached "$logfile" dockerd)
    if ! wait_for_engine "$pid" "$logfile"; then
        recover_network_store "$logfile"
        log "starting dockerd again (log: $logfile)"
        pid=$(start_detached "$logfile" dockerd)
        wait_for_engine "$pid" "$logfile" ||
            die "dockerd exited while starting" "$logfile" "read the end of that log"
    fi
    say "engine: started (Docker $(engine_version), dockerd pid $pid, log: $logfile)"
}

ensure_engine() {
    local version pid logfile
    if version=$(engine_version); then
        say "engine: already running (Docker $version)"
        return 0
    fi
    if [[ -n ${DOCKER_HOST:-} && $DOCKER_HOST != "$DEFAULT_DOCKER_HOST" ]]; then
        die "the Docker engine does not answer" "DOCKER_HOST=$DOCKER_HOST" \
            "start that engine or unset DOCKER_HOST"
    fi
    take_lock
    if version=$(engine_version); then # another run started it meanwhile
        say "engine: already running (Docker $version)"
        release_lock
        return 0
    fi
    if ! have dockerd || ! have docker; then
        install_docker
    fi
    if ! is_root && [[ -S /var/run/docker.sock && ! -w /var/run/docker.sock ]]; then
        die "no permission to use the Docker engine" "/var/run/docker.sock" \
            "as root run: usermod -aG docker $(id -un), then log in again"
    fi
    if ! is_root; then
        die "the Docker engine is not running" "$DEFAULT_DOCKER_HOST" \
            "run this script as root ($HERE/bootstrap.sh) to start dockerd"
    fi
    logfile=$HELPERS_STATE_DIR/dockerd.log
    if pid=$(running_dockerd_pid); then
        log "dockerd (pid $pid) is running but not answering yet; waiting"
        logfile=$(readlink "/proc/$pid/fd/1" 2>/dev/null || echo "its log")
        wait_for_engine "$pid" "$logfile" ||
            die "dockerd exited while starting" "$logfile" "read the end of that log"
        say "engine: up (Docker $(engine_version), dockerd pid $pid)"
    else
        start_engine "$logfile"
    fi
    release_lock
}

record_ca_certs() {
    local file=$1 settings="${XDG_CONFIG_HOME:-$HOME/.config}/helpers/machine.env"
    [[ -f $file ]] || die "no such file $file" "bootstrap.sh --ca-certs" "pass a PEM bundle that exists"
    grep -q -- '-----BEGIN CERTIFICATE-----' "$file" ||
        die "$file holds no PEM certificate" "bootstrap.sh --ca-certs" "pass a PEM bundle"
    set_env_line "$settings" HELPERS_EXTRA_CA_CERTS "$file"
    say "ca certs: $file recorded as HELPERS_EXTRA_CA_CERTS in $settings"
}

main() {
    local base=0 registry=0 qemu=0 ca="" arches="" arg a
    while (($#)); do
        arg=$1
        shift
        case $arg in
            --ca-certs)
                (($#)) || die "--ca-certs needs a file" "bootstrap.sh" "pass --ca-certs FILE"
                ca=$1
                shift
                ;;
            --arch)
                (($#)) || die "--arch needs a value" "bootstrap.sh" "pass --arch arm64"
                arches=${1//,/ }
                shift
                ;;
            --base) base=1 ;;
            --registry) registry=1 ;;
            --qemu) qemu=1 ;;
            --all) base=1 registry=1 qemu=1 ;;
            -h | --help)
                usage
                return 0
                ;;
            *) die "unknown option $arg" "bootstrap.sh" "use --base, --registry, --qemu or --all" ;;
        esac
    done
    if [[ -n $arches ]] && ((!base)); then
        die "--arch chooses the architectures of --base" "bootstrap.sh" "pass --base --arch $arches"
    fi
    if [[ -n $ca ]]; then record_ca_certs "$ca"; fi
    ensure_engine
    if ((base)); then bash "$HERE/make_base_image.sh"; fi
    if ((registry)); then bash "$HERE/start_registry.sh"; fi
    if ((qemu)); then
        bash "$HERE/enable_qemu.sh"
        bash "$HERE/make_arm64_base.sh"
    fi
    for a in $arches; do
        bash "$HERE/make_base_image.sh" --arch "$a"
    done
}

# Sourced (by its tests) it only defines the functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
