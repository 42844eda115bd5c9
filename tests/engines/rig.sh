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
#   rig.sh add-dockerd NAME [CERT_DIR PORT]
#                                     start another dockerd (a "remote" host),
#                                     NAME dockerd-…; prints its engine line
#   rig.sh remove-daemon NAME         remove an added dockerd: its containers
#                                     through it, the daemon, its folder
#
# Daemons: ctrd17 (containerd 1.7 from trixie, CRI with events), dockerd
# (bookworm's, on ctrd17), ctrd16 (bookworm's containerd 1.6, CRI without
# events), podman (bookworm's podman, its Docker API service), and today's
# engines from Debian sid: sid-ctrd (containerd 2.x with CRI), sid-dockerd
# (on sid-ctrd, with docker-cli and the `docker compose` plugin) and
# sid-podman. The sid daemons need sid's glibc: they run in a chroot, an
# overlay (DIR/sid/root) over the cached tree of install_sid.sh with private
# /run and /tmp and DIR bound at its own path, so sockets and files have one
# path inside and out; DIR/sid/bin has their command line tools. Every
# daemon keeps its files in DIR/<daemon>/. Every command but start takes the
# rig folder from WW_RIG_DIR. `start` writes DIR/env (shell) and
# DIR/engines.jsonl (one engine instance a line, what the tests iterate
# over).
#
# Added dockerds (tests start them for one test): bookworm's dockerd on
# ctrd17 in a containerd namespace of the rig's name, with its own data,
# exec root (runc state), cgroup parent and engine ID, the test image
# loaded. With CERT_DIR (ca.pem, cert.pem, key.pem: copied) it also
# listens on 127.0.0.1:PORT with --tlsverify. start-daemon and stop-daemon
# take its name like any daemon's; `stop` removes what is left of them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
CTRD17="$CACHE/containerd17/usr/bin"
SID="$CACHE/sid"
SID_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
IMAGE="ww-busybox:latest"
CTR_IMAGE="docker.io/library/ww-busybox:latest"
DAEMONS="ctrd17 dockerd ctrd16 podman sid-ctrd sid-dockerd sid-podman"
CONTAINERDS="ctrd17 ctrd16 sid-ctrd"
DOCKERDS="dockerd sid-dockerd"
PODMANS="podman sid-podman"

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

sid_daemon() { case $1 in sid-*) return 0 ;; *) return 1 ;; esac; }

# One of the programs of a daemon's engine (containerd, ctr, dockerd, docker,
# podman): the sid ones through their wrappers in DIR/sid/bin (sid_tools).
tool() { # DAEMON PROGRAM
  case $1 in
  sid-*) echo "$DIR/sid/bin/$2" ;;
  ctrd17) echo "$CTRD17/$2" ;;
  ctrd16) echo "/usr/bin/$2" ;;
  *) echo "$2" ;;
  esac
}
# The PATH a daemon of the host's tree runs with (the sid ones set their own).
path_of() { # DAEMON
  if [ "$1" = ctrd16 ]; then path16; else path17; fi
}

ctr_of() { # DAEMON ARGS...: ctr against one of the rig's containerds
  local d=$1
  shift
  PATH=$(path_of "$d") "$(tool "$d" ctr)" --address "$DIR/$d/containerd.sock" "$@"
}
docker_of() { # DAEMON ARGS...: the docker CLI against one of the rig's dockerds
  local d=$1
  shift
  DOCKER_CONFIG="$DIR/docker-cli" DOCKER_TLS_VERIFY="" DOCKER_CERT_PATH="" \
    "$(tool "$d" docker)" -H "unix://$DIR/$d/docker.sock" "$@"
}
# podman's command line on a podman daemon's storage (for env).
podman_cmd() { # DAEMON
  local d=$DIR/$1
  PODMAN=(CONTAINERS_CONF="$d/containers.conf" TMPDIR="$d/tmp" "$(tool "$1" podman)"
    --root "$d/storage" --runroot "$d/runroot" --tmpdir "$d/tmp"
    --storage-driver=overlay)
}
podman_of() { # DAEMON ARGS...
  podman_cmd "$1"
  shift
  env "${PODMAN[@]}" "$@"
}

