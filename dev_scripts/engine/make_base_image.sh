#!/usr/bin/env bash
# Ensure a local Python base image for Dockerfiles taking `ARG BASE_IMAGE`
# (there is no Docker Hub on these machines, so `python:3.11-slim` can't be
# pulled). Called by bootstrap.sh --base once the engine answers.
#
#   make_base_image.sh [--arch ARCH]   # default: the machine's own architecture
#
# With a foreign --arch (arm64 on amd64) the image is <name>-<arch>, e.g.
# helpers-python:3.11-bookworm-arm64: debootstrapped under qemu (bootstrap.sh
# --qemu), cached as its own tarball, and built FROM scratch with `docker build
# --platform linux/<arch>` (`docker import --platform` does not label the
# architecture on 20.10). It is not recorded in machine.env: a multi-arch release
# whose base is the local <name> finds <name>-<arch> for that platform by itself.
#
#   1. HELPERS_BASE_IMAGE set and present locally or pullable -> use it, done.
#   2. the local image (HELPERS_LOCAL_BASE_IMAGE, default
#      helpers-python:3.11-bookworm) exists with the current recipe key -> done.
#   3. a cached rootfs tarball exists -> `docker import` it (seconds).
#   4. else debootstrap a minimal bookworm with python3 + pytest (~1 min, root),
#      make it look like python:3.11-slim, cache it as .tar.zst, import it.
# Then HELPERS_BASE_IMAGE=<name> is recorded in
# ${XDG_CONFIG_HOME:-~/.config}/helpers/machine.env.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

SUITE=bookworm
INCLUDE=python3,python3-pip,python3-venv,python3-pytest,python3-pytest-timeout,ca-certificates
# Bump when customize_rootfs or the import settings change: new cache key.
RECIPE=1
DEFAULT_MIRROR=http://deb.debian.org/debian
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

