package gather

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/astjson"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/placement"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// Placement adds input.state.placement: where the pod (or a workload's
// pod, from its template) can run, from the cluster's NodePools and Nodes
// (internal/placement). It is computed once per validation, on the pod as
// the mutators left it (their tolerations count), and the Spot, MIG and
// schedule.fit policies read it. Without NodePools and Nodes in the state
// there is no key, and the policies judge the pod's own selectors.
type Placement struct {
	Validators config.Validators
	// Source, when set, is the placement source (shared with the
	// mutators); else one is built from Validators.
	Source *placement.Source
	// Template, when set, adds to a copy of a workload's pod what the
	// mutators will add to its pods that placement depends on (the GPU
	// tolerations), so that a template is placed as its pods will be
	// created. Pods are placed as they are: a mutated pod as mutated, and
	// the submitted one as submitted, which is how a mutation that would
	// cause a denial is told apart.
	Template func(*corev1.Pod)

	once   sync.Once
	source *placement.Source
	err    error

	// values keeps the Rego value of recent placements by their JSON:
	// converting the result costs several times computing it, and the pods
	// of one workload (a replica burst) share one placement.
	mu     sync.Mutex
	values map[string]ast.Value
}

// maxPlacementValues bounds values; it is emptied when full.
const maxPlacementValues = 512

var _ review.Gatherer = (*Placement)(nil)

// Key is input.state.placement.
func (*Placement) Key() string { return "placement" }

// Gather places the pod.
func (p *Placement) Gather(ctx context.Context, g *review.Gathering) (any, error) {
	pod := PodForPlacement(g)
	if pod == nil || pod.Spec.NodeName != "" {
		return nil, nil
	}
	if g.Pod == nil && p.Template != nil {
		pod = pod.DeepCopy()
		p.Template(pod)
	}
	res, err := p.Place(ctx, g.State, pod)
	if err != nil || res == nil {
		return nil, err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	return p.value(raw)
}

func (p *Placement) value(raw []byte) (ast.Value, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.values[string(raw)]; ok {
		return v, nil
	}
	v, err := astjson.ParseObject(raw)
	if err != nil {
		return nil, err
	}
	if p.values == nil || len(p.values) >= maxPlacementValues {
		p.values = map[string]ast.Value{}
	}
	p.values[string(raw)] = v
	return v, nil
}

// Place computes the placement of pod from st, or nil when the state holds
// no NodePools and no Nodes.
func (p *Placement) Place(ctx context.Context, st state.Reader, pod *corev1.Pod) (*placement.Result, error) {
	src, err := p.src()
	if err != nil {
		return nil, err
	}
	return PlaceWith(ctx, src, st, pod)
}

func (p *Placement) src() (*placement.Source, error) {
	p.once.Do(func() {
		if p.Source != nil {
			p.source = p.Source
			return
		}
		p.source, p.err = NewPlacementSource(p.Validators)
	})
	return p.source, p.err
}

// NewPlacementSource returns the placement source of a configuration:
// the embedded catalog and the whole-GPU resources (weight 1).
func NewPlacementSource(v config.Validators) (*placement.Source, error) {
	cat, err := gpucatalog.Default()
	if err != nil {
		return nil, fmt.Errorf("GPU catalog: %w", err)
	}
	var whole []string
	for _, name := range slices.Sorted(maps.Keys(v.GPUResources)) {
		if v.GPUResources[name] == 1 {
			whole = append(whole, name)
		}
	}
	return placement.NewSource(placement.Options{Catalog: cat, GPUResources: whole}), nil
}

// PlaceWith places pod on the NodePools and Nodes of st.
func PlaceWith(ctx context.Context, src *placement.Source, st state.Reader, pod *corev1.Pod) (*placement.Result, error) {
	pools, err := st.NodePools(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing NodePools: %w", err)
	}
	nodes, err := st.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	if len(pools) == 0 && len(nodes) == 0 {
		return nil, nil
	}
	c, err := src.Cluster(pools, nodes)
	if err != nil {
		return nil, err
	}
	return c.Place(pod), nil
}

// PodForPlacement is the pod to place: the pod, or a pod of a workload's
// template.
func PodForPlacement(g *review.Gathering) *corev1.Pod {
	switch {
	case g.Pod != nil:
		return g.Pod
	case g.Template != nil:
		return &corev1.Pod{ObjectMeta: g.Template.ObjectMeta, Spec: g.Template.Spec}
	}
	return nil
}
