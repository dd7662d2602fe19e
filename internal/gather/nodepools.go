package gather

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/astjson"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/placement"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// NodePools adds input.state.nodepools, the cluster's karpenter.sh/v1
// NodePools as objects sorted by name, for pods and pod templates that can
// use them: those that request GPUs (or MIG slices), name a MIG profile
// (tollgate.dev/mig-profile on the pod or its namespace), or select a
// NodePool (karpenter.sh/nodepool in their node selector or node affinity).
// Other pods do not pay for the conversion.
type NodePools struct {
	Validators config.Validators
	counter    func() (state.GPUCounter, error)

	// The Rego value of the last NodePool list: every GPU pod reads the
	// list, which changes rarely, and converting it costs more than
	// evaluating most policies. State readers hand out NodePools they never
	// change (an informer replaces an object on update), so the same maps
	// are the same NodePools; holding them keeps their addresses from being
	// reused.
	mu     sync.Mutex
	pools  []map[string]any
	cached ast.Value
}

var _ review.Gatherer = (*NodePools)(nil)

// Key is input.state.nodepools.
func (*NodePools) Key() string { return "nodepools" }

// Gather lists the NodePools when the pod can use them.
func (n *NodePools) Gather(ctx context.Context, g *review.Gathering) (any, error) {
	meta, spec := podOf(g)
	if spec == nil {
		return nil, nil
	}
	counter, err := counterOf(n.counter, n.Validators)
	if err != nil {
		return nil, err
	}
	if !counter.RequestsGPUs(spec) && !selectsNodePool(spec) &&
		meta.Annotations[AnnotationMIGProfile] == "" && annotations(g)[AnnotationMIGProfile] == "" {
		return nil, nil
	}
	pools, err := g.State.NodePools(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing NodePools: %w", err)
	}
	if pools == nil {
		pools = []map[string]any{}
	}
	return n.value(pools)
}

// value converts pools, reusing the last conversion when the reader
// handed out the same NodePools.
func (n *NodePools) value(pools []map[string]any) (any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cached != nil && placement.SamePools(n.pools, pools) {
		return n.cached, nil
	}
	raw, err := json.Marshal(pools)
	if err != nil {
		return nil, err
	}
	v, err := astjson.ParseObject(raw)
	if err != nil {
		return nil, err
	}
	n.pools, n.cached = pools, v
	return v, nil
}

// AnnotationMIGProfile names the MIG profile of a pod, or of its
// namespace's pods (the MIG mutator reads it too).
const AnnotationMIGProfile = "tollgate.dev/mig-profile"

// podOf returns the metadata and spec of a pod or a workload's pod template.
func podOf(g *review.Gathering) (*podMeta, *corev1.PodSpec) {
	switch {
	case g.Target == engine.TargetPod && g.Pod != nil:
		return &podMeta{Annotations: g.Pod.Annotations, Labels: g.Pod.Labels}, &g.Pod.Spec
	case g.Target == engine.TargetTemplate && g.Template != nil:
		return &podMeta{Annotations: g.Template.Annotations, Labels: g.Template.Labels}, &g.Template.Spec
	}
	return nil, nil
}

type podMeta struct {
	Annotations map[string]string
	Labels      map[string]string
}

func selectsNodePool(spec *corev1.PodSpec) bool {
	if _, ok := spec.NodeSelector[state.LabelNodePool]; ok {
		return true
	}
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return false
	}
	if r := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
		for _, t := range r.NodeSelectorTerms {
			for _, e := range t.MatchExpressions {
				if e.Key == state.LabelNodePool {
					return true
				}
			}
		}
	}
	for _, p := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		for _, e := range p.Preference.MatchExpressions {
			if e.Key == state.LabelNodePool {
				return true
			}
		}
	}
	return false
}