NATIVE_ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
ARCH=$NATIVE_ARCH
while (($#)); do
    case $1 in
        --arch)
            (($# > 1)) || die "--arch needs a value" "make_base_image.sh" "pass --arch arm64"
            ARCH=$2
            shift 2
            ;;
        *) die "unknown option $1" "make_base_image.sh" "use --arch ARCH" ;;
    esac
done
[[ $ARCH =~ ^(amd64|arm64)$ ]] \
    || die "unsupported --arch $ARCH" "make_base_image.sh" "use --arch amd64 or --arch arm64"

NAME=${HELPERS_LOCAL_BASE_IMAGE:-helpers-python:3.11-bookworm}
# The native key stays what it always was: a new key would rebuild every image here.
KEY=$(printf '%s\n' "$SUITE" "$INCLUDE" "$RECIPE" | sha256sum | cut -c1-12)
if [[ $ARCH != "$NATIVE_ARCH" ]]; then
    NAME=$NAME-$ARCH
    KEY=$(printf '%s\n' "$SUITE" "$INCLUDE" "$RECIPE" "$ARCH" | sha256sum | cut -c1-12)
fi
MIRROR=${HELPERS_DEBIAN_MIRROR:-$DEFAULT_MIRROR}
MACHINE_ENV=$HELPERS_CONFIG_DIR/machine.env
TARBALL=$HELPERS_CACHE_DIR/base/${NAME//[^A-Za-z0-9._-]/_}-$KEY.tar.zst
BUILD_ROOT=${TMPDIR:-/var/tmp}
WORK=""

foreign() { [[ $ARCH != "$NATIVE_ARCH" ]]; }
declare -A QEMU_NAME=([arm64]=aarch64 [amd64]=x86_64)
qemu_entry() { printf '/proc/sys/fs/binfmt_misc/qemu-%s' "${QEMU_NAME[$ARCH]}"; }
# The second stage of a foreign debootstrap runs the target's binaries: qemu via binfmt_misc.
qemu_ready() { [[ -r $(qemu_entry) && $(head -n1 "$(qemu_entry)") == enabled ]]; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

image_key() {
    docker image inspect --format '{{index .Config.Labels "helpers.base.key"}}' "$1" 2>/dev/null
}

# Unmount whatever debootstrap may have left mounted under a build dir, then
# remove it without ever crossing into another file system.
remove_build_dir() {
    local dir=$1 mnt
    local -a mounts=()
    [[ -d $dir ]] || return 0
    while read -r _ mnt _; do
        if [[ $mnt == "$dir"/* ]]; then mounts=("$mnt" "${mounts[@]}"); fi
    done </proc/mounts
    for mnt in "${mounts[@]}"; do umount -l "$mnt" || true; done
    rm -rf --one-file-system "$dir"
}

cleanup() {
    if [[ -n $WORK ]]; then remove_build_dir "$WORK"; fi
    rm -f "$TARBALL".tmp.*
}

# Leftovers of builds that were killed hard (we hold the lock: none is running).
remove_stale_builds() {
    local dir
    for dir in "$BUILD_ROOT"/helpers-base-"$ARCH".* "$BUILD_ROOT"/helpers-base.*; do
        if [[ -d $dir ]]; then
            log "removing leftover build dir $dir"
            remove_build_dir "$dir"
        fi
    done
    rm -f "$TARBALL".tmp.*
}

# Make the debootstrapped tree small and behave like the official slim image.
customize_rootfs() {
    local root=$1
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
        "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
    mkdir -p "$root/var/lib/apt/lists/partial"
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    ln -sfn /usr/bin/python3 "$root/usr/local/bin/python"
    ln -sfn /usr/bin/pip3 "$root/usr/local/bin/pip"
    {
        printf 'deb %s %s main\n' "$MIRROR" "$SUITE"
        printf 'deb %s %s-updates main\n' "$MIRROR" "$SUITE"
        if [[ $MIRROR == "$DEFAULT_MIRROR" ]]; then
            printf 'deb http://deb.debian.org/debian-security %s-security main\n' "$SUITE"
        fi
    } >"$root/etc/apt/sources.list"
    printf 'localhost\n' >"$root/etc/hostname"
}

build_tarball() {
    if ! is_root; then
        die "building the base image needs root (debootstrap)" "$TARBALL missing" \
            "run as root: $HERE/bootstrap.sh --base, or set HELPERS_BASE_IMAGE to an image you have"
    fi
    have debootstrap || apt_install debootstrap
    have zstd || apt_install zstd
    local buildlog=$HELPERS_STATE_DIR/debootstrap.log tmp
    remove_stale_builds
    WORK=$(mktemp -d "$BUILD_ROOT/helpers-base-$ARCH.XXXXXX")
    trap cleanup EXIT
    local took="~1 min"
    if foreign; then
        qemu_ready || die "no $ARCH emulation for debootstrap" "$(qemu_entry)" \
            "run $HERE/bootstrap.sh --qemu first"
        took="~4 min under qemu"
    fi
    log "building $NAME with debootstrap --arch $ARCH from $MIRROR ($took; log: $buildlog)"
    debootstrap --arch="$ARCH" --variant=minbase --include="$INCLUDE" "$SUITE" "$WORK/rootfs" \
        "$MIRROR" >"$buildlog" 2>&1 \
        || die "debootstrap failed" "$buildlog" \
            "read the log; check $MIRROR is reachable or set HELPERS_DEBIAN_MIRROR"
    customize_rootfs "$WORK/rootfs"
    if ! mkdir -p "$(dirname "$TARBALL")" 2>/dev/null \
        || ! tmp=$(mktemp "$TARBALL.tmp.XXXXXX" 2>/dev/null); then
        die "cannot write the base image cache" "$(dirname "$TARBALL")" \
            "make it writable or set XDG_CACHE_HOME"
    fi
    tar --numeric-owner -C "$WORK/rootfs" -cf - . | zstd -q -T0 -f -o "$tmp" \
        || die "packing the base rootfs failed" "$tmp" "check free space, then run again"
    mv -f "$tmp" "$TARBALL"
    cleanup
    trap - EXIT
}

import_tarball() {
    have zstd || apt_install zstd
    if foreign; then
        import_foreign
        return
    fi
    log "importing $TARBALL as $NAME"
    zstd -dcq "$TARBALL" | docker import \
        --change 'CMD ["python3"]' \
        --change "ENV PATH=$IMAGE_PATH" \
        --change 'ENV LANG=C.UTF-8' \
        --change "LABEL helpers.base=1 helpers.base.key=$KEY" \
        - "$NAME" >/dev/null \
        || die "docker import failed" "$TARBALL" "delete that file and run again to rebuild it"
}

# A foreign-architecture image: FROM scratch + ADD of the rootfs, built with --platform so
# its config says linux/$ARCH (docker import would label it with the host's architecture).
import_foreign() {
    local dir
    dir=$(mktemp -d "$BUILD_ROOT/helpers-base-import.XXXXXX")
    log "building $NAME (linux/$ARCH) from $TARBALL"
    if ! zstd -dcq "$TARBALL" >"$dir/rootfs.tar"; then
        rm -rf "$dir"
        die "unpacking the base rootfs failed" "$TARBALL" "delete that file and run again"
    fi
    printf '%s\n' 'FROM scratch' 'ADD rootfs.tar /' "ENV PATH=$IMAGE_PATH LANG=C.UTF-8" \
        "LABEL helpers.base=1 helpers.base.key=$KEY" 'CMD ["python3"]' >"$dir/Dockerfile"
    local buildlog=$HELPERS_STATE_DIR/base-build.log
    if ! docker build -q --platform "linux/$ARCH" --tag "$NAME" "$dir" >"$buildlog" 2>&1; then
        rm -rf "$dir"
        die "docker build of $NAME failed" "$buildlog" "read it; delete $TARBALL to rebuild from scratch"
    fi
    rm -rf "$dir"
}

# True (and reports) when HELPERS_BASE_IMAGE names a usable image.
use_configured_image() {
    local image=${HELPERS_BASE_IMAGE:-}
    [[ -n $image ]] || return 1
    if image_exists "$image"; then
        say "base image: $image (from HELPERS_BASE_IMAGE) already present"
        return 0
    fi
    if [[ $image != "$NAME" ]]; then
        log "pulling $image (HELPERS_BASE_IMAGE)"
        if timeout 300 docker pull -q "$image" >/dev/null 2>&1; then
            say "base image: $image (from HELPERS_BASE_IMAGE) pulled"
            return 0
        fi
        log "cannot find or pull $image; making the local base image $NAME instead"
    fi
    return 1
}

main() {
    local how
    if foreign; then
        if [[ $(image_key "$NAME") != "$KEY" && ! -s $TARBALL ]] && ! qemu_ready; then
            bash "$HERE/enable_qemu.sh" >&2
        fi
        ensure_image
        say "base image: $NAME (linux/$ARCH) $how"
        return 0
    fi
    use_configured_image && return 0
    ensure_image
    set_env_line "$MACHINE_ENV" HELPERS_BASE_IMAGE "$NAME"
    say "base image: $NAME $how; recorded HELPERS_BASE_IMAGE=$NAME in $MACHINE_ENV"
    if [[ -n ${HELPERS_BASE_IMAGE:-} && $HELPERS_BASE_IMAGE != "$NAME" ]]; then
        log "note: HELPERS_BASE_IMAGE=$HELPERS_BASE_IMAGE is set in your environment and overrides it"
    fi
}

# Sets `how`: what it took to have $NAME with the current recipe key.
ensure_image() {
    if [[ $(image_key "$NAME") == "$KEY" ]]; then
        how="already present"
    else
        take_lock
        if [[ $(image_key "$NAME") == "$KEY" ]]; then
            how="already present"
        elif [[ -s $TARBALL ]]; then
            import_tarball
            how="imported from $TARBALL"
        else
            build_tarball
            import_tarball
            how="built and cached in $TARBALL"
        fi
        release_lock
    fi
}

main "$@"
