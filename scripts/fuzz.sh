#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 30s each; FUZZTIME=1m
# for longer) and prints the executions each reached. The committed seed
# corpora under */testdata/fuzz run on every `go test` too.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-30s}"
targets=(
  "./webhooks FuzzHandler"
  "./internal/manifest FuzzParse"
  "./internal/manifest FuzzDecoderLikeKubectl"
  "./internal/manifest FuzzToJSON"
  "./internal/astjson FuzzParse"
  "./internal/iam FuzzParseDocument"
  "./mutators FuzzChain"
  "./internal/engine FuzzEvaluationWorkIsLinear"
)
for t in "${targets[@]}"; do
  set -- $t
  echo "-- $1 $2 ($fuzztime)"
  # Minimizing new inputs for long would eat the time budget.
  out=$(go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s 2>&1) || { echo "$out"; exit 1; }
  echo "$out" | grep -E "^fuzz: elapsed" | tail -1
done
