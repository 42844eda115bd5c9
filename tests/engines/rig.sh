#!/usr/bin/env bash
# The test rig: every engine the tests run against, each on private sockets
# under one temp folder (/run/ww-rig.XXXXXX), with its runc state, FIFOs and
# cgroups under the rig's own names. The host's default sockets, its
# /run/containerd/runc and its cgroups are never touched. Run as root.
#
#   rig.sh start                      start every daemon; prints the env file
#   rig.sh stop                       remove every container through its
#                                     engine, stop the daemons, clean up
#   rig.sh start-daemon NAME          start one daemon again
#   rig.sh stop-daemon NAME [KILL|TERM|STOP|CONT]
#                                     stop one daemon (its containers live on)
#
# Daemons: ctrd17 (containerd 1.7 from trixie, CRI with events), dockerd
# (bookworm's, on ctrd17), ctrd16 (bookworm's containerd 1.6, CRI without
# events), podman (bookworm's podman, its Docker API service). Every command
# but start takes the rig folder from WW_RIG_DIR. `start` writes DIR/env
# (shell) and DIR/engines.jsonl (one engine instance a line, what the tests
# iterate over).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
CTRD17="$CACHE/containerd17/usr/bin"
IMAGE="ww-busybox:latest"
CTR_IMAGE="docker.io/library/ww-busybox:latest"
DAEMONS="ctrd17 dockerd ctrd16 podman"

log() { echo "rig: $*" >&2; }

# bookworm's runc must win over anything else (trixie's needs a newer glibc);
# containerd 1.7's own shim comes next.
path17() { echo "/usr/sbin:$CTRD17:/usr/bin:/sbin:/bin"; }
path16() { echo "/usr/sbin:/usr/bin:/sbin:/bin"; }

pid_of() { [ -s "$1" ] && cat "$1" || true; }

