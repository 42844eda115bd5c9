#!/usr/bin/env bash
# Runs a command with the test rig's engines up: reuses a running rig
# (WW_RIG_DIR set and its sockets answering), else starts one when root and
# stops it afterwards, also on failure or interrupt. Without root the command
# runs without engines: integration tests then skip loudly (fail under CI).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -n "${WW_RIG_DIR:-}" ] && [ -S "${WW_DOCKER_SOCK:-}" ] && [ -S "${WW_CONTAINERD_SOCK:-}" ]; then
  exec "$@"
fi

if [ "$(id -u)" != 0 ]; then
  echo "with_engines: not root, so no test engines are started" >&2
  exec "$@"
fi

env_file=$(bash "$HERE/rig.sh" start) || {
  echo "with_engines: the test rig did not start" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
  exec "$@"
}
# shellcheck disable=SC1090
source "$env_file"
cleanup() { bash "$HERE/rig.sh" stop || true; }
trap cleanup EXIT
# CMD runs in the background so that a signal reaches these traps at once;
# it is passed on as TERM (background commands ignore INT), then the rig stops.
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 130' INT
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 143' TERM
wait "$child"
