package mutators

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/review"
)

// BenchmarkMutateChain runs the chain as the reviewer does (state reads
// from a Static, every mutator, the confirming pass) on the fixture pod
// that all four mutators change: a Spot-capable GPU pod with a MIG profile
// whose ServiceAccount has an IRSA role.
func BenchmarkMutateChain(b *testing.B) {
	f := loadFixture(b, "chain", "all-mutators")
	c := f.chain(b)
	var submitted corev1.Pod
	if err := json.Unmarshal(f.raw, &submitted); err != nil {
		b.Fatal(err)
	}
	ns, _ := f.state.Namespace(context.Background(), submitted.Namespace)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		pod := submitted.DeepCopy()
		m := &review.MutationRequest{Pod: pod, Namespace: ns, State: f.state, Operation: "CREATE"}
		if err := c.Mutate(ctx, m); err != nil {
			b.Fatal(err)
		}
		if _, ok := pod.Spec.Containers[0].Resources.Limits["nvidia.com/mig-3g.40gb"]; !ok || pod.Spec.TerminationGracePeriodSeconds == nil || len(pod.Spec.Volumes) == 0 || len(pod.Spec.Tolerations) == 0 {
			b.Fatal("not every mutator acted")
		}
	}
}