# ---- the sid chroot ----------------------------------------------------------

# The rig's sid chroot: an overlay over the cached tree (which stays as it
# is), with /proc, /sys, /dev, a private /run and /tmp (shim sockets, FIFOs
# and any default runc root stay in the rig), and DIR at its own path.
sid_mount() {
  local root=$DIR/sid/root
  [ -f "$SID/ww-sid.stamp" ] || { log "no sid tree in $SID (tests/engines/install_sid.sh)"; return 1; }
  mkdir -p "$root" "$DIR/sid/upper" "$DIR/sid/work"
  # The overlay also makes the chroot a mount point (`docker import` needs
  # one: "remount /, flags: 0x84000").
  mount -t overlay ww-sid -o "lowerdir=$SID,upperdir=$DIR/sid/upper,workdir=$DIR/sid/work" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --make-rslave "$root/sys"
  mount --rbind /dev "$root/dev"
  mount --make-rslave "$root/dev"
  mount -t tmpfs -o mode=755 ww-sid-run "$root/run"
  mount -t tmpfs -o mode=1777 ww-sid-tmp "$root/tmp"
  mkdir -p "$root$DIR"
  mount --bind "$DIR" "$root$DIR"
}

# The sid programs for the host: DIR/sid/bin/NAME runs sid's NAME in the
# chroot, with a clean environment (and what the rig's tools need), in the
# caller's folder when the chroot has it (anything under DIR). All exec: a
# daemon started through one keeps the wrapper's PID.
sid_tools() {
  local name prog envs
  mkdir -p "$DIR/sid/bin"
  for name in containerd ctr dockerd docker podman; do
    prog=/usr/bin/$name envs=""
    case $name in
    dockerd) prog=/usr/sbin/dockerd ;;
    docker) envs="DOCKER_CONFIG=$DIR/docker-cli" ;;
    # podman 5 warns on every command about this machine's cgroup v1.
    podman) envs="CONTAINERS_CONF=$DIR/sid-podman/containers.conf TMPDIR=$DIR/sid-podman/tmp PODMAN_IGNORE_CGROUPSV1_WARNING=1" ;;
    esac
    cat >"$DIR/sid/bin/$name" <<EOF
#!/bin/sh
# Debian sid's $name in the test rig's chroot (written by rig.sh).
exec env -i PATH=$SID_PATH HOME=/root LC_ALL=C.UTF-8 $envs \\
  chroot $DIR/sid/root /bin/sh -c 'cd "\$0" 2>/dev/null || cd /; exec "\$@"' "\$PWD" $prog "\$@"
EOF
    chmod 755 "$DIR/sid/bin/$name"
  done
}

# ---- configuration ---------------------------------------------------------

