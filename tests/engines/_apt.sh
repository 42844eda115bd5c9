# Sourced by install.sh and install_consumers.sh: installing packages
# without starting their services, and unpacking one package of another
# Debian suite into a folder without installing it.
# shellcheck shell=bash

# shellcheck source=tests/engines/_mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/_mirror.sh"

apt_() {
  # needrestart (an apt hook on some machines) would offer to restart host
  # services: suspended.
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
    apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# Installs packages (apt-get install ARGS...) from the system's sources.
# Debian starts the services of packages it installs: a policy-rc.d that
# denies every start keeps the new ones stopped, and leaves the services
# that run as they are. A host's own policy-rc.d is used as it is; ours is
# removed afterwards, only while it is still ours.
apt_install() {
  local guard="" marker="# whalewatcher test install: temporary"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n%s\nexit 101\n' "$marker" >"$guard"
    chmod 755 "$guard"
    trap 'grep -qs "'"$marker"'" '"$guard"' && rm -f '"$guard" EXIT
  fi
  apt_ update -qq >/dev/null &&
    apt_ install -y -qq "$@" >/dev/null
  local status=$?
  if [ -n "$guard" ]; then
    grep -qs "$marker" "$guard" && rm -f "$guard"
    trap - EXIT
  fi
  return $status
}

# Unpacks PACKAGE (name or name=version) of Debian SUITE into DEST, never
# installed: downloaded with a private apt state under CACHE, from the same
# mirror as the system's sources (read at run time).
deb_unpack() { # SUITE PACKAGE DEST CACHE
  local suite=$1 pkg=$2 dest=$3 cache=$4 mirror apt_dir
  mirror=$(debian_mirror) || { echo "no Debian mirror found in apt sources" >&2; return 1; }
  apt_dir=$(mktemp -d "$cache/apt.XXXXXX")
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/deb"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
    >"$apt_dir/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache::Archives=$apt_dir/deb"
    -o "APT::Sandbox::User=root")
  if apt-get "${opts[@]}" update -qq >/dev/null &&
    (cd "$apt_dir/deb" && apt-get "${opts[@]}" download "$pkg" >/dev/null); then
    rm -rf "$dest.tmp"
    dpkg -x "$apt_dir"/deb/"${pkg%%=*}"_*.deb "$dest.tmp"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    rm -rf "$apt_dir"
  else
    rm -rf "$apt_dir"
    echo "$pkg is not in $suite" >&2
    return 1
  fi
}