# A zombie is not alive (a daemon whose starter exited is reaped by PID 1,
# which may take a while).
alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
    [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

wait_for() { # SECONDS CMD...: polls CMD until it succeeds
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# ---- names every engine of this rig uses -----------------------------------

# The rig's cgroup parent (its folder's name): every container of every
# engine gets a cgroup below it, so the rig never touches a host's `docker`,
# `default` or `k8s.io` cgroups and can remove all of its own at the end.
cgroup_parent() { echo "/$(basename "$DIR")"; }

ctr_bin() { # DAEMON
  if [ "$1" = ctrd16 ]; then echo /usr/bin/ctr; else echo "$CTRD17/ctr"; fi
}
ctr_of() { # DAEMON ARGS...: ctr against one of the rig's containerds
  local d=$1
  shift
  if [ "$d" = ctrd16 ]; then
    PATH=$(path16) /usr/bin/ctr --address "$DIR/ctrd16/containerd.sock" "$@"
  else
    PATH=$(path17) "$CTRD17/ctr" --address "$DIR/$d/containerd.sock" "$@"
  fi
}
docker_() { DOCKER_CONFIG="$DIR/docker-cli" docker -H "unix://$DIR/dockerd/docker.sock" "$@"; }
# podman's command line on the rig's podman storage.
podman_cmd() {
  local d=$DIR/podman
  PODMAN=(CONTAINERS_CONF="$d/containers.conf" TMPDIR="$d/tmp" podman
    --root "$d/storage" --runroot "$d/runroot" --tmpdir "$d/tmp"
    --storage-driver=overlay)
}
podman_() {
  podman_cmd
  env "${PODMAN[@]}" "$@"
}

# ---- configuration ---------------------------------------------------------

containerd_config() { # DAEMON: a private containerd with CRI on
  local d=$DIR/$1
  mkdir -p "$d/cni/bin" "$d/cni/conf" "$d/runc" "$d/fifo"
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CTR_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$d/cni/bin"
    conf_dir = "$d/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$d/runc"
EOF
}

podman_config() {
  local d=$DIR/podman
  mkdir -p "$d/tmp" "$d/bin" "$d/runc" "$d/networks" "$d/cni"
  # podman has no setting for runc's state folder, and its cleanup
  # processes do not inherit --runtime-flag: a wrapper gives runc its root.
  printf '#!/bin/sh\nexec /usr/sbin/runc --root %s "$@"\n' "$d/runc" >"$d/bin/runc"
  chmod 755 "$d/bin/runc"
  # File locks, not /dev/shm; CNI with no plugins (containers run with
  # --network none), so nothing touches the host's network or firewall.
  cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
runtime = "runc"
tmp_dir = "$d/tmp"
static_dir = "$d/storage/libpod"
volume_path = "$d/storage/volumes"
image_copy_tmp_dir = "$d/tmp"
[engine.runtimes]
runc = ["$d/bin/runc"]
[network]
network_backend = "cni"
network_config_dir = "$d/networks"
cni_plugin_dirs = ["$d/cni"]
EOF
}

# ---- daemons ---------------------------------------------------------------

# Starts a daemon of the rig in the background (DIR/NAME/pid is its PID),
# then waits until CHECK... succeeds.
launch() { # NAME SECONDS CHECK -- CMD...
  local name=$1 secs=$2 d=$DIR/$1 check=()
  shift 2
  while [ "$1" != -- ]; do check+=("$1"); shift; done
  shift
  if alive "$(pid_of "$d/pid")"; then return 0; fi
  # setsid and env exec: $! is the daemon's own PID.
  setsid env "$@" >>"$d/log" 2>&1 </dev/null &
  echo $! >"$d/pid"
  wait_for "$secs" "${check[@]}" || {
    log "$name did not answer (${check[*]})"
    tail -n 20 "$d/log" >&2
    return 1
  }
}

ping_docker_api() { curl -sf --unix-socket "$1" http://d/_ping; }

start_ctrd() { # DAEMON
  local bin=$CTRD17/containerd path
  path=$(path17)
  if [ "$1" = ctrd16 ]; then bin=/usr/bin/containerd path=$(path16); fi
  launch "$1" 20 ctr_of "$1" version -- \
    PATH="$path" "$bin" --config "$DIR/$1/config.toml"
}

start_dockerd() {
  local d=$DIR/dockerd
  # dockerd refuses to start over a pidfile of a live process (PIDs recycle).
  alive "$(pid_of "$d/pid")" || rm -f "$d/dockerd.pid"
  launch dockerd 30 ping_docker_api "$d/docker.sock" -- \
    PATH="$(path17)" dockerd \
    --config-file "$d/daemon.json" \
    --containerd "$DIR/ctrd17/containerd.sock" \
    --data-root "$d/data" \
    --exec-root "$d/exec" \
    --pidfile "$d/dockerd.pid" \
    --cgroup-parent "$(cgroup_parent)/dockerd" \
    -H "unix://$d/docker.sock" \
    --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --userland-proxy=false --live-restore --log-level=warn
}

start_podman() {
  local d=$DIR/podman
  alive "$(pid_of "$d/pid")" || rm -f "$d/podman.sock"
  podman_cmd
  launch podman 20 ping_docker_api "$d/podman.sock" -- \
    "${PODMAN[@]}" system service --time=0 "unix://$d/podman.sock"
}

start_daemon() { # NAME
  touch "$DIR/$1/started"
  case "$1" in
  ctrd17 | ctrd16) start_ctrd "$1" ;;
  dockerd) start_dockerd ;;
  podman) start_podman ;;
  *) log "no daemon $1 (have: $DAEMONS)"; return 2 ;;
  esac
}

stop_daemon() { # NAME SIGNAL: signals the daemon; TERM and KILL wait for its end
  local pid
  pid=$(pid_of "$DIR/$1/pid")
  alive "$pid" || return 0
  kill -s "$2" "$pid" 2>/dev/null || true
  case "$2" in TERM | KILL) ;; *) return 0 ;; esac
  for _ in $(seq 1 200); do
    alive "$pid" || return 0
    sleep 0.05
  done
  kill -s KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.05; done
}

import_images() {
  docker_ import -c 'CMD ["/bin/sleep","infinity"]' \
    "$CACHE/busybox-rootfs.tar" "$IMAGE" >/dev/null
  docker_ save "$IMAGE" -o "$DIR/image.tar"
  local d ns
  for d in ctrd17 ctrd16; do
    for ns in default k8s.io; do
      ctr_of "$d" -n "$ns" images import --no-unpack=false "$DIR/image.tar" >/dev/null
    done
  done
  # podman's import writes a blob cache to /var/lib/containers/cache, which
  # no option moves: an empty /var/lib of its own (a private mount) takes it.
  podman_cmd
  unshare --mount --propagation private sh -c \
    'mount -t tmpfs ww-rig /var/lib && exec env "$@"' sh "${PODMAN[@]}" \
    import -q -c 'CMD ["/bin/sleep","infinity"]' \
    "$CACHE/busybox-rootfs.tar" "$IMAGE" >/dev/null
}

version_of() { # BINARY...: the version word of `BINARY --version`
  "$@" --version | sed -E 's/^(Docker version |podman version |containerd github.com\/containerd\/containerd )([^ ,]+).*/\2/'
}

# Whether a containerd VERSION's CRI implements GetContainerEvents (1.7+).
cri_events() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  if [ "$major" -gt 1 ] || [ "$minor" -ge 7 ]; then echo true; else echo false; fi
}

