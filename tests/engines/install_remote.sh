#!/usr/bin/env bash
# Installs what the remote-host tests need, idempotently: OpenSSH's server
# (the tests run their own sshd on a loopback port with a private config)
# and openssl (test certificates). A package that was not installed before
# is installed with a temporary policy-rc.d that forbids starting services,
# so the host gets no running sshd; the host's own policy-rc.d, if it has
# one, is left as it is.
set -euo pipefail

log() { echo "rig install (remote): $*" >&2; }

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ ${#need[@]} -eq 0 ] && exit 0

POLICY=/usr/sbin/policy-rc.d
made_policy=0
cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# whalewatcher rig: no service starts while installing\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  made_policy=1
fi
log "apt-get install ${need[*]}"
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
  install -y -qq --no-install-recommends "${need[@]}" >/dev/null
