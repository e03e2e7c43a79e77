#!/usr/bin/env bash
# Ensure arm64 emulation for `docker build/run --platform linux/arm64`:
# qemu-user-static registered in binfmt_misc (with the fix-binary flag Debian
# uses, so it works inside containers). Called by bootstrap.sh --qemu.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

BINFMT_DIR=/proc/sys/fs/binfmt_misc
ENTRY=$BINFMT_DIR/qemu-aarch64

qemu_enabled() {
    local first=""
    [[ -r $ENTRY ]] && read -r first <"$ENTRY" && [[ $first == enabled ]]
}

main() {
    if qemu_enabled; then
        say "qemu: arm64 emulation already enabled"
        return 0
    fi
    take_lock
    if ! have update-binfmts || [[ ! -x /usr/bin/qemu-aarch64-static ]]; then
        apt_install qemu-user-static binfmt-support
    fi
    if ! is_root; then
        die "arm64 emulation is not enabled" "$ENTRY" \
            "as root run: mount -t binfmt_misc binfmt_misc $BINFMT_DIR; update-binfmts --enable qemu-aarch64"
    fi
    if [[ ! -e $BINFMT_DIR/register ]]; then
        log "mounting binfmt_misc on $BINFMT_DIR"
        mount -t binfmt_misc binfmt_misc "$BINFMT_DIR" \
            || die "cannot mount binfmt_misc" "$BINFMT_DIR" \
                "this kernel or container does not allow it; run on a VM/host where root can mount it"
    fi
    log "enabling qemu-aarch64 in binfmt_misc"
    update-binfmts --enable qemu-aarch64 >&2 \
        || die "update-binfmts --enable qemu-aarch64 failed" "$ENTRY" "run it by hand to see why"
    qemu_enabled || die "qemu-aarch64 is still not enabled" "$ENTRY" "run: update-binfmts --display qemu-aarch64"
    release_lock
    say "qemu: arm64 emulation enabled ($ENTRY)"
}

main "$@"
