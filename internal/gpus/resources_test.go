package gpus

import (
	"math"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// TestPodResourcesLikeGPUCounter ports state.GPUCounter's cases: the
// package must count container resources exactly as it did.
func TestPodResourcesLikeGPUCounter(t *testing.T) {
	c := newCounter(t, nil)
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
			got := c.Pod("ai", &corev1.Pod{Spec: tc.spec})
			if got.GPUs != tc.want || got.FromResources != tc.want || got.FromClaims != 0 {
				t.Errorf("GPUs = %v (resources %v, claims %v), want %v", got.GPUs, got.FromResources, got.FromClaims, tc.want)
			}
			if got.AsksForGPUs != (tc.want > 0) {
				t.Errorf("AsksForGPUs = %v", got.AsksForGPUs)
			}
			if len(got.Problems) > 0 {
				t.Errorf("problems: %v", got.Problems)
			}
			if got.ClaimsOnly {
				t.Error("ClaimsOnly for container resources")
			}
		})
	}
}

func TestPodResourcesMIGAndWholeSplit(t *testing.T) {
	c := newCounter(t, nil)
	got := c.Pod("ai", &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{ctr(res("nvidia.com/mig-3g.40gb", "3"), nil)},
		Containers:     []corev1.Container{ctr(res("nvidia.com/mig-3g.40gb", "1", "nvidia.com/gpu", "2", "nvidia.com/mig-9g.99gb", "1"), nil)},
	}})
	// The init container's three slices outweigh the app's one.
	if got.GPUs != Round(2+3*3.0/7+1) || got.WholeGPUs != 2 {
		t.Errorf("GPUs %v whole %v, want 2 + 9/7 + 1 and 2 whole", got.GPUs, got.WholeGPUs)
	}
	if got.MIG["3g.40gb"] != 3 || got.MIG["9g.99gb"] != 1 || len(got.MIG) != 2 {
		t.Errorf("MIG = %v", got.MIG)
	}
	if !slices.Equal(got.Profiles, []string{"3g.40gb", "9g.99gb"}) {
		t.Errorf("Profiles = %v", got.Profiles)
	}
}

// TestQuantitiesThatAreNotCounts: the API server accepts nvidia.com/gpu:
// 1e70000; counting must stay finite and say which field is wrong.
func TestQuantitiesThatAreNotCounts(t *testing.T) {
	c := newCounter(t, nil)
	for _, tc := range []struct {
		name, qty string
		limits    bool
		want      float64
		problem   string
	}{
		{"huge", "1e70000", true, 0, "spec.containers[0].resources.limits[nvidia.com/gpu]: nvidia.com/gpu 1e70000 is not a GPU count"},
		{"huge request", "2e7", false, 0, "spec.containers[0].resources.requests[nvidia.com/gpu]: nvidia.com/gpu 2e7 is not a GPU count (more than 1000000 devices)"},
		{"exa", "1Ei", false, 0, "nvidia.com/gpu 1Ei is not a GPU count"},
		{"negative", "-2", false, 0, "spec.containers[0].resources.requests[nvidia.com/gpu]: nvidia.com/gpu -2 is negative, not a GPU count"},
		{"fraction", "500m", false, 0.5, "nvidia.com/gpu 500m is not a whole number of devices"},
		{"largest accepted", "1000000", false, 1e6, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := res("nvidia.com/gpu", tc.qty)
			p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr(q, nil)}}}
			if tc.limits {
				p.Spec.Containers[0] = ctr(nil, q)
			}
			got := c.Pod("ai", p)
			if got.GPUs != tc.want || math.IsInf(got.GPUs, 0) || math.IsNaN(got.GPUs) {
				t.Errorf("GPUs = %v, want %v", got.GPUs, tc.want)
			}
			if !got.AsksForGPUs {
				t.Error("a GPU resource with a bad quantity still asks for GPUs")
			}
			if tc.problem == "" {
				if len(got.Problems) > 0 {
					t.Errorf("problems: %v", got.Problems)
				}
				return
			}
			if len(got.Problems) != 1 || !strings.Contains(got.Problems[0], tc.problem) {
				t.Errorf("problems %q, want one containing %q", got.Problems, tc.problem)
			}
		})
	}
}

