#!/usr/bin/env bash
# Runs every fuzz target for a bounded number of executions and prints the
# executions each reached. The committed seed corpora under
# */testdata/fuzz run on every `go test` too.
#
# Budgets are execution counts (-fuzztime Nx), sized to about 10 s per
# target on 2 shared cores, not durations: with a duration, Go 1.26's fuzz
# coordinator can report its own stop deadline as a failure ("context
# deadline exceeded", no failing input written; golang/go#75804, fixed in
# Go 1.27). A count has no deadline to race. FUZZSCALE=6 runs each about a
# minute.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${FUZZSCALE:-1}"
# package, target, executions at scale 1
targets=(
  "./webhooks FuzzHandler 15000"
  "./internal/manifest FuzzParse 90000"
  "./internal/manifest FuzzDecoderLikeKubectl 15000"
  "./internal/manifest FuzzToJSON 90000"
  "./internal/astjson FuzzParse 200000"
  "./internal/iam FuzzParseDocument 30000"
  "./mutators FuzzChain 2500"
  "./internal/engine FuzzEvaluationWorkIsLinear 60"
  "./internal/placement FuzzPlace 50000"
)
for t in "${targets[@]}"; do
  set -- $t
  n=$(( $3 * scale ))
  echo "-- $1 $2 (${n} executions)"
  # Minimizing new inputs for long would eat the time budget. -timeout
  # bounds a target that stops making progress.
  out=$(go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "${n}x" -fuzzminimizetime 1s -timeout 10m 2>&1) || { echo "$out"; exit 1; }
  echo "$out" | grep -E "^fuzz: elapsed" | tail -1
done
