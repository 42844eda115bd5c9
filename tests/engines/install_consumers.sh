#!/usr/bin/env bash
# Installs the real consumers the serve tests drive, idempotently:
# - bookworm's chromium (headless browser for the live page), prometheus
#   (and its promtool), openssl, without recommends;
# - kubectl 1.36.4 from Debian sid, downloaded with a private apt state (same
#   mirror as the system's sources, read at run time) and unpacked into the
#   cache folder, never installed: the deploy tests render the manifests
#   with it.
# Packages installed here must not start services: when the machine has no
# policy-rc.d, a temporary one denies every start while apt runs.
set -euo pipefail

CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
KUBECTL_VERSION=1.36.4+ds-1
mkdir -p "$CACHE"

log() { echo "consumers install: $*" >&2; }

apt_() {
  # needrestart (an apt hook on some machines) would offer to restart host
  # services: suspended.
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get -o DPkg::Lock::Timeout=600 "$@"
}

need=()
[ -x /usr/bin/chromium ] || need+=(chromium fonts-dejavu-core)
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    marker="# whalewatcher install_consumers.sh: temporary"
    printf '#!/bin/sh\n%s\nexit 101\n' "$marker" >"$guard"
    chmod 755 "$guard"
    # Removed only while it is still ours.
    trap 'grep -qs "$marker" "$guard" && rm -f "$guard"' EXIT
  fi
  log "apt-get install ${need[*]}"
  apt_ update -qq >/dev/null
  apt_ install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# kubectl from sid, unpacked privately (the machine's own kubectl, if any,
# may be another build).
KUBECTL_DIR="$CACHE/kubectl-$KUBECTL_VERSION"
if [ ! -x "$KUBECTL_DIR/usr/bin/kubectl" ]; then
  mirror=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /debian\/?$/ && $i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$mirror" ] && break
  done
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [ -n "$mirror" ] || { log "no Debian mirror found in apt sources"; exit 1; }
  apt_dir=$(mktemp -d "$CACHE/apt-kubectl.XXXXXX")
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/deb"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb [signed-by=$keyring] $mirror sid main" >"$apt_dir/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache::Archives=$apt_dir/deb"
    -o "APT::Sandbox::User=root")
  log "downloading kubectl $KUBECTL_VERSION from sid"
  apt-get "${opts[@]}" update -qq >/dev/null
  if ! (cd "$apt_dir/deb" && apt-get "${opts[@]}" download "kubectl=$KUBECTL_VERSION" >/dev/null); then
    rm -rf "$apt_dir"
    log "kubectl $KUBECTL_VERSION is not in sid any more: update KUBECTL_VERSION in $0"
    exit 1
  fi
  rm -rf "$KUBECTL_DIR.tmp"
  dpkg -x "$apt_dir"/deb/kubectl_*.deb "$KUBECTL_DIR.tmp"
  rm -rf "$KUBECTL_DIR"
  mv "$KUBECTL_DIR.tmp" "$KUBECTL_DIR"
  rm -rf "$apt_dir"
fi
log "ok (chromium, prometheus, promtool, openssl; $KUBECTL_DIR/usr/bin/kubectl)"