# One JSON object a line per engine instance: what the tests run against
# (tests/engines/rig.ts reads it). Paths hold no quotes or backslashes.
write_engines() {
  local c17 c16 dk pm cg d=$DIR
  c17=$(version_of "$CTRD17/containerd")
  c16=$(version_of /usr/bin/containerd)
  dk=$(version_of dockerd)
  pm=$(version_of podman)
  cg=$(cgroup_parent)
  cat >"$DIR/engines.jsonl" <<EOF
{"kind":"containerd","version":"$c17","daemon":"ctrd17","pidFile":"$d/ctrd17/pid","socket":"$d/ctrd17/containerd.sock","ctr":"$CTRD17/ctr","runcRoot":"$d/ctrd17/runc","fifoDir":"$d/ctrd17/fifo","cgroupParent":"$cg/ctrd17"}
{"kind":"cri","version":"$c17","daemon":"ctrd17","pidFile":"$d/ctrd17/pid","socket":"$d/ctrd17/containerd.sock","events":$(cri_events "$c17"),"cgroupParent":"$cg/cri-ctrd17"}
{"kind":"docker","version":"$dk","daemon":"dockerd","pidFile":"$d/dockerd/pid","socket":"$d/dockerd/docker.sock","containerd":"ctrd17","runcRoot":"$d/dockerd/exec/runtime-runc"}
{"kind":"containerd","version":"$c16","daemon":"ctrd16","pidFile":"$d/ctrd16/pid","socket":"$d/ctrd16/containerd.sock","ctr":"/usr/bin/ctr","runcRoot":"$d/ctrd16/runc","fifoDir":"$d/ctrd16/fifo","cgroupParent":"$cg/ctrd16"}
{"kind":"cri","version":"$c16","daemon":"ctrd16","pidFile":"$d/ctrd16/pid","socket":"$d/ctrd16/containerd.sock","events":$(cri_events "$c16"),"cgroupParent":"$cg/cri-ctrd16"}
{"kind":"podman","version":"$pm","daemon":"podman","pidFile":"$d/podman/pid","socket":"$d/podman/podman.sock","runcRoot":"$d/podman/runc","runFlags":["--network","none","--cgroup-parent","$cg/podman"],"podman":["podman","--root","$d/podman/storage","--runroot","$d/podman/runroot","--tmpdir","$d/podman/tmp","--storage-driver=overlay"],"env":{"CONTAINERS_CONF":"$d/podman/containers.conf","TMPDIR":"$d/podman/tmp"}}
EOF
}

write_env() {
  cat >"$DIR/env" <<EOF
export WW_RIG_DIR=$DIR
export WW_RIG_SCRIPT=$HERE/rig.sh
export WW_RIG_CGROUP=$(cgroup_parent)
export WW_DOCKER_SOCK=$DIR/dockerd/docker.sock
export WW_CONTAINERD_SOCK=$DIR/ctrd17/containerd.sock
export WW_RIG_IMAGE=$IMAGE
export WW_RIG_CTR_IMAGE=$CTR_IMAGE
export DOCKER_CONFIG=$DIR/docker-cli
EOF
}

# ---- stopping and cleaning up ----------------------------------------------

# Removes every container through its engine while the engines run: their
# shims and runc then delete their state and cgroups themselves.
remove_containers() {
  local d ns id
  if alive "$(pid_of "$DIR/dockerd/pid")"; then
    docker_ ps -aq 2>/dev/null | xargs -r docker -H "unix://$DIR/dockerd/docker.sock" rm -f >/dev/null 2>&1 || true
  fi
  if alive "$(pid_of "$DIR/podman/pid")" || [ -d "$DIR/podman/storage" ]; then
    podman_ rm -af -t 0 >/dev/null 2>&1 || true
  fi
  for d in ctrd17 ctrd16; do
    alive "$(pid_of "$DIR/$d/pid")" || continue
    for ns in $(ctr_of "$d" namespaces ls -q 2>/dev/null); do
      for id in $(ctr_of "$d" -n "$ns" tasks ls -q 2>/dev/null); do
        # Paused tasks cannot die until thawed.
        ctr_of "$d" -n "$ns" tasks resume "$id" >/dev/null 2>&1 || true
        ctr_of "$d" -n "$ns" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
      done
      for id in $(ctr_of "$d" -n "$ns" tasks ls -q 2>/dev/null); do
        wait_for 10 task_stopped "$d" "$ns" "$id" || true
        ctr_of "$d" -n "$ns" tasks delete -f "$id" >/dev/null 2>&1 || true
      done
      for id in $(ctr_of "$d" -n "$ns" containers ls -q 2>/dev/null); do
        ctr_of "$d" -n "$ns" containers rm "$id" >/dev/null 2>&1 || true
      done
    done
  done
}

