package mutators_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/wiring"
	"github.com/tollgate-dev/tollgate/mutators"
)

var (
	engineOnce sync.Once
	testEngine *engine.Engine
	engineErr  error
)

// nodePools puts input.state.nodepools in the input, as the validators'
// gatherer does for GPU pods, for the gpu policies.
type nodePools struct{}

func (nodePools) Key() string { return "nodepools" }

func (nodePools) Gather(ctx context.Context, g *review.Gathering) (any, error) {
	return g.State.NodePools(ctx)
}

// denials validates a pod (as JSON) with the real engine at the
// restricted level, without mutators, and returns the ids of the policies
// that deny it.
func denials(t *testing.T, f *mutators.Fixture, raw []byte) []string {
	t.Helper()
	engineOnce.Do(func() {
		testEngine, engineErr = wiring.NewEngine(context.Background(), config.Default(), nil)
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	cfg := config.Default()
	cfg.Exemptions.Namespaces = nil
	r, err := review.New(engine.NewHolder(testEngine), cfg, f.State(), review.WithGatherers(nodePools{}))
	if err != nil {
		t.Fatal(err)
	}
	o, err := kubeobjects.Decode(raw, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Review(context.Background(), &review.Request{Object: o, Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range res.Denied() {
		ids = append(ids, v.Policy)
	}
	return ids
}

// TestNoMutatorCausesADenial validates every fixture before and after the
// chain: the mutated pod may not be denied by a policy (pss or any other)
// that does not deny the submitted one.
func TestNoMutatorCausesADenial(t *testing.T) {
	for _, f := range mutators.AllFixtures(t) {
		t.Run(f.ID(), func(t *testing.T) {
			before := denials(t, f, f.Raw())
			after := denials(t, f, f.Mutated(t, ""))
			for _, p := range after {
				if !slices.Contains(before, p) {
					t.Errorf("the mutated pod is denied by %s, the submitted one is not (denied before by %v)", p, before)
				}
			}
		})
	}
}

// TestMIGAgreesWithRego checks, over every fixture with a MIG profile and a
// GPU request (mixed strategy), that the Go mutator rewrites exactly the
// pods the gpu policies admit: a pod is rewritten or denied, never left
// with nvidia.com/gpu silently.
func TestMIGAgreesWithRego(t *testing.T) {
	n := 0
	for _, f := range mutators.AllFixtures(t) {
		var pod corev1.Pod
		if err := json.Unmarshal(f.Raw(), &pod); err != nil {
			t.Fatal(err)
		}
		ns, _ := f.State().Namespace(context.Background(), pod.Namespace)
		if p, _ := mutators.Profile(&pod, ns); p == "" || !mutators.RequestsGPU(&pod) || f.Config().MIG.Strategy != config.MIGMixed {
			continue
		}
		n++
		t.Run(f.ID(), func(t *testing.T) {
			var out corev1.Pod
			if err := json.Unmarshal(f.Mutated(t, "mig"), &out); err != nil {
				t.Fatal(err)
			}
			rewritten := !mutators.RequestsGPU(&out)
			denied := slices.ContainsFunc(denials(t, f, f.Raw()), func(id string) bool { return strings.HasPrefix(id, "gpu.") })
			if rewritten == denied {
				t.Errorf("rewritten=%v and denied by a gpu policy=%v: exactly one must hold", rewritten, denied)
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d fixtures exercise the MIG check", n)
	}
}
