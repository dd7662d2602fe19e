package gather

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// PDBs adds input.state.pdbs for pods and pod templates: the
// PodDisruptionBudgets of the namespace whose selector matches the pod's
// labels (an empty selector matches every pod, a missing one none, as in
// policy/v1).
type PDBs struct{}

var _ review.Gatherer = (*PDBs)(nil)

// PDB is what policies see of a PodDisruptionBudget.
type PDB struct {
	Name           string              `json:"name"`
	MinAvailable   *intstr.IntOrString `json:"minAvailable,omitempty"`
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// Key is input.state.pdbs.
func (*PDBs) Key() string { return "pdbs" }

// Gather lists the PodDisruptionBudgets that select the pod.
func (*PDBs) Gather(ctx context.Context, g *review.Gathering) (any, error) {
	var podLabels map[string]string
	switch {
	case g.Target == engine.TargetPod && g.Pod != nil:
		podLabels = g.Pod.Labels
	case g.Target == engine.TargetTemplate && g.Template != nil:
		podLabels = g.Template.Labels
	default:
		return nil, nil
	}
	ns := namespaceOf(g)
	pdbs, err := g.State.PodDisruptionBudgets(ctx, ns)
	if err != nil {
		return nil, fmt.Errorf("listing PodDisruptionBudgets in %s: %w", ns, err)
	}
	out := []PDB{}
	for _, p := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			// The API server validates selectors; one that does not parse
			// selects nothing rather than failing every pod's admission.
			g.Warnings = append(g.Warnings, fmt.Sprintf("PodDisruptionBudget %s/%s: spec.selector: %v", ns, p.Name, err))
			continue
		}
		if sel.Matches(labels.Set(podLabels)) {
			out = append(out, PDB{Name: p.Name, MinAvailable: p.Spec.MinAvailable, MaxUnavailable: p.Spec.MaxUnavailable})
		}
	}
	// Caches list in no particular order; policies see PDBs by name.
	slices.SortFunc(out, func(a, b PDB) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
