#!/usr/bin/env bash
# A tiny linux/arm64 base image for multi-arch tests and trials on machines with no
# registry to pull from: Debian's busybox-static for arm64 in an image built FROM
# scratch with `docker build --platform linux/arm64` (docker import does not label
# the architecture on 20.10). Runs under qemu (bootstrap.sh --qemu).
#
#   make_arm64_base.sh [IMAGE]     # default helpers-busybox:arm64; a no-op when present
#
# The .deb comes through apt from the machine's own Debian mirror, with package
# lists kept in a private dir (the host's apt set-up is not changed), and is cached
# under ${XDG_CACHE_HOME:-~/.cache}/helpers/arm64.
set -euo pipefail
IMAGE=${1:-helpers-busybox:arm64}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "arm64 base: $IMAGE present"
    exit 0
fi
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/helpers/arm64
mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial"
APT=(-q -o "Dir::State::Lists=$CACHE/lists" -o "Dir::Cache::Archives=$CACHE/archives"
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1)
deb=$(ls "$CACHE"/busybox-static_*_arm64.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    apt-get "${APT[@]}" update >"$CACHE/apt.log" 2>&1
    (cd "$CACHE" && apt-get "${APT[@]}" download busybox-static:arm64 >>"$CACHE/apt.log" 2>&1)
    deb=$(ls "$CACHE"/busybox-static_*_arm64.deb | head -n1)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/root"
mkdir -p "$work/root/tmp" "$work/root/usr/local/bin"
chmod 1777 "$work/root/tmp"
for applet in sh ash cat echo env ls mkdir rm sleep true false uname id test grep; do
    ln -sf /bin/busybox "$work/root/bin/$applet"
done
tar -C "$work/root" -cf "$work/rootfs.tar" .
printf 'FROM scratch\nADD rootfs.tar /\nCMD ["/bin/sh"]\n' >"$work/Dockerfile"
docker build -q --platform linux/arm64 --tag "$IMAGE" "$work" >/dev/null
echo "arm64 base: built $IMAGE"
