package gather

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// Namespace annotations the quota policies read.
const (
	// AnnotationGPUQuota declares a namespace's GPU limit, in GPUs.
	AnnotationGPUQuota = "tollgate.dev/gpu-quota"
	// AnnotationGPUCost declares a namespace's GPU budget in dollars per hour.
	AnnotationGPUCost = "tollgate.dev/gpu-cost-per-hour"
)

// Quota adds input.state.quota for pods that request GPUs: what the pod
// requests, the namespace's declared GPU limit and where it comes from, the
// GPUs its other non-terminal pods use, and, when the namespace has a cost
// budget, where those GPUs run so that policies can price them.
type Quota struct {
	Validators config.Validators
	counter    func() (state.GPUCounter, error)
}

var _ review.Gatherer = (*Quota)(nil)

// QuotaState is input.state.quota.
type QuotaState struct {
	// Requested is the pod's GPUs, MIG slices as their fraction of a GPU.
	Requested float64 `json:"requested"`
	// Declared is true when a ResourceQuota (scoped or not) or the
	// namespace annotation declares a GPU limit.
	Declared bool `json:"declared"`
	// Limit is the smallest limit that applies to every pod: unscoped
	// ResourceQuotas and the annotation. Absent when none does.
	Limit *float64 `json:"limit,omitempty"`
	// Source names where Limit comes from.
	Source string `json:"source,omitempty"`
	// Used is the GPUs of the namespace's other non-terminal pods; present
	// with Limit or Cost.
	Used *float64 `json:"used,omitempty"`
	// Problems are declarations that could not be read.
	Problems []string `json:"problems,omitempty"`
	// Cost is present when the namespace has a GPU cost budget.
	Cost *CostState `json:"cost,omitempty"`
}

// CostState is input.state.quota.cost.
type CostState struct {
	// Limit is the budget in dollars per hour; absent when the annotation
	// is not a number (Problem says so).
	Limit   *float64 `json:"limit,omitempty"`
	Problem string   `json:"problem,omitempty"`
	// Requested is where the pod's GPUs run.
	Requested PricedGPUs `json:"requested"`
	// Used is the namespace's other GPUs by where they run.
	Used []PricedGPUs `json:"used"`
}

// PricedGPUs are GPUs and the instance types they can run on (empty when
// the pods name none).
type PricedGPUs struct {
	GPUs          float64  `json:"gpus"`
	InstanceTypes []string `json:"instanceTypes"`
}

// Key is input.state.quota.
func (*Quota) Key() string { return "quota" }

