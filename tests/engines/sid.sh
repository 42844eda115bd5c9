#!/usr/bin/env bash
# Today's engines for the test rig: Debian sid's dockerd (with the `docker
# compose` v2 plugin), containerd 2.x with CRI, podman and runc. They need
# sid's glibc, so they run in a cached sid root filesystem (debootstrap).
# Each rig mounts the cache as the lower layer of an overlay in its own
# folder: rigs never share state and the cache never changes.
# Run as root.
#
#   sid.sh install               build the cached chroot (idempotent)
#   sid.sh start DIR             start the engines under DIR/sid, write DIR/sid.env
#   sid.sh stop DIR              remove every container, stop, clean up, unmount
#   sid.sh start-dockerd | start-containerd | start-podman [DIR]
#   sid.sh stop-dockerd | stop-containerd | stop-podman [DIR] [KILL|TERM]
#
# DIR is an existing rig folder (e.g. `mktemp -d /run/ww-rig.XXXXXX`);
# without it the commands but start use WW_RIG_DIR. Everything of this rig
# lives in DIR/sid and DIR/sid.env, so it can share DIR with rig.sh; stop
# this rig before rig.sh removes DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WW_RIG_CACHE:-/var/cache/whalewatcher-rig}
SID="$CACHE/sid"
# Bump when the chroot's recipe changes: an older cache is rebuilt.
RECIPE=2
PACKAGES=(docker.io docker-cli docker-compose containerd runc podman)
IMAGE="ww-busybox:latest"
CTR_IMAGE="docker.io/library/ww-busybox:latest"
PODMAN_IMAGE="localhost/ww-busybox:latest"
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { echo "sid: $*" >&2; }
die() {
  log "$*"
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

wait_up() { # PID SECONDS CMD...: polls CMD until it succeeds, while PID lives
  local pid=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# Every path a mount list names under $1 (deepest first).
mounts_under() {
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r
}

unmount_under() {
  local m
  for m in $(mounts_under "$1"); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

# --- install ----------------------------------------------------------------

stamp_ok() { [ -f "$SID/ww-sid.stamp" ] && grep -qx "recipe $RECIPE" "$SID/ww-sid.stamp"; }

in_build() { # ROOT CMD...: runs CMD in the chroot being built
  local root=$1
  shift
  env -i PATH="$CHROOT_PATH" HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
}

install_sid() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  mkdir -p "$CACHE"
  local t0 build mirror
  t0=$(now)
  # One builder at a time; a second one waits and then finds the cache.
  exec 9>"$CACHE/sid.lock"
  flock 9
  if stamp_ok; then
    log "cached chroot $SID ($(since "$t0") s)"
    exec 9>&-
    return 0
  fi
  : >"$CACHE/sid-build.log"
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "apt-get install debootstrap"
    # NEEDRESTART_SUSPEND: apt's needrestart hook must not restart host services.
    {
      apt-get -o DPkg::Lock::Timeout=600 update -qq &&
        DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
          apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap
    } >>"$CACHE/sid-build.log" 2>&1 || {
      tail -n 30 "$CACHE/sid-build.log" >&2
      die "apt-get install debootstrap failed (log: $CACHE/sid-build.log)"
    }
  fi
  # Interrupted builds leave folders (maybe with mounts) that never count.
  for build in "$CACHE"/sid.build.*; do
    [ -d "$build" ] || continue
    unmount_under "$build"
    [ -z "$(mounts_under "$build")" ] && rm -rf --one-file-system "$build"
  done
  # shellcheck source=tests/engines/_mirror.sh
  source "$HERE/_mirror.sh"
  mirror=$(debian_mirror) || die "no Debian mirror found in apt sources"
  build=$(mktemp -d "$CACHE/sid.build.XXXXXX")
  trap 'unmount_under "'"$build"'"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  log "debootstrap sid into $build"
  debootstrap --variant=minbase sid "$build" "$mirror" >>"$CACHE/sid-build.log" 2>&1 || {
    tail -n 30 "$CACHE/sid-build.log" >&2
    die "debootstrap failed (log: $CACHE/sid-build.log)"
  }
  log "debootstrap done after $(since "$t0") s"
  # The mirror may be a dated snapshot whose Release file sid's apt calls expired.
  echo 'Acquire::Check-Valid-Until "false";' >"$build/etc/apt/apt.conf.d/99ww-valid-until"
  # Nothing installed here may start a service.
  printf '#!/bin/sh\nexit 101\n' >"$build/usr/sbin/policy-rc.d"
  chmod 755 "$build/usr/sbin/policy-rc.d"
  mount -t proc proc "$build/proc"
  {
    in_build "$build" apt-get -o APT::Sandbox::User=root update -qq &&
      in_build "$build" apt-get -o APT::Sandbox::User=root install -y -qq \
        --no-install-recommends "${PACKAGES[@]}" &&
      in_build "$build" apt-get clean
  } >>"$CACHE/sid-build.log" 2>&1 || {
    tail -n 30 "$CACHE/sid-build.log" >&2
    die "apt-get install in the chroot failed (log: $CACHE/sid-build.log)"
  }
  umount "$build/proc"
  trap - EXIT INT TERM
  rm -rf "$build"/var/lib/apt/lists/* "$build"/var/cache/apt/*.bin
  {
    echo "recipe $RECIPE"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $mirror"
    in_build "$build" dpkg-query -W "${PACKAGES[@]}" conmon libc6
  } >"$build/ww-sid.stamp"
  if [ -e "$SID" ]; then
    # An older recipe: set it aside; remove it unless a rig still uses it.
    local old="$CACHE/sid.old.$$"
    mv "$SID" "$old"
    grep -q "lowerdir=$old" /proc/mounts || rm -rf --one-file-system "$old"
  fi
  mv "$build" "$SID"
  exec 9>&-
  log "built $SID in $(since "$t0") s: $(tr '\n' ' ' <"$SID/ww-sid.stamp")"
}

# --- the running rig ----------------------------------------------------------

# Sets the paths of the rig in DIR ($1, or WW_RIG_DIR).
set_dir() {
  local d=${1:-${WW_RIG_DIR:-}}
  [ -n "$d" ] || die "no rig folder given (argument or WW_RIG_DIR)"
  [ -d "$d" ] || die "rig folder $d does not exist"
  DIR=$(cd "$d" && pwd -P)
  S="$DIR/sid"
  ROOT="$S/root"
  # A cgroup parent of this rig alone, so its containers' cgroups are easy to find.
  CG_PARENT="ww-sid-$(basename "$DIR" | tr -cd 'A-Za-z0-9')"
  PODMAN_GLOBAL=(--root "$S/podman/storage" --runroot "$S/podman/run"
    --tmpdir "$S/podman/tmp" --runtime runc --storage-driver overlay
    --cgroup-manager cgroupfs --events-backend file)
}

pid_of() { if [ -s "$1" ]; then cat "$1"; fi; }

# A zombie counts as gone: the daemons' parent is init once start has
# returned, and init may reap late.
alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

in_root() { # CMD...: runs CMD in the rig's chroot with a clean environment
  env -i PATH="$CHROOT_PATH" HOME=/root LC_ALL=C.UTF-8 \
    CONTAINERS_CONF="$S/containers.conf" PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
    chroot "$ROOT" "$@"
}

ctr_() { in_root /usr/bin/ctr --address "$S/containerd.sock" "$@"; }
docker_() { in_root /usr/bin/docker -H "unix://$S/docker.sock" "$@"; }
podman_() { in_root /usr/bin/podman "${PODMAN_GLOBAL[@]}" "$@"; }

mount_root() {
  stamp_ok || die "no sid chroot in $SID (run: sid.sh install)"
  mkdir -p "$ROOT" "$S/upper" "$S/work"
  if ! mountpoint -q "$ROOT"; then
    # The overlay makes the chroot a mount point too (`docker import` needs
    # that: "remount /, flags: 0x84000").
    mount -t overlay ww-sid -o "lowerdir=$SID,upperdir=$S/upper,workdir=$S/work" "$ROOT"
  fi
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  if ! mountpoint -q "$ROOT/sys"; then
    mount --rbind /sys "$ROOT/sys" # with /sys/fs/cgroup and its hierarchies
    mount --make-rslave "$ROOT/sys"
  fi
  if ! mountpoint -q "$ROOT/dev"; then
    mount --rbind /dev "$ROOT/dev"
    mount --make-rslave "$ROOT/dev"
  fi
  # Private /run and /tmp: shim sockets, fifos and runc's default root stay in the rig.
  mountpoint -q "$ROOT/run" || mount -t tmpfs -o mode=755 ww-sid-run "$ROOT/run"
  mountpoint -q "$ROOT/tmp" || mount -t tmpfs -o mode=1777 ww-sid-tmp "$ROOT/tmp"
  # The rig folder at the same path inside: sockets have one path for all.
  mkdir -p "$ROOT$DIR"
  mountpoint -q "$ROOT$DIR" || mount --bind "$DIR" "$ROOT$DIR"
}

write_config() {
  mkdir -p "$S/cni/bin" "$S/cni/conf" "$S/podman" "$S/bin"
  cat >"$S/containerd.toml" <<EOF
version = 3
root = "$S/containerd/root"
state = "$S/containerd/state"
[grpc]
  address = "$S/containerd.sock"
[ttrpc]
  address = "$S/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "$CTR_IMAGE"
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$S/cni/bin"]
    conf_dir = "$S/cni/conf"
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        Root = "$S/runc-cri"
EOF
  echo '{}' >"$S/daemon.json"
  cat >"$S/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
  # CLI wrappers for the host: one executable each, keeping the caller's
  # folder when the chroot has it (compose files under DIR).
  local name cmd
  for name in docker ctr podman; do
    case $name in
    docker) cmd="/usr/bin/docker -H unix://$S/docker.sock" ;;
    ctr) cmd="/usr/bin/ctr --address $S/containerd.sock" ;;
    podman) cmd="/usr/bin/podman ${PODMAN_GLOBAL[*]}" ;;
    esac
    cat >"$S/bin/$name" <<EOF
#!/bin/sh
# $name of the sid rig in $DIR (generated by sid.sh)
exec env -i PATH=$CHROOT_PATH HOME=/root LC_ALL=C.UTF-8 CONTAINERS_CONF=$S/containers.conf PODMAN_IGNORE_CGROUPSV1_WARNING=1 \\
  chroot $ROOT /bin/sh -c 'cd "\$0" 2>/dev/null || cd /; exec "\$@"' "\$PWD" $cmd "\$@"
EOF
    chmod 755 "$S/bin/$name"
  done
}

start_containerd() {
  if alive "$(pid_of "$S/containerd.pid")"; then return 0; fi
  # setsid and chroot exec: the recorded PID is containerd itself.
  setsid env -i PATH="$CHROOT_PATH" HOME=/root chroot "$ROOT" \
    /usr/bin/containerd --config "$S/containerd.toml" \
    >>"$S/containerd.log" 2>&1 </dev/null &
  echo $! >"$S/containerd.pid"
  wait_up $! 30 ctr_ version || {
    tail -n 20 "$S/containerd.log" >&2
    die "containerd did not answer on $S/containerd.sock"
  }
}

start_dockerd() {
  if alive "$(pid_of "$S/dockerd.pid")"; then return 0; fi
  rm -f "$S/dockerd.pid"
  setsid env -i PATH="$CHROOT_PATH" HOME=/root chroot "$ROOT" \
    /usr/sbin/dockerd \
    --config-file "$S/daemon.json" \
    --containerd "$S/containerd.sock" \
    --data-root "$S/docker" \
    --exec-root "$S/docker-exec" \
    --pidfile "$S/dockerd.pid" \
    -H "unix://$S/docker.sock" \
    --cgroup-parent "/$CG_PARENT" \
    --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --userland-proxy=false --live-restore --log-level=warn \
    >>"$S/dockerd.log" 2>&1 </dev/null &
  # dockerd writes its own pidfile (and refuses to start over a live one).
  wait_up $! 30 curl -sf --unix-socket "$S/docker.sock" http://d/_ping || {
    tail -n 20 "$S/dockerd.log" >&2
    die "dockerd did not answer on $S/docker.sock"
  }
}

start_podman() {
  if alive "$(pid_of "$S/podman.pid")"; then return 0; fi
  rm -f "$S/podman.sock"
  setsid env -i PATH="$CHROOT_PATH" HOME=/root CONTAINERS_CONF="$S/containers.conf" \
    PODMAN_IGNORE_CGROUPSV1_WARNING=1 chroot "$ROOT" /usr/bin/podman "${PODMAN_GLOBAL[@]}" \
    system service --time=0 "unix://$S/podman.sock" \
    >>"$S/podman.log" 2>&1 </dev/null &
  echo $! >"$S/podman.pid"
  wait_up $! 30 curl -sf --unix-socket "$S/podman.sock" http://d/_ping || {
    tail -n 20 "$S/podman.log" >&2
    die "podman did not answer on $S/podman.sock"
  }
}

import_images() {
  cp "$CACHE/busybox-rootfs.tar" "$S/busybox-rootfs.tar"
  docker_ import -c 'CMD ["/bin/sleep","infinity"]' "$S/busybox-rootfs.tar" "$IMAGE" >/dev/null
  docker_ save "$IMAGE" -o "$S/image.tar"
  local ns
  # k8s.io: the CRI sandbox image (pinned under the same name).
  for ns in default k8s.io; do
    ctr_ -n "$ns" images import "$S/image.tar" >/dev/null
  done
  podman_ import -q -c 'CMD ["/bin/sleep","infinity"]' "$S/busybox-rootfs.tar" "$PODMAN_IMAGE" >/dev/null
}

write_env() {
  local docker_v api_v compose_v ctrd_v podman_v podman_api runc_v
  docker_v=$(docker_ version --format '{{.Server.Version}}')
  api_v=$(docker_ version --format '{{.Server.APIVersion}}')
  compose_v=$(docker_ compose version --short)
  ctrd_v=$(ctr_ version | awk '/^Server:/ { s = 1 } s && $1 == "Version:" { print $2; exit }')
  podman_v=$(curl -sf --unix-socket "$S/podman.sock" http://d/version |
    sed -n 's/.*"Components":\[{"Name":"Podman Engine","Version":"\([^"]*\)".*/\1/p')
  podman_api=$(curl -sf --unix-socket "$S/podman.sock" http://d/version |
    sed -n 's/.*"ApiVersion":"\([^"]*\)".*/\1/p')
  runc_v=$(in_root /usr/bin/runc --version | awk 'NR == 1 { print $3 }')
  cat >"$DIR/sid.env.tmp" <<EOF
export WW_SID_DIR=$S
export WW_SID_ROOT=$ROOT
export WW_SID_SCRIPT=$HERE/sid.sh
export WW_SID_DOCKER_SOCK=$S/docker.sock
export WW_SID_CONTAINERD_SOCK=$S/containerd.sock
export WW_SID_PODMAN_SOCK=$S/podman.sock
export WW_SID_DOCKER=$S/bin/docker
export WW_SID_CTR=$S/bin/ctr
export WW_SID_PODMAN=$S/bin/podman
export WW_SID_RUNC_ROOT=$S/runc
export WW_SID_DOCKER_CGROUP_PARENT=/$CG_PARENT
export WW_SID_IMAGE=$IMAGE
export WW_SID_CTR_IMAGE=$CTR_IMAGE
export WW_SID_PODMAN_IMAGE=$PODMAN_IMAGE
export WW_SID_DOCKER_VERSION=$docker_v
export WW_SID_DOCKER_API_VERSION=$api_v
export WW_SID_COMPOSE_VERSION=$compose_v
export WW_SID_CONTAINERD_VERSION=$ctrd_v
export WW_SID_PODMAN_VERSION=$podman_v
export WW_SID_PODMAN_API_VERSION=$podman_api
export WW_SID_RUNC_VERSION=$runc_v
EOF
  mv "$DIR/sid.env.tmp" "$DIR/sid.env"
}

start_failed() { # EXIT trap of start
  trap - EXIT
  log "start failed; cleaning up"
  stop_all || true
  exit "$1"
}

start_all() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -s "$CACHE/busybox-rootfs.tar" ] || die "no busybox image in $CACHE (run tests/engines/install.sh)"
  install_sid
  local t0
  t0=$(now)
  mkdir -p "$S"
  # Which cgroups were there before, so that stop removes only what this rig made.
  ls -d /sys/fs/cgroup/*/* >"$S/cgroups.before" 2>/dev/null || true
  # Any failure (also `die`, which exits) leaves nothing behind.
  trap 'start_failed $?' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mount_root
  write_config
  start_containerd
  start_dockerd
  start_podman
  import_images
  write_env
  trap - EXIT INT TERM
  log "up in $(since "$t0") s: $DIR/sid.env"
  echo "$DIR/sid.env"
}

# --- stopping -----------------------------------------------------------------

stop_pidfile() { # PIDFILE SIGNAL
  local pid
  pid=$(pid_of "$1")
  alive "$pid" || return 0
  kill -s "$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    alive "$pid" || return 0
    sleep 0.05
  done
  kill -s KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.05; done
}

# Processes running in this rig's chroot (daemons, shims, conmon) or in a
# root file system under it (containers).
rooted_pids() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case $r in "$ROOT" | "$ROOT"/*) echo "${p#/proc/}" ;; esac
  done
  return 0
}

# The cgroups of this rig: its dockerd's parent and every container cgroup
# that a runc state file under the rig names (shims killed before `runc
# delete` leave those behind).
rig_cgroups() {
  local f
  {
    for f in /sys/fs/cgroup/*/"$CG_PARENT" /sys/fs/cgroup/"$CG_PARENT"; do
      [ -d "$f" ] && echo "$f"
    done
    {
      find "$S" -path "$ROOT" -prune -o -name state.json -print 2>/dev/null
      mountpoint -q "$ROOT/run" && find "$ROOT/run" -name state.json 2>/dev/null
    } | while read -r f; do
      grep -o '"/sys/fs/cgroup/[^"]*"' "$f" 2>/dev/null | tr -d '"'
    done
  } | sort -u
  return 0
}

