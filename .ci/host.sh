#!/usr/bin/env bash
# The "host" engines of a CI run: what a developer's workstation has, on the
# default sockets. The suite must leave them exactly as they were.
#
#   host.sh start STATE     when nothing answers on /run/docker.sock or
#                           /run/containerd/containerd.sock: starts a
#                           containerd and a dockerd there, with one running
#                           container (their data under the folder STATE);
#                           otherwise starts nothing (a developer's engines)
#   host.sh state           prints the engines' state: daemon PIDs, and each
#                           container's ID, PID and status
#   host.sh stop STATE      stops what `start` started and removes STATE
set -uo pipefail

DOCKER_SOCK=/run/docker.sock
CTRD_SOCK=/run/containerd/containerd.sock
CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
CGROUP=ww-ci-host

log() { echo "host engines: $*" >&2; }

docker_up() { curl -sf --unix-socket "$DOCKER_SOCK" http://d/_ping >/dev/null 2>&1; }
ctrd_up() { [ -S "$CTRD_SOCK" ] && ctr --address "$CTRD_SOCK" version >/dev/null 2>&1; }

wait_for() { # SECONDS CMD...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# The PID of the process listening on a unix socket.
listener() {
  ss -xlpn 2>/dev/null | awk -v s="$1" '$5 == s' |
    sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -n 1
}

start() {
  local state=$1
  if docker_up || ctrd_up || [ -e "$DOCKER_SOCK" ] || [ -e "$CTRD_SOCK" ]; then
    log "engines already there: recording their state only"
    return 0
  fi
  mkdir -p "$state"
  [ -d /run/containerd ] || { mkdir -p /run/containerd && touch "$state/made-run-containerd"; }
  cat >"$state/containerd.toml" <<EOF
version = 2
root = "$state/containerd/root"
state = "$state/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$state/containerd/opt"
EOF
  echo "{\"deprecated-key-path\": \"$state/docker/key.json\"}" >"$state/daemon.json"
  setsid containerd --config "$state/containerd.toml" >"$state/containerd.log" 2>&1 </dev/null &
  echo $! >"$state/containerd.pid"
  wait_for 20 ctrd_up || { log "containerd did not start"; tail "$state/containerd.log" >&2; return 1; }
  setsid dockerd --config-file "$state/daemon.json" --containerd "$CTRD_SOCK" \
    -H "unix://$DOCKER_SOCK" --data-root "$state/docker" \
    --exec-root "$state/docker-exec" --pidfile "$state/dockerd.pid" \
    --cgroup-parent "/$CGROUP" --bridge=none --iptables=false \
    --ip-masq=false --ip6tables=false --log-level=warn \
    >"$state/dockerd.log" 2>&1 </dev/null &
  wait_for 30 docker_up || { log "dockerd did not start"; tail "$state/dockerd.log" >&2; return 1; }
  docker -H "unix://$DOCKER_SOCK" import -c 'CMD ["/bin/sleep","infinity"]' \
    "$CACHE/busybox-rootfs.tar" ww-ci-host:latest >/dev/null &&
    docker -H "unix://$DOCKER_SOCK" run -d --name ww-ci-host ww-ci-host:latest >/dev/null ||
    return 1
  log "started dockerd and containerd on $DOCKER_SOCK and $CTRD_SOCK, with one container"
}

state() {
  local id
  docker_up && echo "dockerd pid $(listener "$DOCKER_SOCK")"
  ctrd_up && echo "containerd pid $(listener "$CTRD_SOCK")"
  if docker_up; then
    for id in $(docker -H "unix://$DOCKER_SOCK" ps -aq --no-trunc); do
      docker -H "unix://$DOCKER_SOCK" inspect -f \
        'container {{.Id}} pid {{.State.Pid}} {{.State.Status}}' "$id"
    done
  fi
  return 0
}

gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

stop() {
  local state=$1 pid d
  if [ ! -s "$state/containerd.pid" ]; then
    rm -rf "$state"
    return 0
  fi
  docker -H "unix://$DOCKER_SOCK" rm -f ww-ci-host >/dev/null 2>&1
  for d in dockerd containerd; do
    pid=$(cat "$state/$d.pid" 2>/dev/null) || continue
    kill -s TERM "$pid" 2>/dev/null || continue
    wait_for 30 gone "$pid" || kill -s KILL "$pid" 2>/dev/null
  done
  rm -f "$DOCKER_SOCK" "$CTRD_SOCK" "$CTRD_SOCK.ttrpc"
  awk -v d="$state/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m"; done
  # /run/containerd/s holds shim sockets (removed by the shims themselves).
  if [ -e "$state/made-run-containerd" ]; then
    rmdir /run/containerd/s /run/containerd 2>/dev/null ||
      log "/run/containerd is not empty: left as it is"
  fi
  rm -rf "$state"
  find /sys/fs/cgroup/*/"$CGROUP" -depth -type d -exec rmdir {} \; 2>/dev/null
  return 0
}

case "${1:-}" in
start) start "${2:?usage: host.sh start STATE}" ;;
state) state ;;
stop) stop "${2:?usage: host.sh stop STATE}" ;;
*)
  echo "usage: host.sh start STATE | state | stop STATE" >&2
  exit 2
  ;;
esac