containerd_config() { # DAEMON: a private containerd with CRI on
  local d=$DIR/$1 version=2 cri=io.containerd.grpc.v1.cri head bins
  mkdir -p "$d/cni/bin" "$d/cni/conf" "$d/runc" "$d/fifo"
  head="[plugins.\"io.containerd.internal.v1.opt\"]
  path = \"$d/opt\"
[plugins.\"$cri\"]
  sandbox_image = \"$CTR_IMAGE\""
  bins="bin_dir = \"$d/cni/bin\""
  if sid_daemon "$1"; then
    # containerd 2.x: config version 3; CRI's image and runtime settings
    # in plugins of their own; NRI on by default (its socket would be the
    # chroot's /var/run/nri).
    version=3 cri=io.containerd.cri.v1.runtime
    head="[plugins.\"io.containerd.nri.v1.nri\"]
  disable = true
[plugins.\"io.containerd.cri.v1.images\".pinned_images]
  sandbox = \"$CTR_IMAGE\"
[plugins.\"$cri\"]"
    bins="bin_dirs = [\"$d/cni/bin\"]"
  fi
  cat >"$d/config.toml" <<EOF
version = $version
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
$head
  restrict_oom_score_adj = true
  [plugins."$cri".cni]
    $bins
    conf_dir = "$d/cni/conf"
  [plugins."$cri".containerd]
    default_runtime_name = "runc"
    [plugins."$cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."$cri".containerd.runtimes.runc.options]
        Root = "$d/runc"
EOF
}

dockerd_config() { # DAEMON
  local d=$DIR/$1
  mkdir -p "$d"
  if sid_daemon "$1"; then
    echo '{}' >"$d/daemon.json"
  else
    # dockerd 20.10 keeps its ID key in /etc/docker unless told otherwise.
    echo "{\"deprecated-key-path\": \"$d/key.json\"}" >"$d/daemon.json"
  fi
}

podman_config() { # DAEMON
  local d=$DIR/$1 backend=cni
  mkdir -p "$d/tmp" "$d/bin" "$d/runc" "$d/networks" "$d/cni"
  # podman has no setting for runc's state folder, and its cleanup
  # processes do not inherit --runtime-flag: a wrapper gives runc its root.
  printf '#!/bin/sh\nexec /usr/sbin/runc --root %s "$@"\n' "$d/runc" >"$d/bin/runc"
  chmod 755 "$d/bin/runc"
  # podman 5 has no CNI: netavark, with no network of ours either.
  if sid_daemon "$1"; then backend=netavark; fi
  # File locks, not /dev/shm; a network backend with no plugins or networks
  # (containers run with --network none), so nothing touches the host's
  # network or firewall.
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
network_backend = "$backend"
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
  launch "$1" 30 ctr_of "$1" version -- \
    PATH="$(path_of "$1")" "$(tool "$1" containerd)" --config "$DIR/$1/config.toml"
}

# The containerd below a dockerd.
containerd_of() { if sid_daemon "$1"; then echo sid-ctrd; else echo ctrd17; fi; }

# --ip-forward=false: dockerd 20.10 turns the host's net.ipv4.ip_forward on
# otherwise, even without a bridge or iptables.
start_dockerd() { # DAEMON: one of DOCKERDS, or an added dockerd-…
  local d=$DIR/$1 extra=()
  # dockerd refuses to start over a pidfile of a live process (PIDs recycle).
  alive "$(pid_of "$d/pid")" || rm -f "$d/dockerd.pid"
  case $1 in dockerd-*)
    # Its own containerd namespaces: its containers apart from dockerd's.
    extra+=(--containerd-namespace "$(namespace_of "$1")"
      --containerd-plugins-namespace "$(namespace_of "$1")-plugins") ;;
  esac
  if [ -s "$d/tcp-port" ]; then
    extra+=(-H "tcp://127.0.0.1:$(cat "$d/tcp-port")" --tlsverify
      --tlscacert "$d/tls/ca.pem" --tlscert "$d/tls/cert.pem"
      --tlskey "$d/tls/key.pem")
  fi
  launch "$1" 30 ping_docker_api "$d/docker.sock" -- \
    PATH="$(path17)" "$(tool "$1" dockerd)" \
    --config-file "$d/daemon.json" \
    --containerd "$DIR/$(containerd_of "$1")/containerd.sock" \
    --data-root "$d/data" \
    --exec-root "$d/exec" \
    --pidfile "$d/dockerd.pid" \
    --cgroup-parent "$(cgroup_parent)/$1" \
    -H "unix://$d/docker.sock" \
    "${extra[@]}" \
    --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --ip-forward=false --userland-proxy=false --live-restore --log-level=warn
}

# The containerd namespace of an added dockerd: the rig's name in it, like
# every name the rig gives (the leftover check looks for them).
namespace_of() { echo "$(basename "$DIR")-$1"; }

# The added dockerds of the rig (their folders).
added_dockerds() {
  local d
  for d in "$DIR"/dockerd-*/; do [ -d "$d" ] && basename "$d"; done
  return 0
}

add_dockerd() { # NAME [CERT_DIR PORT]
  local name=$1 certs=${2:-} port=${3:-} d=$DIR/$1 f
  [[ "$name" =~ ^dockerd-[a-zA-Z0-9_.-]+$ ]] ||
    { log "an added dockerd is named dockerd-[a-zA-Z0-9_.-]+, not $name"; return 2; }
  [ ! -e "$d" ] || { log "$name exists"; return 2; }
  dockerd_config "$name"
  if [ -n "$certs" ]; then
    [ -n "$port" ] || { log "add-dockerd $name: a CERT_DIR needs a PORT"; return 2; }
    mkdir -p "$d/tls"
    for f in ca cert key; do install -m 600 "$certs/$f.pem" "$d/tls/$f.pem"; done
    echo "$port" >"$d/tcp-port"
  fi
  start_daemon "$name" || { remove_daemon "$name"; return 1; }
  docker_of "$name" load -q -i "$DIR/image.tar" >/dev/null ||
    { remove_daemon "$name"; return 1; }
  engine_line docker "$name" "$d/docker.sock" "$(version_of dockerd)" "\"docker\":\"docker\",\"containerd\":\"ctrd17\",\"runcRoot\":\"$d/exec/runtime-runc\",\"cgroupParent\":\"$(cgroup_parent)/$name\",\"namespace\":\"$(namespace_of "$name")\"$(
    [ -s "$d/tcp-port" ] && echo ",\"tcpPort\":$(cat "$d/tcp-port")"
  )"
}

# Removes an added dockerd: its containers through it, the daemon, what it
# left mounted, its cgroups and its folder.
remove_daemon() { # NAME
  local name=$1 d=$DIR/$1
  case "$name" in dockerd-*) ;; *) log "only added dockerds are removed, not $name"; return 2 ;; esac
  [ -d "$d" ] || return 0
  # Up again if a test left it stopped or frozen: its containers go
  # through it.
  if [ -e "$d/started" ]; then
    kill -s CONT "$(pid_of "$d/pid")" 2>/dev/null || true
    start_daemon "$name" >/dev/null 2>&1 || log "$name did not start again for the cleanup"
  fi
  remove_docker_containers "$name"
  stop_daemon "$name" TERM
  unmount_all "$d/"
  remove_cgroups "$(basename "$DIR")/$name"
  rm -rf "$d"
}

