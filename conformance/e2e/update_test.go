//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestGatedPodUpdatesAreReviewed: a bare pod created with a scheduling
// gate and no Spot selector is admitted; a patch that adds the Spot
// selector while it is gated (Kubernetes allows it) is refused by the API
// server with Tollgate's message, and the stored pod keeps its old spec.
// An update that changes nothing Tollgate reviews, and any update of a pod
// that is not gated, never reaches Tollgate (its request counter does not
// move).
func TestGatedPodUpdatesAreReviewed(t *testing.T) {
	ctx := context.Background()
	ns := namespace(nil)
	pods := env.cs.CoreV1().Pods(ns)
	gated := restrictedPod("gated")
	gated.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
	if _, err := pods.Create(ctx, gated, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the gated pod: %v", err)
	}
	spot := []byte(`{"spec":{"nodeSelector":{"karpenter.sh/capacity-type":"spot"}}}`)
	_, err := pods.Patch(ctx, "gated", types.MergePatchType, spot, metav1.PatchOptions{})
	if err == nil || !strings.Contains(err.Error(), "spot.controller") || !strings.Contains(err.Error(), "bare pod on Spot capacity") {
		t.Fatalf("adding a Spot selector to a gated bare pod: %v, want Tollgate's spot.controller refusal", err)
	}
	stored, err := pods.Get(ctx, "gated", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Spec.NodeSelector) != 0 {
		t.Errorf("the refused update was stored: nodeSelector %v", stored.Spec.NodeSelector)
	}

	plain, err := pods.Create(ctx, restrictedPod("plain"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := validateRequests(t)
	for _, name := range []string{"gated", plain.Name} {
		if _, err := pods.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"a"}}}`), metav1.PatchOptions{}); err != nil {
			t.Errorf("labelling pod %s: %v", name, err)
		}
	}
	if after := validateRequests(t); after-before != 1 {
		// The gated pod's label update is sent (the match condition cannot
		// tell a spec change from a label change) and allowed without a
		// review; the ungated pod's is not sent at all.
		t.Errorf("%v requests reached /validate for two label updates, want 1 (the gated pod's)", after-before)
	}
}

// validateRequests sums tollgate_admission_requests_total of /validate over
// its outcomes, from the suite's Tollgate.
func validateRequests(t *testing.T) float64 {
	t.Helper()
	total := 0.0
	for _, outcome := range []string{"allowed", "denied", "bad_request", "error"} {
		if v, err := metric(env.tollgate.metrics, `tollgate_admission_requests_total{outcome="`+outcome+`",webhook="validate"}`); err == nil {
			total += v
		}
	}
	return total
}
