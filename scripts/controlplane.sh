#!/usr/bin/env bash
# Builds the real control plane Tollgate's end-to-end tests and `tollgate demo`
# run against: kube-apiserver and etcd, compiled from the Go module proxy with
# the versions pinned in conformance/controlplane/go.mod, into bin/k8s/.
# Binaries of the right version are reused; anything missing or of another
# version is rebuilt. A cold build takes about 5 minutes on 2 cores.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
toolmod="$root/conformance/controlplane"
out="${TOLLGATE_CONTROLPLANE_DIR:-$root/bin/k8s}"
k8s_version=v1.37.2
etcd_version=3.7.0

mkdir -p "$out"
# Each binary is built next to its final name and moved into place, so an
# interrupted build never leaves a truncated binary, and whatever was there
# before (a wrapper script, a corrupt file) is replaced: go build refuses to
# overwrite a file that is not an executable it could have written.
rm -f "$out/kube-apiserver.new" "$out/etcd.new"

# The version output is read whole before it is matched: with pipefail,
# `binary --version | grep -q` fails whenever grep exits on the first line
# and the binary dies of SIGPIPE writing the next one.
have_apiserver() {
  local v
  [ -x "$out/kube-apiserver" ] && v=$("$out/kube-apiserver" --version 2>/dev/null) &&
    grep -qx "Kubernetes $k8s_version" <<<"$v"
}
have_etcd() {
  local v
  [ -x "$out/etcd" ] && v=$("$out/etcd" --version 2>/dev/null) &&
    grep -q "etcd Version: $etcd_version" <<<"$v"
}

if have_apiserver; then
  echo "kube-apiserver $k8s_version: cached in $out"
else
  [ -e "$out/kube-apiserver" ] && echo "kube-apiserver in $out is missing or not $k8s_version: rebuilding"
  echo "building kube-apiserver $k8s_version from Go modules (first run: about 4-5 minutes, 2.4 GB of memory)..."
  start=$(date +%s)
  go -C "$toolmod" build \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean" \
    -o "$out/kube-apiserver.new" k8s.io/kubernetes/cmd/kube-apiserver
  mv -f "$out/kube-apiserver.new" "$out/kube-apiserver"
  echo "built kube-apiserver in $(( $(date +%s) - start ))s"
  have_apiserver || { echo "error: the built kube-apiserver does not report $k8s_version" >&2; exit 1; }
fi

if have_etcd; then
  echo "etcd $etcd_version: cached in $out"
else
  [ -e "$out/etcd" ] && echo "etcd in $out is missing or not $etcd_version: rebuilding"
  echo "building etcd $etcd_version from Go modules..."
  start=$(date +%s)
  go -C "$toolmod" build -ldflags "-s -w" -o "$out/etcd.new" go.etcd.io/etcd/server/v3
  mv -f "$out/etcd.new" "$out/etcd"
  echo "built etcd in $(( $(date +%s) - start ))s"
  have_etcd || { echo "error: the built etcd does not report $etcd_version" >&2; exit 1; }
fi
