package gpus

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/utils/ptr"
)

func TestPodClaims(t *testing.T) {
	single := template("ai", "single-gpu", exact("gpu", "gpu.nvidia.com", 0))
	migs := template("ai", "mig-devices",
		exact("a", "mig.nvidia.com", 0, prof("1g.10gb")),
		exact("b", "mig.nvidia.com", 0, prof("1g.10gb")),
		exact("c", "mig.nvidia.com", 0, prof("2g.20gb")),
		exact("d", "mig.nvidia.com", 0, prof("3g.40gb")),
	)
	shared := claim("ai", "shared-h100s", exact("gpus", "gpu.nvidia.com", 8))
	nic := claim("ai", "nic", exact("nic", "sriov-nic", 1))
	src := static(t, gpuClass(), migClass(), class("sriov-nic", "device.driver == 'sriovnetwork.k8snetworkplumbingwg.io'"), single, migs, shared, nic)
	c := newCounter(t, src)
	gpuContainer := []corev1.Container{ctr(res("nvidia.com/gpu", "1"), nil)}
	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		gpus       float64
		claimsOnly bool
		draOnly    bool
		claims     int
		problem    string
	}{
		{"template", pod("ai", "p", nil, "gpu@single-gpu"), 1, true, true, 1, ""},
		{"NVIDIA's four MIG devices on one GPU", pod("ai", "p", nil, "mig-devices@mig-devices"), 1, true, true, 1, ""},
		{"shared claim", pod("ai", "p", nil, "gpus=shared-h100s"), 8, true, true, 1, ""},
		{"the same claim twice counts once", pod("ai", "p", nil, "a=shared-h100s", "b=shared-h100s"), 8, true, true, 1, ""},
		{"claims and resources", pod("ai", "p", gpuContainer, "gpu@single-gpu"), 2, false, false, 1, ""},
		{"a non-GPU claim", pod("ai", "p", nil, "nic=nic"), 0, false, false, 1, ""},
		{"missing template", pod("ai", "p", nil, "gpu@nope"), 0, false, false, 1, "spec.resourceClaims[0].resourceClaimTemplateName: ResourceClaimTemplate ai/nope does not exist; not counted"},
		{"missing claim", pod("ai", "p", gpuContainer, "gpu=nope"), 1, false, false, 1, "spec.resourceClaims[0].resourceClaimName: ResourceClaim ai/nope does not exist; not counted"},
		{"both names", func() *corev1.Pod {
			p := pod("ai", "p", nil, "gpu=shared-h100s")
			p.Spec.ResourceClaims[0].ResourceClaimTemplateName = ptr.To("single-gpu")
			return p
		}(), 0, false, false, 0, "spec.resourceClaims[0]: sets both or neither"},
		{"claims of another namespace do not count", pod("ml", "p", nil, "gpu@single-gpu"), 0, false, false, 1, "ResourceClaimTemplate ml/single-gpu does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Pod("", tc.pod)
			if got.GPUs != tc.gpus || got.ClaimsOnly != tc.claimsOnly || got.DRAOnly != tc.draOnly || len(got.Claims) != tc.claims {
				t.Errorf("GPUs %v ClaimsOnly %v DRAOnly %v claims %d, want %v %v %v %d", got.GPUs, got.ClaimsOnly, got.DRAOnly, len(got.Claims), tc.gpus, tc.claimsOnly, tc.draOnly, tc.claims)
			}
			if tc.problem == "" && len(got.Problems) > 0 || tc.problem != "" && (len(got.Problems) != 1 || !strings.Contains(got.Problems[0], tc.problem)) {
				t.Errorf("problems %q, want %q", got.Problems, tc.problem)
			}
		})
	}
	got := c.Pod("ai", pod("ai", "p", nil, "mig-devices@mig-devices"))
	if want := map[string]float64{"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}; len(got.MIG) != 3 || got.MIG["1g.10gb"] != 2 || got.MIG["2g.20gb"] != 1 || got.MIG["3g.40gb"] != 1 {
		t.Errorf("MIG = %v, want %v", got.MIG, want)
	}
	if !slices.Equal(got.Profiles, []string{"1g.10gb", "2g.20gb", "3g.40gb"}) {
		t.Errorf("Profiles = %v", got.Profiles)
	}
	if want := (ClaimRef{Template: "mig-devices", Alias: "p/mig-devices", GPUs: 1}); got.Claims[0] != want {
		t.Errorf("claim ref %+v, want %+v", got.Claims[0], want)
	}
}