thaw() { # CGROUP...: a FROZEN cgroup keeps its processes from dying
  local c d
  for c in "$@"; do
    [ -d "$c" ] || continue
    while read -r d; do
      [ -f "$d/freezer.state" ] && echo THAWED >"$d/freezer.state" 2>/dev/null
      [ -f "$d/cgroup.freeze" ] && echo 0 >"$d/cgroup.freeze" 2>/dev/null
    done < <(find "$c" -type d 2>/dev/null)
  done
  return 0
}

cgroup_pids() { # CGROUP...
  local c
  for c in "$@"; do
    [ -d "$c" ] && find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  return 0
}

# Removes every container through its engine while the engines still run.
remove_containers() {
  local ns id
  mountpoint -q "$ROOT" || return 0
  if alive "$(pid_of "$S/dockerd.pid")"; then
    docker_ ps -aq 2>/dev/null | xargs -r "$S/bin/docker" rm -f >/dev/null 2>&1 || true
    docker_ network prune -f >/dev/null 2>&1 || true
  fi
  if [ -d "$S/podman/storage" ]; then podman_ rm -af -t 0 >/dev/null 2>&1 || true; fi
  alive "$(pid_of "$S/containerd.pid")" || return 0
  for ns in $(ctr_ namespaces ls -q 2>/dev/null); do
    for id in $(ctr_ -n "$ns" tasks ls -q 2>/dev/null); do
      ctr_ -n "$ns" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_ -n "$ns" tasks ls -q 2>/dev/null); do
      ctr_ -n "$ns" tasks delete -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_ -n "$ns" containers ls -q 2>/dev/null); do
      ctr_ -n "$ns" containers delete "$id" >/dev/null 2>&1 || true
    done
  done
}