task_stopped() { # DAEMON NS ID
  ctr_of "$1" -n "$2" tasks ls 2>/dev/null | awk -v id="$3" '$1 == id && $3 != "STOPPED" { found = 1 } END { exit found }'
}

# What outlived its engine: shims of this rig's containerds (and the
# container processes they started), conmon processes of its podman.
rig_processes() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    case "$cmd" in
    *"-address $DIR/"*) echo "${p#/proc/}" ;;
    *conmon*"$DIR/"*) echo "${p#/proc/}" ;;
    esac
  done
}

kill_leftovers() {
  local procs kids p
  procs=$(rig_processes)
  [ -z "$procs" ] && return 0
  kids=$(for p in $procs; do pgrep -P "$p" || true; done)
  # shellcheck disable=SC2086
  [ -n "$kids" ] && kill -s KILL $kids 2>/dev/null || true
  # shellcheck disable=SC2086
  kill -s KILL $procs 2>/dev/null || true
  for p in $procs $kids; do
    while alive "$p"; do sleep 0.02; done
  done
  remove_shim_sockets
}

# containerd keeps shim sockets in /run/containerd/s/ (named by a hash of
# containerd's address, namespace and ID); a shim killed leaves its socket.
remove_shim_sockets() {
  local d ns id hash
  for d in ctrd17 ctrd16; do
    [ -d "$DIR/$d/state/io.containerd.runtime.v2.task" ] || continue
    for ns in "$DIR/$d/state/io.containerd.runtime.v2.task"/*; do
      for id in "$ns"/*; do
        [ -d "$id" ] || continue
        hash=$(printf '%s' "$DIR/$d/containerd.sock/$(basename "$ns")/$(basename "$id")" | sha256sum | cut -d' ' -f1)
        rm -f "/run/containerd/s/$hash"
      done
    done
  done
}

unmount_all() {
  local m
  for m in $(awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# Thaws and removes the rig's cgroups (deepest first), in every hierarchy.
remove_cgroups() {
  local name root
  name=$(basename "$DIR")
  for root in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [ -d "$root" ] || continue
    if [ -e "$root/freezer.state" ]; then
      find "$root" -name freezer.state | while read -r f; do echo THAWED >"$f" 2>/dev/null || true; done
    fi
    find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null || true
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
  trap 'log "start failed; cleaning up"; WW_RIG_DIR=$DIR bash "$HERE/rig.sh" stop' ERR
  mkdir -p "$DIR/dockerd" "$DIR/docker-cli" "$DIR/cri-logs"
  echo '{}' >"$DIR/docker-cli/config.json"
  # dockerd 20.10 keeps its ID key in /etc/docker unless told otherwise.
  echo "{\"deprecated-key-path\": \"$DIR/dockerd/key.json\"}" >"$DIR/dockerd/daemon.json"
  containerd_config ctrd17
  containerd_config ctrd16
  podman_config
  start_daemon ctrd17
  start_daemon ctrd16
  start_daemon dockerd
  import_images
  start_daemon podman
  write_engines
  write_env
  trap - ERR
  log "up in $((SECONDS - t0)) s: $DIR"
  echo "$DIR/env"
  ;;
stop)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  [ -d "$DIR" ] || exit 0
  case "$DIR" in /run/ww-rig.* | /tmp/ww-rig.*) ;; *) log "refusing to remove $DIR"; exit 1 ;; esac
  # Every daemon that ran up again (a test may have left one stopped or
  # frozen), so that containers go through their engines.
  for d in $DAEMONS; do
    [ -e "$DIR/$d/started" ] || continue
    p=$(pid_of "$DIR/$d/pid")
    alive "$p" && kill -s CONT "$p" 2>/dev/null || true
    start_daemon "$d" >/dev/null 2>&1 || log "$d did not start again for the cleanup"
  done
  remove_containers
  for d in podman dockerd ctrd16 ctrd17; do stop_daemon "$d" TERM; done
  kill_leftovers
  unmount_all
  remove_cgroups
  rm -rf "$DIR"
  ;;
start-daemon)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  start_daemon "${2:?usage: rig.sh start-daemon NAME}"
  ;;
stop-daemon)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  stop_daemon "${2:?usage: rig.sh stop-daemon NAME [SIGNAL]}" "${3:-TERM}"
  ;;
*)
  echo "usage: rig.sh start | stop | start-daemon NAME | stop-daemon NAME [KILL|TERM|STOP|CONT]" >&2
  exit 2
  ;;
esac