// TestPodGeneratedClaim: once the resource claim controller made the claim
// from the template, the pod counts that claim.
func TestPodGeneratedClaim(t *testing.T) {
	tmpl := template("ai", "single-gpu", exact("gpu", "gpu.nvidia.com", 1))
	p := pod("ai", "trainer-0", nil, "gpu@single-gpu")
	gen := generated(p, "gpu", "trainer-0-gpu-x7k9m", tmpl)
	gen.Spec.Devices.Requests[0].Exactly.Count = 2 // the claim, not the template, is what the pod holds
	c := newCounter(t, static(t, gpuClass(), tmpl, gen))
	got := c.Pod("ai", p)
	if got.GPUs != 2 || got.Claims[0].Name != "trainer-0-gpu-x7k9m" || got.Claims[0].Alias != "trainer-0/gpu" {
		t.Errorf("GPUs %v claims %+v", got.GPUs, got.Claims)
	}
	// Named in the status but not in the state: the template stands in.
	c = newCounter(t, static(t, gpuClass(), tmpl))
	if got := c.Pod("ai", p); got.GPUs != 1 || got.Claims[0].Name != "trainer-0-gpu-x7k9m" {
		t.Errorf("GPUs %v claims %+v", got.GPUs, got.Claims)
	}
	// A status without a claim name: no claim was needed.
	p.Status.ResourceClaimStatuses[0].ResourceClaimName = nil
	if got := c.Pod("ai", p); got.GPUs != 0 || len(got.Claims) != 0 || len(got.Problems) != 0 {
		t.Errorf("%+v", got)
	}
}

// TestExtendedResourceCountedOnce: nvidia.com/gpu served by the
// gpu.nvidia.com class through extendedResourceName counts once, from the
// container resources, whatever the scheduler's claim says.
func TestExtendedResourceCountedOnce(t *testing.T) {
	gpu := gpuClass()
	gpu.Spec.ExtendedResourceName = ptr.To("nvidia.com/gpu")
	p := pod("ai", "gpu-full-pod", []corev1.Container{{Name: "cuda", Resources: corev1.ResourceRequirements{Limits: res("nvidia.com/gpu", "1")}}})
	p.Status.ExtendedResourceClaimStatus = &corev1.PodExtendedResourceClaimStatus{
		ResourceClaimName: "gpu-full-pod-extended-resources-x7k9m",
		RequestMappings:   []corev1.ContainerExtendedResourceRequest{{ContainerName: "cuda", ResourceName: "nvidia.com/gpu", RequestName: "container-0-request-0"}},
	}
	special := allocate(reserve(claim("ai", "gpu-full-pod-extended-resources-x7k9m", exact("container-0-request-0", "gpu.nvidia.com", 1)), "gpu-full-pod"), "container-0-request-0")
	special.Annotations = map[string]string{resourcev1.ExtendedResourceClaimAnnotation: "true"}
	c := newCounter(t, static(t, gpu, special))
	if got := c.Pod("ai", p); got.GPUs != 1 || got.FromClaims != 0 || got.ClaimsOnly || got.DRAOnly {
		t.Errorf("pod: %+v", got)
	}
	u := c.NamespaceUsage("ai", []*corev1.Pod{p}, []*resourcev1.ResourceClaim{special}, "")
	if u.GPUs != 1 || u.FromClaims != 0 || len(u.Claims) != 0 {
		t.Errorf("usage %+v, want the container's one GPU only", u)
	}
	// Without the annotation, the pod's status still marks the claim.
	delete(special.Annotations, resourcev1.ExtendedResourceClaimAnnotation)
	if u := c.NamespaceUsage("ai", []*corev1.Pod{p}, []*resourcev1.ResourceClaim{special}, ""); u.GPUs != 1 {
		t.Errorf("usage %+v, want 1", u)
	}
}

func TestTerminalPodsUseNothing(t *testing.T) {
	c := newCounter(t, static(t, gpuClass(), template("ai", "t", exact("gpu", "gpu.nvidia.com", 1))))
	p := withPhase(pod("ai", "done", []corev1.Container{ctr(res("nvidia.com/gpu", "2"), nil)}, "gpu@t"), corev1.PodSucceeded)
	if u := c.PodUse("ai", p); !u.Empty() || u.Name != "done" {
		t.Errorf("terminal pod use %+v", u)
	}
	p.Status.Phase = corev1.PodRunning
	if u := c.PodUse("ai", p); u.Empty() || u.Resources != 2 || len(u.Claims) != 1 || u.Claims[0].GPUs != 1 {
		t.Errorf("running pod use %+v", u)
	}
}
