#!/usr/bin/env bash
# Installs the pinned tools Tollgate's checks use, built from the Go module
# proxy, into ${TOLLGATE_TOOLS_DIR:-bin}. Tools already there at the pinned
# version are reused. With names as arguments, only those tools:
#   scripts/tools.sh opa helm
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="${TOLLGATE_TOOLS_DIR:-$root/bin}"
mkdir -p "$dir"

# name|module@version|version argument|what it prints|ldflags
tools=(
  "opa|github.com/open-policy-agent/opa@v1.22.3|version|Version: 1.22.3|"
  "helm|helm.sh/helm/v3/cmd/helm@v3.22.0|version|v3.22.0|-X helm.sh/helm/v3/internal/version.version=v3.22.0"
  "kubeconform|github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0|-v|v0.8.0|-X main.version=v0.8.0"
  "golangci-lint|github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0|version|version 2.15.0|-X main.version=2.15.0"
)

for entry in "${tools[@]}"; do
  IFS='|' read -r name module verarg check ldflags <<<"$entry"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
    continue
  fi
  # Read the version output whole before matching it: with pipefail, a
  # tool that dies of SIGPIPE after grep -q matched its first line would
  # look absent and be reinstalled for nothing.
  if [ -x "$dir/$name" ] && out=$("$dir/$name" "$verarg" 2>/dev/null) && grep -q "$check" <<<"$out"; then
    continue
  fi
  echo "installing $module into $dir"
  GOBIN="$dir" go install -ldflags "$ldflags" "$module"
done