start_podman() { # DAEMON
  local d=$DIR/$1
  alive "$(pid_of "$d/pid")" || rm -f "$d/podman.sock"
  podman_cmd "$1"
  launch "$1" 30 ping_docker_api "$d/podman.sock" -- \
    "${PODMAN[@]}" system service --time=0 "unix://$d/podman.sock"
}

start_daemon() { # NAME
  local have
  have="$DAEMONS $(added_dockerds | tr '\n' ' ')"
  case " $have " in *" $1 "*) ;; *) log "no daemon $1 (have: $have)"; return 2 ;; esac
  touch "$DIR/$1/started"
  case "$1" in
  *ctrd*) start_ctrd "$1" ;;
  *dockerd | dockerd-*) start_dockerd "$1" ;;
  *podman) start_podman "$1" ;;
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
  local d ns
  for d in $DOCKERDS; do
    docker_of "$d" import -c 'CMD ["/bin/sleep","infinity"]' \
      "$DIR/rootfs.tar" "$IMAGE" >/dev/null
  done
  docker_of dockerd save "$IMAGE" -o "$DIR/image.tar"
  for d in $CONTAINERDS; do
    for ns in default k8s.io; do
      ctr_of "$d" -n "$ns" images import "$DIR/image.tar" >/dev/null
    done
  done
  for d in $PODMANS; do
    podman_cmd "$d"
    if sid_daemon "$d"; then
      env "${PODMAN[@]}" import -q -c 'CMD ["/bin/sleep","infinity"]' \
        "$DIR/rootfs.tar" "$IMAGE" >/dev/null
      continue
    fi
    # podman's import writes a blob cache to /var/lib/containers/cache,
    # which no option moves: an empty /var/lib of its own (a private mount)
    # takes it (the chroot's /var/lib is the rig's already).
    unshare --mount --propagation private sh -c \
      'mount -t tmpfs ww-rig /var/lib && exec env "$@"' sh "${PODMAN[@]}" \
      import -q -c 'CMD ["/bin/sleep","infinity"]' \
      "$DIR/rootfs.tar" "$IMAGE" >/dev/null
  done
}