func TestFormatQuantity(t *testing.T) {
	for in, want := range map[string]string{
		"1e70000": "1e70000", "123e70000": "123e70000", "8": "8", "500m": "500m", "2e7": "2e7", "1Ei": "1Ei", "-3e30": "-3e30",
	} {
		if got := formatQuantity(resource.MustParse(in)); got != want {
			t.Errorf("formatQuantity(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestDRAExtendedResources: KEP-5004 resources served by a DeviceClass.
func TestDRAExtendedResources(t *testing.T) {
	gpu := gpuClass()
	gpu.Spec.ExtendedResourceName = ptr.To("nvidia.com/gpu")
	a100 := class("a100.example.com", "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].productName == 'NVIDIA A100-SXM4-80GB'")
	a100.Spec.ExtendedResourceName = ptr.To("example.com/a100")
	mig3g := class("mig-3g-40gb.gpu.nvidia.com", "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig' && device.attributes['gpu.nvidia.com'].profile == '3g.40gb'")
	mig3g.Spec.ExtendedResourceName = ptr.To("example.com/mig-3g")
	nic := class("sriov-nic", "device.driver == 'sriovnetwork.k8snetworkplumbingwg.io'")
	nic.Spec.ExtendedResourceName = ptr.To("example.com/nic")
	c := newCounter(t, static(t, gpu, migClass(), a100, mig3g, nic))
	for _, tc := range []struct {
		name      string
		resources corev1.ResourceList
		want      float64
		draOnly   bool
	}{
		{"nvidia.com/gpu served by a class counts once, by weight", res("nvidia.com/gpu", "2"), 2, false},
		{"implicit class name", res("deviceclass.resource.kubernetes.io/gpu.nvidia.com", "2"), 2, true},
		{"implicit name of a MIG class without profile is a whole GPU", res("deviceclass.resource.kubernetes.io/mig.nvidia.com", "1"), 1, true},
		{"implicit name of a per-profile class", res("deviceclass.resource.kubernetes.io/mig-3g-40gb.gpu.nvidia.com", "2"), 0.857143, true},
		{"extendedResourceName of a driver-detected class", res("example.com/a100", "4"), 4, true},
		{"extendedResourceName of a MIG class", res("example.com/mig-3g", "7"), 3, true},
		{"a NIC class is not a GPU", res("example.com/nic", "2", "deviceclass.resource.kubernetes.io/sriov-nic", "1"), 0, false},
		{"mixed", res("nvidia.com/gpu", "1", "deviceclass.resource.kubernetes.io/gpu.nvidia.com", "1"), 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Pod("ai", pod("ai", "p", []corev1.Container{ctr(tc.resources, nil)}))
			if got.GPUs != tc.want || got.DRAOnly != tc.draOnly || got.ClaimsOnly {
				t.Errorf("GPUs %v DRAOnly %v ClaimsOnly %v, want %v %v false", got.GPUs, got.DRAOnly, got.ClaimsOnly, tc.want, tc.draOnly)
			}
			if len(got.Problems) > 0 {
				t.Errorf("problems: %v", got.Problems)
			}
		})
	}
	if w, ok := c.Weight("deviceclass.resource.kubernetes.io/gpu.nvidia.com"); !ok || w != 1 {
		t.Errorf("Weight of the implicit gpu.nvidia.com resource = %v, %v", w, ok)
	}
	if _, ok := c.Weight("example.com/nic"); ok {
		t.Error("a NIC is a GPU resource")
	}
	got := c.Pod("ai", pod("ai", "p", []corev1.Container{ctr(res("deviceclass.resource.kubernetes.io/h100.example.com", "1"), nil)}))
	if got.GPUs != 0 || len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "DeviceClass h100.example.com does not exist") {
		t.Errorf("implicit name of a missing class: %+v", got)
	}
}

// TestNewestClassServesAnExtendedResource: two classes with one
// extendedResourceName, the newer wins (then the first by name).
func TestNewestClassServesAnExtendedResource(t *testing.T) {
	old := class("old-gpus", "device.driver == 'gpu.nvidia.com'")
	old.Spec.ExtendedResourceName = ptr.To("example.com/accel")
	old.CreationTimestamp = metav1Time(1)
	newer := class("new-nics", "device.driver == 'nic.example.com'")
	newer.Spec.ExtendedResourceName = ptr.To("example.com/accel")
	newer.CreationTimestamp = metav1Time(2)
	c := newCounter(t, static(t, old, newer))
	if got := c.Pod("ai", pod("ai", "p", []corev1.Container{ctr(res("example.com/accel", "1"), nil)})); got.GPUs != 0 {
		t.Errorf("the newer, non-GPU class should serve example.com/accel: %v GPUs", got.GPUs)
	}
}
