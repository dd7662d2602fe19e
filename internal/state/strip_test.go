package state

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fullPod is a pod as the API server stores it, with everything the
// transforms drop.
func fullPod(ns, name string, gpu bool) *corev1.Pod {
	requests := res("cpu", "4", "memory", "32Gi")
	if gpu {
		requests = res("cpu", "4", "memory", "32Gi", "nvidia.com/gpu", "1", "nvidia.com/mig-3g.40gb", "1")
	}
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: "u-" + metav1.NamespaceDefault, ResourceVersion: "42",
			Labels:          map[string]string{"app": "vllm", "pod-template-hash": "5d9c"},
			Annotations:     map[string]string{"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "vllm-5d9c", UID: "rs", Controller: new(true)}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate}},
		},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{LabelInstanceType: "p5.48xlarge", "karpenter.sh/capacity-type": "spot"},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1a"}},
					{Key: LabelNodePool, Operator: corev1.NodeSelectorOpIn, Values: []string{"gpu"}},
				}}},
			}}},
			InitContainers: []corev1.Container{
				{Name: "proxy", Image: "envoy", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: res("cpu", "100m")}},
			},
			Containers: []corev1.Container{
				{Name: "vllm", Image: "vllm/vllm-openai:v0.6.3", Env: []corev1.EnvVar{{Name: "MODEL", Value: "llama"}},
					Resources: corev1.ResourceRequirements{Requests: requests, Limits: requests}},
				{Name: "sidecar", Image: "busybox"},
			},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func TestStripPod(t *testing.T) {
	g := counter(t)
	full := fullPod("ai", "vllm-0", true)
	out, err := g.StripPod(full)
	if err != nil {
		t.Fatal(err)
	}
	p := out.(*corev1.Pod)
	want := &corev1.Pod{
		TypeMeta:   full.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "vllm-0", UID: full.UID, ResourceVersion: "42"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{LabelInstanceType: "p5.48xlarge"},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: LabelNodePool, Operator: corev1.NodeSelectorOpIn, Values: []string{"gpu"}},
				}}},
			}}},
			Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{
				Requests: res("nvidia.com/gpu", "1", "nvidia.com/mig-3g.40gb", "1"),
				Limits:   res("nvidia.com/gpu", "1", "nvidia.com/mig-3g.40gb", "1"),
			}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("stripped GPU pod:\n%+v\nwant\n%+v", p, want)
	}
	if a, b := g.PodGPUs(&full.Spec), g.PodGPUs(&p.Spec); a != b || PlacementOf(&full.Spec).Key() != PlacementOf(&p.Spec).Key() {
		t.Errorf("stripping changed the GPU count (%v, %v) or placement", a, b)
	}

	out, _ = g.StripPod(fullPod("ai", "web-0", false))
	want = &corev1.Pod{TypeMeta: full.TypeMeta, ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "web-0", UID: full.UID, ResourceVersion: "42"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("stripped CPU pod: %+v", out)
	}
	if x, _ := g.StripPod("not a pod"); x != "not a pod" {
		t.Error("other objects must pass through")
	}
}

func TestStripResourceQuota(t *testing.T) {
	g := counter(t)
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "q", Labels: map[string]string{"x": "y"}},
		Spec: corev1.ResourceQuotaSpec{
			Hard:   res("requests.nvidia.com/gpu", "16", "limits.nvidia.com/gpu", "16", "requests.nvidia.com/mig-1g.10gb", "4", "requests.memory", "512Gi", "pods", "100"),
			Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotTerminating},
		},
		Status: corev1.ResourceQuotaStatus{Used: res("requests.nvidia.com/gpu", "3")},
	}
	out, err := g.StripResourceQuota(q)
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "q"},
		Spec: corev1.ResourceQuotaSpec{
			Hard:   res("requests.nvidia.com/gpu", "16", "limits.nvidia.com/gpu", "16", "requests.nvidia.com/mig-1g.10gb", "4"),
			Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotTerminating},
		},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("stripped quota %+v", out)
	}
}

func TestStripPodDisruptionBudget(t *testing.T) {
	one := intstr.FromInt32(1)
	p := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "pdb", Annotations: map[string]string{"a": "b"}},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "vllm"}}},
		Status:     policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 2},
	}
	out, _ := StripPodDisruptionBudget(p)
	want := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "pdb"}, Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: p.Spec.Selector}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("stripped PDB %+v", out)
	}
}

func TestStripNodePool(t *testing.T) {
	spec := map[string]any{"template": map[string]any{"spec": map[string]any{"requirements": []any{}}}}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
		"metadata": map[string]any{"name": "gpu", "uid": "u", "resourceVersion": "7", "labels": map[string]any{"team": "ml"}, "annotations": map[string]any{"karpenter.sh/nodepool-hash": "1"}, "managedFields": []any{map[string]any{}}},
		"spec":     spec,
		"status":   map[string]any{"nodes": int64(3)},
	}}
	out, _ := StripNodePool(u)
	want := map[string]any{
		"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
		"metadata": map[string]any{"name": "gpu", "uid": "u", "resourceVersion": "7", "labels": map[string]any{"team": "ml"}},
		"spec":     spec,
	}
	if got := out.(*unstructured.Unstructured).Object; !reflect.DeepEqual(got, want) {
		t.Errorf("stripped NodePool %v", got)
	}
}
