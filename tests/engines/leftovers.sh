#!/usr/bin/env bash
# What a stopped rig left on the host.
#
#   leftovers.sh snapshot       prints the host state the check compares with
#                               (taken before the rig starts)
#   leftovers.sh check DIR      lists what of the rig that had folder DIR is
#                               left (snapshot on stdin); exits 1 if anything
#
# Looked for: processes of the rig (command line, root or cwd in DIR, as
# for the sid engines in their chroot and every container, or a cgroup
# below the rig's), mounts under DIR (the sid chroot's among them), runc state under the host's
# /run/containerd/runc and /run/runc (a folder named after the rig or one of
# its namespaces, a default namespace's folder that was not there before,
# state of a container of the rig), and cgroups named after the rig or one
# of its namespaces, or a default name that was not there before, in every
# hierarchy. The rig's names all contain its folder's random suffix; other
# names are left alone: other programs may create them meanwhile.
set -uo pipefail

RUNC_ROOTS="/run/containerd/runc /run/runc"
# The names engines give cgroups and runc folders by default: a host may
# have them; the rig never makes them.
DEFAULT_NAMES="default k8s.io moby docker libpod_parent"

snapshot() {
  local r n c
  for r in $RUNC_ROOTS; do
    for n in "$r"/*; do [ -e "$n" ] && echo "runc $n"; done
  done
  for c in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    for n in $DEFAULT_NAMES; do [ -d "$c$n" ] && echo "cgroup $c$n"; done
  done
  return 0
}

check() {
  local dir=$1 name before p cmd link r n f c base
  name=$(basename "$dir")
  before=$(cat)
  local -a left=()
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = $$ ] && continue
    cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    link="$(readlink "$p/root" 2>/dev/null) $(readlink "$p/cwd" 2>/dev/null)"
    if [[ "$cmd" == *"$dir/"* || "$link" == *"$dir/"* ]] ||
      grep -q ":/$name\(/\|$\)" "$p/cgroup" 2>/dev/null; then
      left+=("process ${p#/proc/}: ${cmd:0:160}")
    fi
  done
  while read -r _ m _; do
    [[ "$m" == "$dir"* ]] && left+=("mount $m")
  done </proc/mounts
  for r in $RUNC_ROOTS; do
    for n in "$r"/*; do
      [ -e "$n" ] || continue
      base=$(basename "$n")
      if [[ " $DEFAULT_NAMES " == *" $base "* ]]; then
        grep -qxF "runc $n" <<<"$before" ||
          left+=("runc state $n (not there before the rig started)")
      elif [[ "$base" == *"${name#ww-rig.}"* ]]; then
        left+=("runc state $n")
      fi
      for f in "$n"/*/state.json "$n"/state.json; do
        [ -f "$f" ] && grep -qF "$dir/" "$f" && left+=("runc state ${f%/state.json}")
      done
    done
  done
  for c in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    for n in "$c"*; do
      [ -d "$n" ] || continue
      case "$(basename "$n")" in
      *"${name#ww-rig.}"*) left+=("cgroup $n") ;;
      esac
    done
    for n in $DEFAULT_NAMES; do
      [ -d "$c$n" ] && ! grep -qxF "cgroup $c$n" <<<"$before" &&
        left+=("cgroup $c$n (not there before the rig started)")
    done
  done
  if [ ${#left[@]} -gt 0 ]; then
    echo "leftovers: the test rig $dir left ${#left[@]} things behind:" >&2
    printf '  %s\n' "${left[@]}" >&2
    return 1
  fi
  echo "leftovers: none (processes, mounts, runc state, cgroups of $dir)" >&2
}

case "${1:-}" in
snapshot) snapshot ;;
check) check "${2:?usage: leftovers.sh check DIR}" ;;
*)
  echo "usage: leftovers.sh snapshot | check DIR" >&2
  exit 2
  ;;
esac
