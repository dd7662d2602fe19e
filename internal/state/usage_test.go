package state

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
)

func counter(t testing.TB) GPUCounter {
	t.Helper()
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return NewGPUCounter(cat, map[string]float64{"nvidia.com/gpu": 1, "nvidia.com/gpu.shared": 0.25, "example.com/off": 0})
}

func res(kv ...string) corev1.ResourceList {
	rl := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		rl[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return rl
}

func ctr(requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func sidecar(requests corev1.ResourceList) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	c := ctr(requests, nil)
	c.RestartPolicy = &always
	return c
}

func TestPodGPUs(t *testing.T) {
	g := counter(t)
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want float64
	}{
		{"no GPUs", corev1.PodSpec{Containers: []corev1.Container{ctr(res("cpu", "4"), nil)}}, 0},
		{"requests", corev1.PodSpec{Containers: []corev1.Container{ctr(res("nvidia.com/gpu", "2"), nil), ctr(res("nvidia.com/gpu", "1"), nil)}}, 3},
		{"limits only", corev1.PodSpec{Containers: []corev1.Container{ctr(nil, res("nvidia.com/gpu", "8"))}}, 8},
		{"3g.40gb is 3/7", corev1.PodSpec{Containers: []corev1.Container{ctr(res("nvidia.com/mig-3g.40gb", "1"), nil)}}, 0.428571},
		{"seven 1g slices are one GPU", corev1.PodSpec{Containers: []corev1.Container{ctr(res("nvidia.com/mig-1g.10gb", "7"), nil)}}, 1},
		{"A30 2g.12gb is 2/4", corev1.PodSpec{Containers: []corev1.Container{ctr(res("nvidia.com/mig-2g.12gb", "1"), nil)}}, 0.5},
		{"media extensions take the base profile", corev1.PodSpec{Containers: []corev1.Container{ctr(res("nvidia.com/mig-1g.10gb+me", "1"), nil)}}, 0.142857},
		{"unknown profile is a whole GPU", corev1.PodSpec{Containers: []corev1.Container{ctr(res("nvidia.com/mig-9g.99gb", "1"), nil)}}, 1},
		{"configured weight", corev1.PodSpec{Containers: []corev1.Container{ctr(res("nvidia.com/gpu.shared", "2"), nil)}}, 0.5},
		{"weight 0 is not counted", corev1.PodSpec{Containers: []corev1.Container{ctr(res("example.com/off", "4"), nil)}}, 0},
		{"init container larger than the app", corev1.PodSpec{
			InitContainers: []corev1.Container{ctr(res("nvidia.com/gpu", "4"), nil)},
			Containers:     []corev1.Container{ctr(res("nvidia.com/gpu", "1"), nil)},
		}, 4},
		{"sidecars add to the app and to later init containers", corev1.PodSpec{
			InitContainers: []corev1.Container{sidecar(res("nvidia.com/gpu", "1")), ctr(res("nvidia.com/gpu", "2"), nil)},
			Containers:     []corev1.Container{ctr(res("nvidia.com/gpu", "1"), nil)},
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := g.PodGPUs(&tc.spec); got != tc.want {
				t.Errorf("PodGPUs = %v, want %v", got, tc.want)
			}
			if got := g.RequestsGPUs(&tc.spec); got != (tc.want > 0) {
				t.Errorf("RequestsGPUs = %v", got)
			}
		})
	}
}