// Gather reads the quota state of a pod that requests GPUs; other pods and
// objects get none.
func (q *Quota) Gather(ctx context.Context, g *review.Gathering) (any, error) {
	if g.Target != engine.TargetPod || g.Pod == nil {
		return nil, nil
	}
	counter, err := counterOf(q.counter, q.Validators)
	if err != nil {
		return nil, err
	}
	requested := counter.PodGPUs(&g.Pod.Spec)
	if requested == 0 {
		return nil, nil
	}
	ns := namespaceOf(g)
	out := &QuotaState{Requested: requested}
	rqs, err := g.State.ResourceQuotas(ctx, ns)
	if err != nil {
		return nil, fmt.Errorf("listing ResourceQuotas in %s: %w", ns, err)
	}
	for _, rq := range rqs {
		q.fromResourceQuota(out, rq)
	}
	ann := annotations(g)
	if v, ok := ann[AnnotationGPUQuota]; ok {
		n, err := resource.ParseQuantity(strings.TrimSpace(v))
		if f := n.AsApproximateFloat64(); err != nil || f < 0 || f > state.MaxGPUCount {
			out.Problems = append(out.Problems, fmt.Sprintf("annotation %s %q is not a number of GPUs", AnnotationGPUQuota, v))
		} else {
			out.Declared = true
			lower(out, f, "namespace annotation "+AnnotationGPUQuota)
		}
	}
	v, hasCost := ann[AnnotationGPUCost]
	if out.Limit == nil && !hasCost {
		return out, nil
	}
	usage, err := g.State.GPUUsage(ctx, counter, ns, g.Pod.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the GPU use of %s: %w", ns, err)
	}
	out.Used = &usage.GPUs
	if hasCost {
		if out.Cost, err = cost(ctx, g, v, requested, usage); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fromResourceQuota reads a ResourceQuota's limits on GPU resources.
// Scoped quotas declare a limit but apply only to the pods their scopes
// select, which Kubernetes enforces itself; they do not set Limit.
func (q *Quota) fromResourceQuota(out *QuotaState, rq *corev1.ResourceQuota) {
	scoped := len(rq.Spec.Scopes) > 0 || rq.Spec.ScopeSelector != nil
	for _, name := range slices.Sorted(maps.Keys(rq.Spec.Hard)) {
		res, ok := strings.CutPrefix(string(name), "requests.")
		if !ok {
			if res, ok = strings.CutPrefix(string(name), "limits."); !ok {
				continue
			}
		}
		w, ok := q.Validators.GPUResources[res]
		if !ok || w <= 0 {
			continue
		}
		out.Declared = true
		qty := rq.Spec.Hard[name]
		switch f := qty.AsApproximateFloat64(); {
		case f > state.MaxGPUCount:
			// The API server stores 1e70000; float arithmetic on it does
			// not hold, and such a limit limits nothing.
			out.Problems = append(out.Problems, fmt.Sprintf("ResourceQuota %s, %s %s is not a number of GPUs; it is ignored", rq.Name, name, qty.String()))
		case !scoped:
			lower(out, state.Round(f*w), fmt.Sprintf("ResourceQuota %s, %s", rq.Name, name))
		}
	}
}

// lower keeps the smaller limit.
func lower(out *QuotaState, limit float64, source string) {
	if out.Limit == nil || limit < *out.Limit {
		out.Limit, out.Source = &limit, source
	}
}

// cost prices nothing itself: it says where the pod's and the namespace's
// GPUs can run, as instance types, and policies apply the price table.
func cost(ctx context.Context, g *review.Gathering, annotation string, requested float64, usage state.Usage) (*CostState, error) {
	cs := &CostState{Used: []PricedGPUs{}}
	if f, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(annotation), "$"), 64); err != nil || f < 0 {
		cs.Problem = fmt.Sprintf("annotation %s %q is not an amount of dollars per hour", AnnotationGPUCost, annotation)
	} else {
		cs.Limit = &f
	}
	cat, err := gpucatalog.Default()
	if err != nil {
		return nil, err
	}
	r := &resolver{ctx: ctx, g: g, cat: cat}
	pl := state.PlacementOf(&g.Pod.Spec)
	if cs.Requested.InstanceTypes, err = r.instanceTypes(pl); err != nil {
		return nil, err
	}
	cs.Requested.GPUs = requested
	for _, u := range usage.ByPlacement {
		types, err := r.instanceTypes(u.Placement)
		if err != nil {
			return nil, err
		}
		cs.Used = append(cs.Used, PricedGPUs{GPUs: u.GPUs, InstanceTypes: types})
	}
	return cs, nil
}

// resolver turns placements into instance types: families through the
// catalog, NodePools through their requirements on instance types or
// families. Unknown becomes an empty list.
type resolver struct {
	ctx   context.Context
	g     *review.Gathering
	cat   *gpucatalog.Catalog
	pools map[string]map[string]any
}

func (r *resolver) instanceTypes(p state.Placement) ([]string, error) {
	types := []string{}
	switch {
	case len(p.InstanceTypes) > 0:
		types = append(types, p.InstanceTypes...)
	case len(p.Families) > 0:
		for _, f := range p.Families {
			types = append(types, r.cat.InstancesOfFamily(f)...)
		}
	case len(p.NodePools) > 0:
		if r.pools == nil {
			pools, err := r.g.State.NodePools(r.ctx)
			if err != nil {
				return nil, fmt.Errorf("listing NodePools: %w", err)
			}
			r.pools = map[string]map[string]any{}
			for _, np := range pools {
				md, _ := np["metadata"].(map[string]any)
				name, _ := md["name"].(string)
				r.pools[name] = np
			}
		}
		for _, name := range p.NodePools {
			types = append(types, r.nodePoolTypes(r.pools[name])...)
		}
	}
	slices.Sort(types)
	return slices.Compact(types), nil
}

// nodePoolTypes lists the instance types a NodePool's In requirements name,
// or the catalog's types of the families it names.
func (r *resolver) nodePoolTypes(np map[string]any) []string {
	spec, _ := np["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	tspec, _ := tmpl["spec"].(map[string]any)
	reqs, _ := tspec["requirements"].([]any)
	var types, families []string
	for _, x := range reqs {
		req, _ := x.(map[string]any)
		if op, _ := req["operator"].(string); op != "In" {
			continue
		}
		values, _ := req["values"].([]any)
		for _, v := range values {
			s, _ := v.(string)
			switch req["key"] {
			case state.LabelInstanceType:
				types = append(types, s)
			case state.LabelInstanceFamily:
				families = append(families, s)
			}
		}
	}
	if len(types) > 0 {
		return types
	}
	for _, f := range families {
		types = append(types, r.cat.InstancesOfFamily(f)...)
	}
	return types
}
