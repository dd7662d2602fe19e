#!/usr/bin/env bash
# Installs and configures podman, runc and skopeo from Debian's packages so
# that Tollgate's image (scripts/image.sh) runs as a container here, then
# proves that a container starts: a static probe, run with the flags the
# end-to-end suite uses, reports uid and gid 65532 and a read-only root.
#
#   scripts/podman.sh                 install, configure, check
#   scripts/podman.sh --import [DIR]  also copy the image in the OCI layout DIR
#                                     (default out/image/oci) into podman's
#                                     storage, keeping its digest, and run
#                                     `tollgate version -o json` in it
#
# Idempotent: installed packages and an unchanged configuration are left
# alone. Exits non-zero, saying why, where podman cannot run containers.
#
# Findings behind the configuration (this kind of machine: cgroup v1 with a
# unified hierarchy beside it, root without a systemd session):
#   - crun fails on these hybrid cgroups; runc works, so runtime = "runc";
#   - no systemd to ask for cgroups: cgroup_manager = "cgroupfs";
#   - no journald: events_logger = "file";
#   - podman's default ulimits ask for more than root may grant here, so
#     default_ulimits stay within `ulimit -Hn` and kernel.pid_max.
# The settings go into a drop-in (containers.conf.d), so that an operator's
# own /etc/containers/containers.conf is never overwritten.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dropin_dir=/etc/containers/containers.conf.d
dropin="$dropin_dir/50-tollgate.conf"
packages=(podman runc skopeo)

die() { echo "error: $*" >&2; exit 1; }

import=""
while [ $# -gt 0 ]; do
  case "$1" in
    --import)
      import="$root/out/image/oci"
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then import="$2"; shift; fi
      ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

[ "$(uname -s)" = Linux ] || die "podman runs Tollgate's image on Linux only; this is $(uname -s)"

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
else
  for p in "${packages[@]}"; do command -v "$p" >/dev/null || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || die "${missing[*]} missing and this is not a Debian system: install them with the system's package manager"
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "${missing[*]} not installed; run this script as root (it uses apt-get)"
  echo "podman.sh: installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for p in "${packages[@]}"; do
  if command -v dpkg-query >/dev/null; then
    echo "podman.sh: $p $(dpkg-query -W -f='${Version}' "$p")"
  fi
done

[ "$(id -u)" -eq 0 ] || die "the end-to-end suite runs podman as root (rootful storage in /var/lib/containers); run as root"

# Limits no higher than this machine grants root.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -gt 1048576 ] && nofile=1048576
nproc=$(cat /proc/sys/kernel/pid_max)
conf=$(cat <<EOF
# Written by Tollgate's scripts/podman.sh; see the comments there.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
)
mkdir -p "$dropin_dir"
if [ -f "$dropin" ] && [ "$(cat "$dropin")" = "$conf" ]; then
  echo "podman.sh: $dropin up to date"
else
  printf '%s\n' "$conf" >"$dropin.new"
  mv -f "$dropin.new" "$dropin"
  echo "podman.sh: wrote $dropin (runc, cgroupfs, file events, nofile=$nofile nproc=$nproc)"
fi

info=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.EventLogger}}' 2>&1) ||
  die "podman info failed; podman cannot run here:
$info"
[ "$info" = "runc cgroupfs file" ] ||
  die "podman does not use the configuration in $dropin (runtime, cgroup manager, events: $info; want runc cgroupfs file)"

# The probe: a static binary alone in a root filesystem, run with the flags
# the end-to-end suite runs Tollgate with.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs"
CGO_ENABLED=0 go -C "$root/build/image" build -trimpath -o "$work/rootfs/probe" ./cmd/probe
flags=(--rm --network host --read-only --cap-drop ALL --security-opt no-new-privileges --user 65532:65532)
if ! got=$(podman run "${flags[@]}" --rootfs "$work/rootfs" /probe 2>&1); then
  die "podman cannot run a container here:
$got"
fi
want='{"uid":65532,"gid":65532,"rootReadOnly":true}'
[ "$got" = "$want" ] || die "the probe container reported $got, want $want"
echo "podman.sh: a container runs as 65532:65532 with a read-only root ($(podman --version))"

[ -n "$import" ] || exit 0

# Import the image. skopeo copies the OCI layout's manifests and blobs as they
# are, so podman's image has the digest scripts/image.sh printed; `podman
# load` of a docker-archive would rewrite the manifest and change it.
[ -f "$import/index.json" ] || die "$import is not an OCI layout (run scripts/image.sh first)"
ref=$(go -C "$root/build/image" run ./cmd/imagetool ref "$import")
digest=$(cat "$import/../digest" 2>/dev/null || true)
name="localhost/tollgate:$ref"
skopeo copy --quiet "oci:$import:$ref" "containers-storage:$name"
got=$(podman image inspect --format '{{.Digest}}' "$name")
echo "podman.sh: imported $name ($got; image index $digest)"
podman run "${flags[@]}" "$name" version -o json
