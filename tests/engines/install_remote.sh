#!/usr/bin/env bash
# Installs what the remote-host tests need, idempotently: OpenSSH's server
# (the tests run their own sshd on a loopback port with a private config),
# its client's ssh-keygen, and openssl (test certificates). Packages
# installed here do not start their services (_apt.sh): the host gets no
# running sshd.
set -euo pipefail

log() { echo "rig install (remote): $*" >&2; }

# shellcheck source=tests/engines/_apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/_apt.sh"

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]} (their services not started)"
  apt_install --no-install-recommends "${need[@]}"
fi
log "ok (sshd, ssh-keygen, openssl)"
