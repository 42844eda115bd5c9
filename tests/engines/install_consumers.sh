#!/usr/bin/env bash
# Installs the real consumers the serve tests drive, idempotently:
# - bookworm's chromium (headless browser for the live page), prometheus
#   (and its promtool), openssl, without recommends;
# - kubectl 1.36.4 from Debian sid, downloaded with a private apt state (same
#   mirror as the system's sources, read at run time) and unpacked into the
#   cache folder, never installed: the deploy tests render the manifests
#   with it.
# Packages installed here do not start their services (_apt.sh).
set -euo pipefail

CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
KUBECTL_VERSION=1.36.4+ds-1
mkdir -p "$CACHE"

log() { echo "consumers install: $*" >&2; }

# shellcheck source=tests/engines/_apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/_apt.sh"

need=()
[ -x /usr/bin/chromium ] || need+=(chromium fonts-dejavu-core)
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]} (their services not started)"
  apt_install --no-install-recommends "${need[@]}"
fi

# kubectl from sid, unpacked privately (the machine's own kubectl, if any,
# may be another build).
KUBECTL_DIR="$CACHE/kubectl-$KUBECTL_VERSION"
if [ ! -x "$KUBECTL_DIR/usr/bin/kubectl" ]; then
  log "downloading kubectl $KUBECTL_VERSION from sid"
  deb_unpack sid "kubectl=$KUBECTL_VERSION" "$KUBECTL_DIR" "$CACHE" || {
    log "kubectl $KUBECTL_VERSION is not in sid any more: update KUBECTL_VERSION in $0"
    exit 1
  }
fi
log "ok (chromium, prometheus, promtool, openssl; $KUBECTL_DIR/usr/bin/kubectl)"
