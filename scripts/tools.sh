#!/usr/bin/env bash
# Installs the pinned tools Tollgate's checks use, built from the Go module
# proxy, into ${TOLLGATE_TOOLS_DIR:-bin}. Tools already there at the pinned
# version are reused.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="${TOLLGATE_TOOLS_DIR:-$root/bin}"
mkdir -p "$dir"

# name|module@version|version check (a string `<tool> version` prints)
tools=(
  "opa|github.com/open-policy-agent/opa@v1.22.3|Version: 1.22.3"
)

for entry in "${tools[@]}"; do
  IFS='|' read -r name module check <<<"$entry"
  if [ -x "$dir/$name" ] && "$dir/$name" version 2>/dev/null | grep -q "$check"; then
    continue
  fi
  echo "installing $module into $dir"
  GOBIN="$dir" go install "$module"
done
