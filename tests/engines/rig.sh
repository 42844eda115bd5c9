#!/usr/bin/env bash
# The test rig: a private containerd 1.7 (CRI plugin on) and a dockerd on top
# of it, all under one temp folder; the host's default sockets are never
# touched. Run as root.
#
#   rig.sh start            start everything; prints the env file's path
#   rig.sh stop             stop everything this rig started, remove its folder
#   rig.sh start-dockerd | stop-dockerd [KILL|TERM]
#   rig.sh start-containerd | stop-containerd [KILL|TERM]
#
# Every command but start takes the rig folder from WW_RIG_DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
CTRD17="$CACHE/containerd17/usr/bin"
IMAGE="ww-busybox:latest"
CTR_IMAGE="docker.io/library/ww-busybox:latest"

log() { echo "rig: $*" >&2; }

# bookworm's runc must win over anything else (trixie's needs a newer glibc);
# containerd 1.7's own shim comes next.
rig_path() { echo "/usr/sbin:$CTRD17:/usr/bin:/sbin:/bin"; }

pid_of() { [ -s "$1" ] && cat "$1" || true; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

wait_for() { # SECONDS CMD...: polls CMD until it succeeds
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

ctr_() { PATH=$(rig_path) "$CTRD17/ctr" --address "$DIR/containerd.sock" "$@"; }
docker_() { docker -H "unix://$DIR/docker.sock" "$@"; }

write_config() {
  mkdir -p "$DIR/cni/bin" "$DIR/cni/conf"
  cat >"$DIR/containerd.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
[grpc]
  address = "$DIR/containerd.sock"
[ttrpc]
  address = "$DIR/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CTR_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$DIR/cni/bin"
    conf_dir = "$DIR/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$DIR/runc-cri"
EOF
  echo '{}' >"$DIR/daemon.json"
}

start_containerd() {
  if alive "$(pid_of "$DIR/containerd.pid")"; then return 0; fi
  PATH=$(rig_path) setsid "$CTRD17/containerd" --config "$DIR/containerd.toml" \
    >>"$DIR/containerd.log" 2>&1 </dev/null &
  echo $! >"$DIR/containerd.pid"
  wait_for 20 ctr_ version || {
    log "containerd did not answer on $DIR/containerd.sock"
    tail -n 20 "$DIR/containerd.log" >&2
    return 1
  }
}

start_dockerd() {
  if alive "$(pid_of "$DIR/dockerd.pid")"; then return 0; fi
  rm -f "$DIR/dockerd.pid"
  PATH=$(rig_path) setsid dockerd \
    --config-file "$DIR/daemon.json" \
    --containerd "$DIR/containerd.sock" \
    --data-root "$DIR/docker" \
    --exec-root "$DIR/docker-exec" \
    --pidfile "$DIR/dockerd.pid" \
    -H "unix://$DIR/docker.sock" \
    --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --userland-proxy=false --live-restore --log-level=warn \
    >>"$DIR/dockerd.log" 2>&1 </dev/null &
  # dockerd writes its own pidfile (and refuses to start over an existing one)
  wait_for 30 curl -sf --unix-socket "$DIR/docker.sock" http://d/_ping || {
    log "dockerd did not answer on $DIR/docker.sock"
    tail -n 20 "$DIR/dockerd.log" >&2
    return 1
  }
}

stop_pidfile() { # PIDFILE SIGNAL
  local pid
  pid=$(pid_of "$1")
  alive "$pid" || return 0
  kill -s "$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do
    alive "$pid" || return 0
    sleep 0.05
  done
  kill -s KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.05; done
}

import_image() {
  docker_ import -c 'CMD ["/bin/sleep","infinity"]' \
    "$CACHE/busybox-rootfs.tar" "$IMAGE" >/dev/null
  docker_ save "$IMAGE" -o "$DIR/image.tar"
  for ns in default k8s.io; do
    ctr_ -n "$ns" images import --no-unpack=false "$DIR/image.tar" >/dev/null
  done
}

write_env() {
  cat >"$DIR/env" <<EOF
export WW_RIG_DIR=$DIR
export WW_RIG_SCRIPT=$HERE/rig.sh
export WW_DOCKER_SOCK=$DIR/docker.sock
export WW_CONTAINERD_SOCK=$DIR/containerd.sock
export WW_RIG_IMAGE=$IMAGE
export WW_RIG_CTR_IMAGE=$CTR_IMAGE
export WW_RIG_CTR=$CTRD17/ctr
EOF
}

# Kills what runs in this rig's containerd (every namespace), then its shims.
kill_tasks() {
  local ns id
  alive "$(pid_of "$DIR/containerd.pid")" || return 0
  for ns in $(ctr_ namespaces ls -q 2>/dev/null); do
    for id in $(ctr_ -n "$ns" tasks ls -q 2>/dev/null); do
      ctr_ -n "$ns" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
  done
}

# Kills this rig's shims and, first, the container processes they started
# (their children), so that nothing of the rig outlives it.
kill_shims() {
  local shims kids
  shims=$(pgrep -f -- "-address $DIR/containerd.sock" || true)
  [ -z "$shims" ] && return 0
  kids=$(for s in $shims; do pgrep -P "$s" || true; done)
  # shellcheck disable=SC2086
  [ -n "$kids" ] && kill -s KILL $kids 2>/dev/null || true
  # shellcheck disable=SC2086
  kill -s TERM $shims 2>/dev/null || true
  sleep 0.3
  shims=$(pgrep -f -- "-address $DIR/containerd.sock" || true)
  # shellcheck disable=SC2086
  [ -n "$shims" ] && kill -s KILL $shims 2>/dev/null || true
}

unmount_all() {
  local m
  for m in $(awk -v d="$DIR" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

cmd=${1:-}
case "$cmd" in
start)
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
  bash "$HERE/install.sh"
  DIR=$(mktemp -d /run/ww-rig.XXXXXX)
  chmod 755 "$DIR"
  t0=$SECONDS
  write_config
  trap 'log "start failed; cleaning up"; WW_RIG_DIR=$DIR bash "$HERE/rig.sh" stop' ERR
  start_containerd
  start_dockerd
  import_image
  write_env
  trap - ERR
  log "up in $((SECONDS - t0)) s: $DIR"
  echo "$DIR/env"
  ;;
stop)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  [ -d "$DIR" ] || exit 0
  case "$DIR" in /run/ww-rig.* | /tmp/ww-rig.*) ;; *) log "refusing to remove $DIR"; exit 1 ;; esac
  if alive "$(pid_of "$DIR/dockerd.pid")"; then
    docker_ ps -aq 2>/dev/null | xargs -r docker -H "unix://$DIR/docker.sock" rm -f >/dev/null 2>&1 || true
  fi
  stop_pidfile "$DIR/dockerd.pid" TERM
  kill_tasks
  kill_shims
  stop_pidfile "$DIR/containerd.pid" TERM
  kill_shims
  unmount_all
  rm -rf "$DIR"
  ;;
start-dockerd | start-containerd)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  "start_${cmd#start-}"
  ;;
stop-dockerd | stop-containerd)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  stop_pidfile "$DIR/${cmd#stop-}.pid" "${2:-TERM}"
  ;;
*)
  echo "usage: rig.sh start|stop|start-dockerd|stop-dockerd [KILL|TERM]|start-containerd|stop-containerd [KILL|TERM]" >&2
  exit 2
  ;;
esac
