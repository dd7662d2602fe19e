#!/usr/bin/env bash
# Runs every test: unit tests, Rego unit tests, the Pod Security Standards
# conformance suites, and the end-to-end suite against a real kube-apiserver
# and etcd (built on first use by scripts/controlplane.sh, about 5 minutes).
# It installs what it needs itself: the pinned tools (scripts/tools.sh),
# the control plane (scripts/controlplane.sh), the Debian packages of the
# end-to-end suite (scripts/system.sh: chromium, podman) and Tollgate's
# image (scripts/image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${TOLLGATE_TOOLS_DIR:-$PWD/bin}"

scripts/tools.sh opa helm kubeconform
scripts/controlplane.sh
scripts/system.sh

echo "== go test ./... (unit, Rego, conformance)"
go test ./...

echo "== Rego unit tests (opa test)"
"$tools/opa" test rego/

echo "== shipped policy suites and Rego tests with the engine that runs in the cluster (tollgate test)"
mkdir -p out
go run ./cmd/tollgate test conformance/suites/ examples/policytest/ --coverage --junit out/policytest-junit.xml | grep -v -e '^=== RUN' -e '^--- PASS'

echo "== Tollgate's image (scripts/image.sh; cached on its inputs), which the container tests run"
scripts/image.sh

echo "== chart checks and the end-to-end suite against a real kube-apiserver"
go test -tags e2e -count=1 -timeout 30m ./internal/controlplane/ ./conformance/chart/ ./conformance/e2e/
