//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// TestPlacementThroughTheAPIServer stores a Spot-capable GPU NodePool in
// the API server, then: a Deployment whose pods fit no NodePool gets the
// schedule.fit warning in the API server's answer, naming the NodePool and
// what blocks it; and a GPU pod of a ReplicaSet without any capacity-type
// selector is stored with the drain, because the one NodePool it can reach
// allows Spot. The NodePool is deleted at the end: other tests judge pods
// by their selectors.
func TestPlacementThroughTheAPIServer(t *testing.T) {
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(env.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	var np unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(`
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: e2e-gpu-spot}
spec:
  limits: {nvidia.com/gpu: "16"}
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g5, g6e]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      - {key: karpenter.k8s.aws/instance-size, operator: NotIn, values: [metal]}
      taints:
      - {key: nvidia.com/gpu, value: "true", effect: NoSchedule}
`), &np.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(nodePoolGVR).Create(ctx, &np, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the NodePool: %v", err)
	}
	t.Cleanup(func() {
		if err := dyn.Resource(nodePoolGVR).Delete(context.Background(), "e2e-gpu-spot", metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting the NodePool: %v", err)
		}
		// Wait until Tollgate's informer no longer holds it: a drain on an
		// on-demand pod of a later test would come from it.
		err := waitFor(30*time.Second, func() error {
			p := restrictedPod("after-placement")
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "0b0c0d0e-0000-4000-8000-0000000000a1", Controller: ptr.To(true)}}
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
			got, err := env.cs.CoreV1().Pods(namespace(nil)).Create(context.Background(), p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return err
			}
			if got.Spec.Containers[0].Lifecycle != nil {
				return errors.New("Tollgate still places pods on the deleted NodePool")
			}
			return nil
		})
		if err != nil {
			t.Errorf("after deleting the NodePool: %v", err)
		}
	})
	ns := namespace(nil)

	// The Deployment asks for p5 (H100), which the NodePool does not offer.
	d := &appsv1.Deployment{}
	decode(t, `
metadata: {name: vllm-h100}
spec:
  selector: {matchLabels: {app: vllm-h100}}
  template:
    metadata: {labels: {app: vllm-h100}}
    spec:
      nodeSelector: {karpenter.k8s.aws/instance-family: p5}
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.6.3
        resources: {limits: {nvidia.com/gpu: "8"}}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`, d)
	const want = `schedule.fit: no NodePool and no Node can host the pod, so it would stay Pending: NodePool "e2e-gpu-spot": instance families [g5 g6e] do not include p5 (nodeSelector karpenter.k8s.aws/instance-family=p5)`
	// The informer sees the new NodePool within moments; until then the
	// cluster has no NodePool and no warning is due.
	err = waitFor(30*time.Second, func() error {
		cs, w := clientWithWarnings(t)
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			return fmt.Errorf("the Deployment was refused: %w", err)
		}
		if got := w.String(); !strings.Contains(got, want) {
			return fmt.Errorf("the API server's warnings do not carry the placement warning\nwant %q\ngot  %q", want, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A GPU pod of a ReplicaSet, no capacity-type selector: the NodePool it
	// reaches (after the GPU toleration) allows Spot, so it gets the drain.
	p := restrictedPod("vllm-0")
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "vllm", UID: "0b0c0d0e-0000-4000-8000-0000000000a2", Controller: ptr.To(true)}}
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	got := create(t, p, ns)
	c := got.Spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds != 30 {
		t.Errorf("the stored pod has no drain: lifecycle %+v", c.Lifecycle)
	}
	if !tolerates(got.Spec.Tolerations, "nvidia.com/gpu") {
		t.Errorf("the stored pod does not tolerate the GPU taint: %+v", got.Spec.Tolerations)
	}
	// The same pod kept to On-Demand by its selector gets none.
	od := restrictedPod("vllm-od-0")
	od.OwnerReferences = p.OwnerReferences
	od.Spec.NodeSelector = map[string]string{"karpenter.sh/capacity-type": "on-demand"}
	od.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	if got := create(t, od, ns); got.Spec.Containers[0].Lifecycle != nil {
		t.Errorf("an On-Demand pod got a drain: %+v", got.Spec.Containers[0].Lifecycle)
	}
}

func tolerates(ts []corev1.Toleration, key string) bool {
	for _, t := range ts {
		if t.Key == key {
			return true
		}
	}
	return false
}