# A user-defined network (e.g. a compose project's default one) is a bridge
# on the host (br-<ID>, even with --bridge=none) that outlives dockerd: remove
# those of this rig's networks, named in its network store.
remove_bridges() {
  local db="$S/docker/network/files/local-kv.db" id
  [ -f "$db" ] || return 0
  while read -r id; do
    id=${id##*/}
    if ip link show "br-${id:0:12}" >/dev/null 2>&1; then
      ip link delete "br-${id:0:12}" 2>/dev/null || log "bridge left: br-${id:0:12}"
    fi
  done < <(grep -aoE 'docker/network/v1\.0/network/[0-9a-f]{64}' "$db" | sort -u)
}

# containerd namespaces of this rig (from its state, also when it is down).
rig_namespaces() {
  local d
  for d in "$S"/containerd/state/io.containerd.runtime.v2.task/*/ \
    "$S"/containerd/root/io.containerd.runtime.v2.task/*/; do
    [ -d "$d" ] && basename "$d"
  done | sort -u
  return 0
}

any_exists() { # PATH...
  local p
  for p in "$@"; do [ -e "$p" ] && return 0; done
  return 1
}

stop_all() {
  [ -d "$S" ] || { rm -f "$DIR/sid.env"; return 0; }
  local cgroups pids seen c ns n p
  # Everything of the rig that runs now; at the end none of it may be left,
  # not even as a zombie that init has yet to reap.
  mapfile -t seen < <(rooted_pids)
  remove_containers
  stop_pidfile "$S/dockerd.pid" TERM
  stop_pidfile "$S/podman.pid" TERM
  stop_pidfile "$S/containerd.pid" TERM
  # What is left (a daemon killed with its shims): thaw, then kill the
  # containers' processes, then shims and conmon, until nothing is left.
  mapfile -t cgroups < <(rig_cgroups)
  for n in $(seq 1 100); do
    thaw "${cgroups[@]}"
    mapfile -t pids < <({ cgroup_pids "${cgroups[@]}"; rooted_pids; } | sort -u |
      while read -r p; do if alive "$p"; then echo "$p"; fi; done)
    [ ${#pids[@]} -eq 0 ] && break
    [ "$n" -gt 1 ] || log "killing what is left: $(for p in "${pids[@]}"; do
      printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"
    done)"
    kill -s KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.05
  done
  [ ${#pids[@]} -eq 0 ] || log "processes left: ${pids[*]}"
  seen=("${seen[@]/#//proc/}")
  for _ in $(seq 1 200); do
    any_exists "${seen[@]}" || break
    sleep 0.05
  done
  for p in "${seen[@]}"; do [ -e "$p" ] && log "not reaped yet: $p"; done
  remove_bridges
  # Deepest first; a cgroup empties a moment after its last process died.
  for _ in $(seq 1 50); do
    for c in "${cgroups[@]}"; do
      [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    any_exists "${cgroups[@]}" || break
    sleep 0.05
  done
  for c in "${cgroups[@]}"; do [ -d "$c" ] && log "cgroup left: $c"; done
  # Shared parents that this rig made go when empty (another engine's
  # containers keep theirs busy): containerd's namespace-named ones, and
  # podman's (no setting moves it off /libpod_parent).
  for ns in $(rig_namespaces) libpod_parent; do
    [ -f "$S/cgroups.before" ] || break
    for c in /sys/fs/cgroup/*/"$ns"; do
      [ -d "$c" ] || continue
      grep -qxF "$c" "$S/cgroups.before" && continue
      [ "$ns" != libpod_parent ] || rmdir "$c/conmon" 2>/dev/null || true
      rmdir "$c" 2>/dev/null || true
    done
  done
  unmount_under "$S"
  if [ -n "$(mounts_under "$S")" ]; then
    die "mounts left under $S: $(mounts_under "$S" | tr '\n' ' ')"
  fi
  rm -rf --one-file-system "$S"
  rm -f "$DIR/sid.env"
}

cmd=${1:-}
case "$cmd" in
install)
  install_sid
  ;;
start)
  set_dir "${2:-}"
  start_all
  ;;
stop)
  # Nothing to do without the folder (safe after rig.sh removed it).
  d=${2:-${WW_RIG_DIR:-}}
  [ -n "$d" ] && [ ! -d "$d" ] && exit 0
  set_dir "$d"
  stop_all
  ;;
start-dockerd | start-containerd | start-podman)
  set_dir "${2:-}"
  "start_${cmd#start-}"
  ;;
stop-dockerd | stop-containerd | stop-podman)
  case "${2:-}" in KILL | TERM) set_dir "" && sig=$2 ;; *) set_dir "${2:-}" && sig=${3:-TERM} ;; esac
  stop_pidfile "$S/${cmd#stop-}.pid" "$sig"
  ;;
*)
  echo "usage: sid.sh install | start DIR | stop DIR | start-dockerd|start-containerd|start-podman [DIR] | stop-dockerd|stop-containerd|stop-podman [DIR] [KILL|TERM]" >&2
  exit 2
  ;;
esac
