package audit

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/state"
)

func gpuPod(ns, name string, gpus int64, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(gpus, resource.DecimalSI)},
		}}}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func stateObjects() []runtime.Object {
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ai", Labels: map[string]string{"team": "ml"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "agent", Annotations: map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/a", "other": "x"}}},
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "gpu"}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("4")}}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "pdb"}},
		gpuPod("ai", "train-0", 2, corev1.PodRunning),
		gpuPod("ai", "train-1", 1, corev1.PodPending),
		gpuPod("ai", "done", 8, corev1.PodSucceeded),
		gpuPod("web", "cpu", 0, corev1.PodRunning),
	}
}

// lists counts the list and get requests of a fake clientset by resource
// and namespace.
func lists(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if a.GetVerb() == "list" || a.GetVerb() == "get" {
			out = append(out, fmt.Sprintf("%s %s %q", a.GetVerb(), a.GetResource().Resource, a.GetNamespace()))
		}
	}
	return out
}

func TestAPIStateAllNamespaces(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(stateObjects()...)
	s := NewAPIState(cs, nil, nil, nil, 100)
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	counter := state.NewGPUCounter(cat, map[string]float64{"nvidia.com/gpu": 1})
	for range 2 {
		ns, err := s.Namespace(ctx, "ai")
		if err != nil || ns == nil || ns.Labels["team"] != "ml" || ns.ManagedFields != nil {
			t.Fatalf("namespace ai: %+v, %v", ns, err)
		}
		if ns, _ := s.Namespace(ctx, "gone"); ns != nil {
			t.Errorf("a missing namespace: %+v", ns)
		}
		sa, err := s.ServiceAccount(ctx, "ai", "agent")
		if err != nil || sa == nil || sa.Annotations["other"] != "" || sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
			t.Fatalf("ServiceAccount: %+v, %v (want the EKS annotations only)", sa, err)
		}
		if qs, _ := s.ResourceQuotas(ctx, "ai"); len(qs) != 1 {
			t.Errorf("quotas of ai: %d", len(qs))
		}
		if ps, _ := s.PodDisruptionBudgets(ctx, "web"); len(ps) != 1 {
			t.Errorf("PDBs of web: %d", len(ps))
		}
		u, err := s.GPUUsage(ctx, counter, "ai", "train-1")
		if err != nil || u.GPUs != 2 {
			t.Errorf("GPU use of ai without train-1: %v, %v (want 2: done has finished)", u.GPUs, err)
		}
	}
	pods, err := s.Pods(ctx, "ai")
	if err != nil || len(pods) != 2 {
		t.Errorf("non-terminal pods of ai: %d, %v", len(pods), err)
	}
	// Each kind is listed once, cluster-wide; pods once for GPU use and
	// once for Pods (which keeps nothing).
	want := []string{`list namespaces ""`, `list serviceaccounts ""`, `list resourcequotas ""`, `list poddisruptionbudgets ""`, `list pods ""`, `list pods "ai"`}
	if got := lists(cs); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if nps, err := s.NodePools(ctx); nps != nil || err != nil {
		t.Errorf("NodePools without the kind: %v, %v", nps, err)
	}
}

func TestAPIStateSomeNamespaces(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(stateObjects()...)
	s := NewAPIState(cs, nil, nil, []string{"ai"}, 100)
	if ns, err := s.Namespace(ctx, "ai"); err != nil || ns == nil {
		t.Fatalf("namespace ai: %v, %v", ns, err)
	}
	if sa, err := s.ServiceAccount(ctx, "ai", "agent"); err != nil || sa == nil {
		t.Fatalf("ServiceAccount: %v, %v", sa, err)
	}
	if sa, _ := s.ServiceAccount(ctx, "ai", "missing"); sa != nil {
		t.Errorf("a missing ServiceAccount: %+v", sa)
	}
	want := []string{`get namespaces ""`, `list serviceaccounts "ai"`}
	if got := lists(cs); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}
