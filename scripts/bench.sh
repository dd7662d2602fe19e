#!/usr/bin/env bash
# Runs Tollgate's performance harness (conformance/bench) in one invocation:
# in-process decisions next to upstream Pod Security Admission, the HTTPS
# webhook (`tollgate serve`) under open-loop load next to a bare decoder and
# `opa run --server`, pod creation through a real kube-apiserver with and
# without the webhooks, and serve's memory with 10,000 pods cached. Writes
# docs/performance.md, and results, logs and pprof profiles under out/bench/.
# About 10 minutes on 2 cores; numbers are only comparable within one run.
#
#   scripts/bench.sh            the full run
#   scripts/bench.sh --smoke    every layer for a moment (what .ci/run does)
#   scripts/bench.sh -h         the harness's flags (layers, rates, durations)
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned OPA CLI and the control plane, built on first use.
scripts/tools.sh opa >&2
scripts/controlplane.sh >&2

echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec go run ./conformance/bench/cmd/benchrun "$@"
