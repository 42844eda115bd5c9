#!/usr/bin/env bash
# Installs what the test rig needs, idempotently, and caches it:
# - bookworm's docker.io, containerd (1.6, for the CRI fallback test), runc,
#   busybox-static and podman, from the system's own apt sources;
# - containerd 1.7 from Debian trixie, downloaded with a private apt state
#   (same mirror as the system's sources, read at run time) and unpacked
#   into a private folder;
# - the busybox test image rootfs tarball.
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
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian starts the services it installs; the rig runs its own and leaves
# the host's default sockets alone, so stop the packaged ones.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now docker.socket docker.service containerd.service \
    >/dev/null 2>&1 || true
fi

# containerd 1.7 from trixie, unpacked privately.
CTRD17="$CACHE/containerd17"
if [ ! -x "$CTRD17/usr/bin/containerd" ]; then
  # shellcheck source=tests/engines/_mirror.sh
  source "$(dirname "${BASH_SOURCE[0]}")/_mirror.sh"
  mirror=$(debian_mirror) || { log "no Debian mirror found in apt sources"; exit 1; }
  apt_dir="$CACHE/apt"
  rm -rf "$apt_dir"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/deb"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb [signed-by=$keyring] $mirror trixie main" >"$apt_dir/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache::Archives=$apt_dir/deb"
    -o "APT::Sandbox::User=root")
  log "downloading containerd from trixie"
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$apt_dir/deb" && apt-get "${opts[@]}" download containerd >/dev/null)
  rm -rf "$CTRD17.tmp"
  dpkg -x "$apt_dir"/deb/containerd_*.deb "$CTRD17.tmp"
  mv "$CTRD17.tmp" "$CTRD17"
  rm -rf "$apt_dir"
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
bash "$(dirname "${BASH_SOURCE[0]}")/install_remote.sh"
log "ok ($CACHE)"
