#!/usr/bin/env bash
# Installs the Debian packages the end-to-end suite needs when they are
# missing: chromium (renders the HTML audit report), then podman, runc and
# skopeo through scripts/podman.sh (Tollgate's image runs as a container
# in the suite). Run as root with apt available (CI and a fresh machine of
# the kind Tollgate is developed on); elsewhere it says what to install
# and fails, so a test run never fails later for a missing package.
# Installed packages are kept: a second run installs nothing.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "scripts/system.sh: the end-to-end suite needs the Debian packages: ${missing[*]}" >&2
    echo "  install them (sudo apt-get install --no-install-recommends ${missing[*]}) and run again" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Podman: required in CI ($CI set), where the container tests must run;
# elsewhere a machine that cannot run it skips those tests, which say so.
if ! "$(dirname "$0")/podman.sh"; then
  if [ -n "${CI:-}" ]; then
    echo "scripts/system.sh: podman cannot run containers here, and CI requires the container tests" >&2
    exit 1
  fi
  echo "scripts/system.sh: podman cannot run containers here; the container tests will skip" >&2
fi
