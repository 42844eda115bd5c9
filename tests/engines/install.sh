#!/usr/bin/env bash
# Installs what the test rig needs, idempotently, and caches it:
# - bookworm's docker.io, containerd (1.6, for the CRI fallback test), runc,
#   busybox-static and podman, from the system's own apt sources;
# - containerd 1.7 from Debian trixie, downloaded with a private apt state
#   (same mirror as the system's sources, read at run time) and unpacked
#   into a private folder;
# - the busybox test image rootfs tarball;
# - Debian sid's engines in a root file system of their own (install_sid.sh).
set -euo pipefail

CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
mkdir -p "$CACHE"

log() { echo "rig install: $*" >&2; }

need=()
for pair in dockerd:docker.io containerd:containerd runc:runc \
  busybox:busybox-static podman:podman; do
  bin=${pair%%:*} pkg=${pair#*:}
  if [ "$bin" = busybox ]; then
    [ -x /bin/busybox ] || need+=("$pkg")
  elif ! command -v "$bin" >/dev/null 2>&1; then
    need+=("$pkg")
  fi
done
# shellcheck source=tests/engines/_apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/_apt.sh"
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]} (their services not started)"
  apt_install "${need[@]}"
fi

# containerd 1.7 from trixie, unpacked privately.
CTRD17="$CACHE/containerd17"
if [ ! -x "$CTRD17/usr/bin/containerd" ]; then
  log "downloading containerd from trixie"
  deb_unpack trixie containerd "$CTRD17" "$CACHE"
fi

# The busybox rootfs tarball: the static binary plus one link per applet.
ROOTFS="$CACHE/busybox-rootfs.tar"
if [ ! -s "$ROOTFS" ]; then
  tmp=$(mktemp -d)
  mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp" "$tmp/proc" "$tmp/sys" "$tmp/dev"
  cp /bin/busybox "$tmp/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$tmp/bin/$applet"
  done
  echo "root:x:0:0:root:/:/bin/sh" >"$tmp/etc/passwd"
  echo "root:x:0:" >"$tmp/etc/group"
  tar -C "$tmp" -cf "$ROOTFS.tmp" .
  mv "$ROOTFS.tmp" "$ROOTFS"
  rm -rf "$tmp"
fi
bash "$(dirname "${BASH_SOURCE[0]}")/install_sid.sh"
bash "$(dirname "${BASH_SOURCE[0]}")/install_consumers.sh"
bash "$(dirname "${BASH_SOURCE[0]}")/install_remote.sh"
log "ok ($CACHE)"
