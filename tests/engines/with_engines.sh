#!/usr/bin/env bash
# Runs a command with the test rig's engines up: reuses a running rig
# (WW_RIG_DIR set and its sockets answering), else starts one when root,
# stops it afterwards (also on failure or interrupt) and fails when the rig
# left anything on the host (tests/engines/leftovers.sh). Without root the
# command runs without engines: integration tests then skip loudly (fail
# under CI). For `deno test`, it also prints how many tests ran per engine
# version.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -n "${WW_RIG_DIR:-}" ] && [ -S "${WW_DOCKER_SOCK:-}" ] && [ -S "${WW_CONTAINERD_SOCK:-}" ]; then
  exec "$@"
fi

if [ "$(id -u)" != 0 ]; then
  echo "with_engines: not root, so no test engines are started" >&2
  exec "$@"
fi

before=$(bash "$HERE/leftovers.sh" snapshot)
env_file=$(bash "$HERE/rig.sh" start) || {
  echo "with_engines: the test rig did not start" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
  exec "$@"
}
# shellcheck disable=SC1090
source "$env_file"
dir=$WW_RIG_DIR

# `deno test` also writes a JUnit report, for the per-engine summary.
report=""
if [ "${1:-}" = deno ] && [ "${2:-}" = test ]; then
  report="$dir/junit.xml"
  set -- "$1" "$2" "--junit-path=$report" "${@:3}"
fi

# CMD runs in the background so that a signal reaches this script at once;
# it is passed on as TERM (background commands ignore INT).
interrupted=0
"$@" &
child=$!
trap 'interrupted=1; kill -TERM "$child" 2>/dev/null' INT TERM
wait "$child"
status=$?
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
  status=$?
done
trap - INT TERM

if [ -n "$report" ] && [ -s "$report" ]; then
  deno run --allow-read="$dir" "$HERE/summary.ts" "$report" "$dir/engines.jsonl" || true
fi
bash "$HERE/rig.sh" stop || echo "with_engines: stopping the rig failed" >&2
if ! bash "$HERE/leftovers.sh" check "$dir" <<<"$before"; then
  echo "with_engines: FAILED: the test rig left the above on the host" >&2
  [ "$status" -eq 0 ] && status=1
fi
if [ "$interrupted" = 1 ] && [ "$status" -eq 0 ]; then status=130; fi
exit "$status"
