// Package gather adds to the policy input the cluster state policies read
// (docs/policy-input.md, input.state): for the quota, spot and nodepool
// policies a namespace's GPU quota and use, the PodDisruptionBudgets that
// select a pod, and the NodePools; for the iam policies the IAM documents of
// the role a pod will assume (iam.go). Gatherers read a state.Reader:
// informer caches in `serve`, the objects given as input in `eval`.
package gather

import (
	"fmt"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// Gatherers returns the quota, pdbs, nodepools, disruption and placement
// gatherers. places is the placement gatherer (nil: one built from v).
func Gatherers(v config.Validators, places *Placement) []review.Gatherer {
	counter := sync.OnceValues(func() (state.GPUCounter, error) { return Counter(v) })
	if places == nil {
		places = &Placement{Validators: v}
	}
	return []review.Gatherer{&Quota{Validators: v, counter: counter}, &PDBs{}, &NodePools{Validators: v, counter: counter}, Disruption{}, places}
}

// counterOf returns the counter a gatherer was built with, or builds one
// for gatherers made as struct literals.
func counterOf(built func() (state.GPUCounter, error), v config.Validators) (state.GPUCounter, error) {
	if built != nil {
		return built()
	}
	return Counter(v)
}

// Counter returns the GPU counter of the configuration: its GPU resources
// and the catalog's MIG fractions. `serve` feeds its pod informer to an
// aggregator built on the same counter.
func Counter(v config.Validators) (state.GPUCounter, error) {
	cat, err := gpucatalog.Default()
	if err != nil {
		return state.GPUCounter{}, fmt.Errorf("GPU catalog: %w", err)
	}
	return state.NewGPUCounter(cat, v.GPUResources), nil
}

// namespaceOf is where an object's state lives: namespaced objects given
// without a namespace are in "default", as kubectl and state.Static place them.
func namespaceOf(g *review.Gathering) string {
	if g.Object.Namespace == "" {
		return "default"
	}
	return g.Object.Namespace
}

func annotations(g *review.Gathering) map[string]string {
	if g.Namespace == nil {
		return nil
	}
	return g.Namespace.Annotations
}
