#!/usr/bin/env bash
# Builds the Debian sid root file system that the rig runs today's engines
# in (docker.io with docker-cli and the `docker compose` v2 plugin,
# containerd 2.x with CRI, podman, runc): they need sid's glibc, so they
# run in a chroot (tests/engines/rig.sh mounts this cache read-only below an
# overlay of each rig's own). Idempotent and cached: a built tree with the
# current recipe is used as it is. Run as root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
SID="$CACHE/sid"
# Bump when the recipe changes: an older tree is rebuilt.
RECIPE=2
PACKAGES=(docker.io docker-cli docker-compose containerd runc podman)
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LOG="$CACHE/sid-build.log"

log() { echo "sid install: $*" >&2; }
die() {
  log "$*"
  exit 1
}
failed() { # WHAT: the end of the build log, then exit
  tail -n 30 "$LOG" >&2
  die "$1 failed (log: $LOG)"
}

[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$CACHE"

stamp_ok() { [ -f "$SID/ww-sid.stamp" ] && grep -qx "recipe $RECIPE" "$SID/ww-sid.stamp"; }

# Every path a mount list names under $1 (deepest first).
mounts_under() {
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r
}

in_build() { # ROOT CMD...: runs CMD in the tree being built
  local root=$1
  shift
  env -i PATH="$CHROOT_PATH" HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
}

# One builder at a time; a second one waits and then finds the cache.
exec 9>"$CACHE/sid.lock"
flock 9
if stamp_ok; then
  exit 0
fi
t0=$SECONDS
: >"$LOG"
# shellcheck source=tests/engines/_apt.sh
source "$HERE/_apt.sh"
if ! command -v debootstrap >/dev/null 2>&1; then
  log "apt-get install debootstrap"
  apt_install debootstrap >>"$LOG" 2>&1 || failed "apt-get install debootstrap"
fi
# Interrupted builds leave folders (maybe with mounts) that never count.
for old in "$CACHE"/sid.build.*; do
  [ -d "$old" ] || continue
  for m in $(mounts_under "$old"); do umount -l "$m" 2>/dev/null || true; done
  [ -z "$(mounts_under "$old")" ] && rm -rf --one-file-system "$old"
done
mirror=$(debian_mirror) || die "no Debian mirror found in apt sources"
build=$(mktemp -d "$CACHE/sid.build.XXXXXX")
trap 'umount -l "$build/proc" 2>/dev/null || true' EXIT
log "debootstrap sid (about 1.2 GB, once)"
debootstrap --variant=minbase sid "$build" "$mirror" >>"$LOG" 2>&1 || failed "debootstrap"
# The mirror may be a dated snapshot whose Release file sid's apt calls expired.
echo 'Acquire::Check-Valid-Until "false";' >"$build/etc/apt/apt.conf.d/99ww-valid-until"
# Nothing installed here may start a service.
printf '#!/bin/sh\nexit 101\n' >"$build/usr/sbin/policy-rc.d"
chmod 755 "$build/usr/sbin/policy-rc.d"
mount -t proc proc "$build/proc"
{
  in_build "$build" apt-get -o APT::Sandbox::User=root update -qq &&
    in_build "$build" apt-get -o APT::Sandbox::User=root install -y -qq \
      --no-install-recommends "${PACKAGES[@]}" &&
    in_build "$build" apt-get clean
} >>"$LOG" 2>&1 || failed "apt-get install in the chroot"
umount "$build/proc"
trap - EXIT
rm -rf "$build"/var/lib/apt/lists/* "$build"/var/cache/apt/*.bin
{
  echo "recipe $RECIPE"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $mirror"
  in_build "$build" dpkg-query -W "${PACKAGES[@]}" conmon libc6
} >"$build/ww-sid.stamp"
# An older recipe's tree is set aside; old trees go when no rig has one
# mounted (an overlay names its lower folder as it was at mount time).
[ -e "$SID" ] && mv "$SID" "$CACHE/sid.old.$$"
mv "$build" "$SID"
if ! grep -q "lowerdir=$SID[,:]" /proc/mounts; then
  for old in "$CACHE"/sid.old.*; do
    [ -d "$old" ] && rm -rf --one-file-system "$old"
  done
fi
log "built $SID in $((SECONDS - t0)) s: $(tr '\n' ' ' <"$SID/ww-sid.stamp")"
