// Package crds holds the CustomResourceDefinitions of the third-party kinds
// Tollgate validates, for suites that run a real API server: installing them
// first makes the API server's own schema and CEL validation run before
// Tollgate's webhook sees an object.
//
// karpenter.sh_nodepools.yaml is Karpenter's NodePool CRD, copied unchanged
// from the Go module sigs.k8s.io/karpenter v1.15.0 (module sum
// h1:5SEptlAvsOZbNg4qg8OSdF1qi6BEZHZLA020nXY7jGw=), file
// pkg/apis/crds/karpenter.sh_nodepools.yaml, Apache License 2.0. The module
// is not a dependency (it needs a newer Go toolchain than Tollgate builds
// with), so the file is vendored and pinned by its SHA-256 in the tests. To
// update it: `go mod download -json sigs.k8s.io/karpenter@vX.Y.Z`, copy the
// file out of the module zip, and update NodePoolVersion and the digest.
//
// The ack-*.yaml files are Tollgate's stand-ins for the Bucket, Role and
// Policy CRDs of AWS Controllers for Kubernetes: ACK's controller modules
// are not served by the Go module proxy, so their CRDs cannot be vendored
// with a checked provenance. Each types the fields Tollgate reads the way
// ACK's CRD does and keeps every other field, which is enough for the
// demo and the end-to-end suite to send these objects through a real API
// server to the webhook.
//
// karpenter.k8s.aws_ec2nodeclasses.yaml is likewise Tollgate's stand-in for
// the EC2NodeClass CRD of Karpenter's AWS provider, typing the fields the
// nodeclass family reads.
package crds

import _ "embed"

// NodePool is Karpenter's karpenter.sh/v1 NodePool CRD.
//
//go:embed karpenter.sh_nodepools.yaml
var NodePool []byte

// NodePoolVersion is the sigs.k8s.io/karpenter release NodePool comes from.
const NodePoolVersion = "v1.15.0"

// NodePoolFile is the CRD's file name in this directory, for tools that
// install CRDs from paths (envtest's CRDInstallOptions.Paths).
const NodePoolFile = "karpenter.sh_nodepools.yaml"

// PolicyException is Tollgate's own tollgate.dev/v1alpha1 PolicyException
// CRD; the chart ships the same file (charts/tollgate/crds).
//
//go:embed tollgate.dev_policyexceptions.yaml
var PolicyException []byte

// PolicyExceptionFile is its file name, here and in the chart's crds/.
const PolicyExceptionFile = "tollgate.dev_policyexceptions.yaml"