version_of() { # BINARY...: the version word of `BINARY --version`
  "$@" --version | sed -E 's/^(Docker version |podman version |containerd github.com\/containerd\/containerd(\/v[0-9]+)? )([^ ,]+).*/\3/'
}

# Whether a containerd VERSION's CRI implements GetContainerEvents (1.7+).
cri_events() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  if [ "$major" -gt 1 ] || [ "$minor" -ge 7 ]; then echo true; else echo false; fi
}

# One engine instance: KIND DAEMON SOCKET VERSION [MORE JSON FIELDS].
engine_line() {
  printf '{"kind":"%s","version":"%s","daemon":"%s","pidFile":"%s","socket":"%s"%s}\n' \
    "$1" "$4" "$2" "$DIR/$2/pid" "$3" "${5:+,$5}"
}

# One JSON object a line per engine instance: what the tests run against
# (tests/engines/rig.ts reads it), the bookworm and trixie engines first.
# Paths hold no quotes or backslashes.
write_engines() {
  local d v s cg compose
  cg=$(cgroup_parent)
  for d in ctrd17 dockerd ctrd16 podman sid-ctrd sid-dockerd sid-podman; do
    case $d in
    *ctrd*)
      v=$(version_of "$(tool "$d" containerd)") s=$DIR/$d/containerd.sock
      engine_line containerd "$d" "$s" "$v" "\"ctr\":\"$(tool "$d" ctr)\",\"runcRoot\":\"$DIR/$d/runc\",\"fifoDir\":\"$DIR/$d/fifo\",\"cgroupParent\":\"$cg/$d\""
      engine_line cri "$d" "$s" "$v" "\"events\":$(cri_events "$v"),\"cgroupParent\":\"$cg/cri-$d\""
      ;;
    *dockerd)
      v=$(version_of "$(tool "$d" dockerd)")
      # The `docker compose` plugin, where the CLI has one.
      compose=$(docker_of "$d" compose version --short 2>/dev/null) || compose=""
      engine_line docker "$d" "$DIR/$d/docker.sock" "$v" "\"docker\":\"$(tool "$d" docker)\",\"containerd\":\"$(containerd_of "$d")\",\"runcRoot\":\"$DIR/$d/exec/runtime-runc\"${compose:+,\"compose\":\"$compose\"}"
      ;;
    *podman)
      # --stop-timeout 0: podman 5 removes a container (rm -f, also through
      # its Docker API) after its stop timeout, 10 s by default, and
      # busybox's sleep as PID 1 ignores SIGTERM.
      v=$(version_of "$(tool "$d" podman)")
      engine_line podman "$d" "$DIR/$d/podman.sock" "$v" "\"docker\":\"$(tool "$d" docker)\",\"runcRoot\":\"$DIR/$d/runc\",\"runFlags\":[\"--network\",\"none\",\"--cgroup-parent\",\"$cg/$d\",\"--stop-timeout\",\"0\"],\"podman\":[\"$(tool "$d" podman)\",\"--root\",\"$DIR/$d/storage\",\"--runroot\",\"$DIR/$d/runroot\",\"--tmpdir\",\"$DIR/$d/tmp\",\"--storage-driver=overlay\"],\"env\":{\"CONTAINERS_CONF\":\"$DIR/$d/containers.conf\",\"TMPDIR\":\"$DIR/$d/tmp\"}"
      ;;
    esac
  done >"$DIR/engines.jsonl"
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
remove_docker_containers() { # DAEMON
  local ids
  alive "$(pid_of "$DIR/$1/pid")" || return 0
  ids=$(docker_of "$1" ps -aq 2>/dev/null) || ids=""
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker_of "$1" rm -f $ids >/dev/null 2>&1 || true
  # A test's network (a compose project's default one) is a bridge on the
  # host that would outlive dockerd.
  docker_of "$1" network prune -f >/dev/null 2>&1 || true
}