func TestPlacementOf(t *testing.T) {
	in := func(key string, values ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}
	}
	required := func(terms ...[]corev1.NodeSelectorRequirement) *corev1.Affinity {
		var ts []corev1.NodeSelectorTerm
		for _, t := range terms {
			ts = append(ts, corev1.NodeSelectorTerm{MatchExpressions: t})
		}
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: ts}}}
	}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"nothing", corev1.PodSpec{}, "||"},
		{"instance type selector wins", corev1.PodSpec{NodeSelector: map[string]string{LabelInstanceType: "p5.48xlarge", LabelNodePool: "gpu"}}, "p5.48xlarge||"},
		{"family", corev1.PodSpec{NodeSelector: map[string]string{LabelInstanceFamily: "g6e"}}, "|g6e|"},
		{"nodepool", corev1.PodSpec{NodeSelector: map[string]string{LabelNodePool: "gpu-training-pool"}}, "||gpu-training-pool"},
		{"affinity terms union", corev1.PodSpec{Affinity: required(
			[]corev1.NodeSelectorRequirement{in(LabelInstanceType, "p5.48xlarge", "p4d.24xlarge")},
			[]corev1.NodeSelectorRequirement{in(LabelInstanceType, "p4de.24xlarge", "p4d.24xlarge")},
		)}, "p4d.24xlarge,p4de.24xlarge,p5.48xlarge||"},
		{"a term that names nothing places nothing", corev1.PodSpec{Affinity: required(
			[]corev1.NodeSelectorRequirement{in(LabelInstanceType, "p5.48xlarge")},
			[]corev1.NodeSelectorRequirement{in("topology.kubernetes.io/zone", "us-east-1a")},
		)}, "||"},
		{"families in affinity", corev1.PodSpec{Affinity: required([]corev1.NodeSelectorRequirement{in(LabelInstanceFamily, "g5", "g6")})}, "|g5,g6|"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlacementOf(&tc.spec).Key(); got != tc.want {
				t.Errorf("PlacementOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func gpuPod(ns, name string, gpus string, phase corev1.PodPhase, selector map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeSelector: selector, Containers: []corev1.Container{ctr(res("nvidia.com/gpu", gpus), nil)}},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func TestGPUUsageAggregator(t *testing.T) {
	u := NewGPUUsage(counter(t))
	p5 := map[string]string{LabelInstanceType: "p5.48xlarge"}
	u.OnAdd(gpuPod("a", "train-0", "8", corev1.PodRunning, p5), true)
	u.OnAdd(gpuPod("a", "train-1", "8", corev1.PodPending, p5), true)
	u.OnAdd(gpuPod("a", "infer", "1", corev1.PodRunning, nil), true)
	u.OnAdd(gpuPod("a", "done", "4", corev1.PodSucceeded, nil), true)
	u.OnAdd(gpuPod("b", "other", "2", corev1.PodRunning, nil), true)
	u.OnAdd(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "cpu"}}, true)

	check := func(ns, exclude string, want float64, wantPlacements int) {
		t.Helper()
		got := u.Usage(ns, exclude)
		if got.GPUs != want || len(got.ByPlacement) != wantPlacements {
			t.Errorf("Usage(%s, %q) = %+v, want %v GPUs in %d placements", ns, exclude, got, want, wantPlacements)
		}
	}
	check("a", "", 17, 2)
	check("a", "train-1", 9, 2)
	check("b", "", 2, 1)
	check("none", "", 0, 0)

	// A pod that finishes stops counting; a deleted one too, also when the
	// informer only knows its last state.
	u.OnUpdate(nil, gpuPod("a", "train-1", "8", corev1.PodFailed, p5))
	check("a", "", 9, 2)
	u.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "a/infer", Obj: gpuPod("a", "infer", "1", corev1.PodRunning, nil)})
	check("a", "", 8, 1)
	u.OnDelete(gpuPod("a", "train-0", "8", corev1.PodRunning, p5))
	check("a", "", 0, 0)
	if len(u.namespaces) != 1 {
		t.Errorf("empty namespaces are kept: %v", u.namespaces)
	}
}

func TestUsageOfMatchesTheAggregator(t *testing.T) {
	g := counter(t)
	pods := []*corev1.Pod{
		gpuPod("a", "x", "2", corev1.PodRunning, map[string]string{LabelNodePool: "gpu"}),
		gpuPod("a", "y", "1", corev1.PodRunning, nil),
		gpuPod("a", "z", "1", corev1.PodFailed, nil),
	}
	mig := gpuPod("a", "m", "1", corev1.PodRunning, nil)
	mig.Spec.Containers[0].Resources.Requests = res("nvidia.com/mig-3g.40gb", "2")
	pods = append(pods, mig)
	u := NewGPUUsage(g)
	for _, p := range pods {
		u.OnAdd(p, true)
	}
	for _, exclude := range []string{"", "x", "m"} {
		a, b := UsageOf(pods, g, exclude), u.Usage("a", exclude)
		if a.GPUs != b.GPUs || len(a.ByPlacement) != len(b.ByPlacement) {
			t.Errorf("exclude %q: UsageOf %+v, aggregator %+v", exclude, a, b)
		}
	}
	if got := UsageOf(pods, g, "").GPUs; got != 3.857143 {
		t.Errorf("UsageOf = %v, want 3 + 6/7", got)
	}
}

// TestGPUUsageConcurrent feeds the aggregator from one goroutine while
// others read it, as the informer and admission do (run with -race).
func TestGPUUsageConcurrent(t *testing.T) {
	u := NewGPUUsage(counter(t))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			p := gpuPod("a", fmt.Sprintf("p-%d", i%50), "1", corev1.PodRunning, nil)
			if i%3 == 0 {
				u.OnDelete(p)
			} else {
				u.OnUpdate(nil, p)
			}
		}
	}()
	for {
		select {
		case <-done:
			if got := u.Usage("a", "").GPUs; got < 0 || got > 50 {
				t.Fatalf("usage %v out of bounds", got)
			}
			return
		default:
			if got := u.Usage("a", "p-1").GPUs; got < 0 || got > 50 {
				t.Fatalf("usage %v out of bounds", got)
			}
		}
	}
}

// BenchmarkGPUUsageRead is what one admission pays to read a namespace's
// GPU use: 40 GPU pods on four placements.
func BenchmarkGPUUsageRead(b *testing.B) {
	u := NewGPUUsage(counter(b))
	for i := range 40 {
		sel := map[string]string{LabelNodePool: fmt.Sprintf("pool-%d", i%4)}
		u.OnAdd(gpuPod("a", fmt.Sprintf("p-%d", i), "1", corev1.PodRunning, sel), true)
	}
	b.ReportAllocs()
	for b.Loop() {
		if u.Usage("a", "p-3").GPUs != 39 {
			b.Fatal("wrong usage")
		}
	}
}
