//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

var nodePoolGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}

// TestSeedNodePools creates the design document's NodePools through the API
// server, whose own schema (Karpenter's CRD) runs before Tollgate.
func TestSeedNodePools(t *testing.T) {
	root, _ := controlplane.RepoRoot()
	dir := filepath.Join(root, "internal", "gather", "testdata", "seed-nodepools")
	w := &warnings{}
	cfg := rest.CopyConfig(env.cp.Config)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		// want: "created", "schema" (refused by the CRD), or a policy id
		// Tollgate denies with.
		want    string
		warning string
	}{
		{"01-auto-mode-gpu-inference-pool.yaml", "nodepool.gpu", ""},
		{"02-gpu-inference-pool.yaml", "created", ""},
		{"03-gpu-inference-stable.yaml", "schema", ""},
		{"04-gpu-mig-pool.yaml", "nodepool.gpu", ""},
		{"05-gpu-spot-inference.yaml", "created", ""},
		{"06-gpu-scheduled-pool.yaml", "nodepool.gpu", ""},
		{"07-gpu-consolidation-pool.yaml", "schema", ""},
		{"08-gpu-small-models.yaml", "schema", ""},
		{"09-gpu-large-models.yaml", "schema", ""},
		{"10-gpu-training-pool.yaml", "nodepool.training", ""},
		{"11-gpu-experiment-pool.yaml", "created", "nodepool.spot-diversity"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var u unstructured.Unstructured
			if err := yaml.Unmarshal(b, &u.Object); err != nil {
				t.Fatal(err)
			}
			w.msgs = nil
			_, err = dyn.Resource(nodePoolGVR).Create(context.Background(), &u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			switch tc.want {
			case "created":
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case "schema":
				if err == nil || strings.Contains(err.Error(), "tollgate.dev") {
					t.Fatalf("want a refusal by the CRD's schema, got %v", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), `admission webhook "nodepools.validate.tollgate.dev" denied`) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want a denial by %s, got %v", tc.want, err)
				}
			}
			if tc.warning != "" && !strings.Contains(w.String(), tc.warning) {
				t.Errorf("no %s warning: %q", tc.warning, w)
			}
		})
	}
}

// TestInvalidBudgetAndUpdate: a cron schedule the CRD's pattern accepts but
// cron does not is denied by Tollgate, and so is an UPDATE that removes the
// GPU taint from a valid GPU pool.
func TestInvalidBudgetAndUpdate(t *testing.T) {
	dyn, err := dynamic.NewForConfig(env.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	pool := func(name, extra string) *unstructured.Unstructured {
		var u unstructured.Unstructured
		doc := `apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: ` + name + `}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [p5.48xlarge]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      taints:
      - {key: nvidia.com/gpu, value: "true", effect: NoSchedule}
  limits:
    nvidia.com/gpu: 16
` + extra
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		return u.DeepCopy()
	}
	ctx := context.Background()
	bad := pool("bad-budget", "  disruption:\n    budgets:\n    - {nodes: \"0\", schedule: \"0 9 * * 1-8\", duration: 10h}\n")
	_, err = dyn.Resource(nodePoolGVR).Create(ctx, bad, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "nodepool.disruption") {
		t.Fatalf("an invalid cron schedule was not denied by Tollgate: %v", err)
	}
	good, err := dyn.Resource(nodePoolGVR).Create(ctx, pool("h100", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a valid GPU pool was refused: %v", err)
	}
	unstructured.RemoveNestedField(good.Object, "spec", "template", "spec", "taints")
	if _, err := dyn.Resource(nodePoolGVR).Update(ctx, good, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "nodepool.gpu") {
		t.Fatalf("removing the GPU taint was not denied: %v", err)
	}
}

func podWith(name string, resources corev1.ResourceList) *corev1.Pod {
	p := restrictedPod(name)
	p.Spec.Containers[0].Resources.Limits = resources
	return p
}

// TestGPUQuota: in a namespace limited to 2 GPUs, one GPU and two 3g.40gb
// slices (3/7 each) fit; a third slice does not (2.29 > 2), which the
// API server's own ResourceQuota cannot see since slices are another
// resource name. Deleting a pod frees its share.
func TestGPUQuota(t *testing.T) {
	ctx := context.Background()
	ns := namedNamespace("e2e-quota-"+time.Now().Format("150405"), nil, map[string]string{"tollgate.dev/gpu-quota": "2"})
	mig := corev1.ResourceList{"nvidia.com/mig-3g.40gb": resource.MustParse("1")}
	create(t, podWith("full", corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}), ns)
	create(t, podWith("slice-1", mig), ns)
	create(t, podWith("slice-2", mig), ns)
	// Usage comes from the pod informer: wait until it has seen the pods.
	var last error
	if err := waitFor(20*time.Second, func() error {
		_, last = env.cs.CoreV1().Pods(ns).Create(ctx, podWith("slice-3", mig), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if last != nil && strings.Contains(last.Error(), "quota.gpu") {
			return nil
		}
		return os.ErrNotExist
	}); err != nil {
		t.Fatalf("a slice over the quota was not denied: %v", last)
	}
	if !strings.Contains(last.Error(), "1.86 GPUs in use + 0.43 requested = 2.29, over the limit of 2") {
		t.Errorf("quota message: %v", last)
	}
	if err := env.cs.CoreV1().Pods(ns).Delete(ctx, "slice-1", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(20*time.Second, func() error {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, podWith("slice-3", mig), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}); err != nil {
		t.Fatalf("after a deletion the slice still does not fit: %v", err)
	}
	// No quota at all: admitted with a warning.
	cs, w := clientWithWarnings(t)
	if _, err := cs.CoreV1().Pods(namespace(nil)).Create(ctx, podWith("unbounded", corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.String(), "quota.declared") {
		t.Errorf("no quota.declared warning: %q", w)
	}
}

func TestBareSpotPodDenied(t *testing.T) {
	p := restrictedPod("bare-spot")
	p.Spec.NodeSelector = map[string]string{"karpenter.sh/capacity-type": "spot"}
	_, err := env.cs.CoreV1().Pods(namespace(nil)).Create(context.Background(), p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil || !strings.Contains(err.Error(), "spot.controller") {
		t.Fatalf("a bare Spot pod was not denied: %v", err)
	}
}