remove_containers() {
  local d ns id
  for d in $DOCKERDS $(added_dockerds); do remove_docker_containers "$d"; done
  for d in $PODMANS; do
    # podman needs no daemon, only its storage (and the chroot for sid's).
    [ -d "$DIR/$d/storage" ] || continue
    podman_of "$d" rm -af -t 0 >/dev/null 2>&1 || true
  done
  for d in $CONTAINERDS; do
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
# container processes they started), conmon processes of its podmans, and
# whatever runs in a root under the rig (the sid chroot, containers).
rig_processes() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    case "$cmd" in
    *"-address $DIR/"*) echo "${p#/proc/}" ;;
    *conmon*"$DIR/"*) echo "${p#/proc/}" ;;
    *) case "$(readlink "$p/root" 2>/dev/null)" in "$DIR"/*) echo "${p#/proc/}" ;; esac ;;
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
# (The sid containerd's /run is the chroot's own.)
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

mounts_under_dir() { # [FOLDER/]: every mount under it (default: the rig's)
  awk -v d="${1:-$DIR/}" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r
}

unmount_all() { # [FOLDER/]
  local m
  for m in $(mounts_under_dir "${1:-}"); do
    umount -l "$m" 2>/dev/null || true
  done
}

# Thaws and removes the rig's cgroups (deepest first), in every hierarchy;
# or only those below one of them (a path below the rig's).
remove_cgroups() { # [CGROUP]
  local name root
  name=${1:-$(basename "$DIR")}
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
  mkdir -p "$DIR/docker-cli" "$DIR/cri-logs"
  echo '{}' >"$DIR/docker-cli/config.json"
  cp "$CACHE/busybox-rootfs.tar" "$DIR/rootfs.tar"
  for d in $CONTAINERDS; do containerd_config "$d"; done
  for d in $DOCKERDS; do dockerd_config "$d"; done
  for d in $PODMANS; do podman_config "$d"; done
  sid_mount
  sid_tools
  for d in $CONTAINERDS $DOCKERDS; do start_daemon "$d"; done
  import_images
  for d in $PODMANS; do start_daemon "$d"; done
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
  for d in $DAEMONS $(added_dockerds); do
    [ -e "$DIR/$d/started" ] || continue
    p=$(pid_of "$DIR/$d/pid")
    alive "$p" && kill -s CONT "$p" 2>/dev/null || true
    start_daemon "$d" >/dev/null 2>&1 || log "$d did not start again for the cleanup"
  done
  remove_containers
  for d in $(added_dockerds) $PODMANS $DOCKERDS $CONTAINERDS; do stop_daemon "$d" TERM; done
  kill_leftovers
  unmount_all
  remove_cgroups
  # Never through a mount (the sid chroot binds /dev and /sys).
  if [ -n "$(mounts_under_dir)" ]; then
    log "mounts left, so $DIR stays: $(mounts_under_dir | tr '\n' ' ')"
    exit 1
  fi
  rm -rf --one-file-system "$DIR"
  ;;
start-daemon)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  start_daemon "${2:?usage: rig.sh start-daemon NAME}"
  ;;
stop-daemon)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  stop_daemon "${2:?usage: rig.sh stop-daemon NAME [SIGNAL]}" "${3:-TERM}"
  ;;
add-dockerd)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  add_dockerd "${2:?usage: rig.sh add-dockerd NAME [CERT_DIR PORT]}" "${3:-}" "${4:-}"
  ;;
remove-daemon)
  DIR=${WW_RIG_DIR:?WW_RIG_DIR is not set}
  remove_daemon "${2:?usage: rig.sh remove-daemon NAME}"
  ;;
*)
  echo "usage: rig.sh start | stop | start-daemon NAME | stop-daemon NAME [KILL|TERM|STOP|CONT] | add-dockerd NAME [CERT_DIR PORT] | remove-daemon NAME" >&2
  exit 2
  ;;
esac
