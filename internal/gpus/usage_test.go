package gpus

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNamespaceUsage(t *testing.T) {
	tmpl := template("ai", "single-gpu", exact("gpu", "gpu.nvidia.com", 1))
	shared := claim("ai", "shared-8", exact("gpus", "gpu.nvidia.com", 8))
	gpu1 := []corev1.Container{ctr(res("nvidia.com/gpu", "1"), nil)}
	type state struct {
		pods   []*corev1.Pod
		claims []*resourcev1.ResourceClaim
	}
	for _, tc := range []struct {
		name    string
		state   func() state
		exclude string
		want    float64
		claims  int
	}{
		{"container resources of non-terminal pods", func() state {
			return state{pods: []*corev1.Pod{pod("ai", "a", gpu1), pod("ai", "b", gpu1), withPhase(pod("ai", "c", gpu1), corev1.PodFailed)}}
		}, "", 2, 0},
		{"a claim shared by three pods counts once", func() state {
			return state{
				pods:   []*corev1.Pod{pod("ai", "a", nil, "g=shared-8"), pod("ai", "b", nil, "g=shared-8"), pod("ai", "c", gpu1, "g=shared-8")},
				claims: []*resourcev1.ResourceClaim{shared},
			}
		}, "", 9, 1},
		{"reservedFor listing several pods counts once", func() state {
			return state{claims: []*resourcev1.ResourceClaim{allocate(reserve(shared, "a", "b", "c"), "gpus", "gpus", "gpus", "gpus", "gpus", "gpus", "gpus", "gpus")}}
		}, "", 8, 1},
		{"allocated, reserved for no pod, still holds its devices", func() state {
			return state{claims: []*resourcev1.ResourceClaim{allocate(shared, "gpus", "gpus")}}
		}, "", 2, 1},
		{"reserved, not allocated yet", func() state {
			return state{claims: []*resourcev1.ResourceClaim{reserve(shared, "a")}}
		}, "", 8, 1},
		{"a claim nobody uses holds nothing", func() state {
			return state{claims: []*resourcev1.ResourceClaim{shared}}
		}, "", 0, 0},
		{"a claim only terminal pods use holds nothing", func() state {
			return state{pods: []*corev1.Pod{withPhase(pod("ai", "a", nil, "g=shared-8"), corev1.PodSucceeded)}, claims: []*resourcev1.ResourceClaim{shared}}
		}, "", 0, 0},
		{"the excluded pod's unallocated claim is left out", func() state {
			return state{pods: []*corev1.Pod{pod("ai", "a", gpu1, "g=shared-8")}, claims: []*resourcev1.ResourceClaim{shared}}
		}, "a", 0, 0},
		{"the excluded pod's allocated claim stays", func() state {
			return state{pods: []*corev1.Pod{pod("ai", "a", gpu1, "g=shared-8")}, claims: []*resourcev1.ResourceClaim{allocate(reserve(shared, "a"), "gpus")}}
		}, "a", 1, 1},
		{"template claims are one per pod, estimated before they exist", func() state {
			return state{pods: []*corev1.Pod{pod("ai", "a", nil, "g@single-gpu"), pod("ai", "b", nil, "g@single-gpu")}}
		}, "", 2, 2},
		{"a generated claim and its pod count once", func() state {
			a, b := pod("ai", "a", nil, "g@single-gpu"), pod("ai", "b", nil, "g@single-gpu")
			// a's status names its claim; b's claim exists but b's status
			// does not say so yet (the controller creates the claim first).
			ca := allocate(generated(a, "g", "a-g-abcde", tmpl), "gpu")
			cb := generatedClaim(b, "g", "b-g-fghij", tmpl)
			return state{pods: []*corev1.Pod{a, b}, claims: []*resourcev1.ResourceClaim{ca, cb}}
		}, "", 2, 2},
		{"non-GPU and zero claims are not listed", func() state {
			nic := claim("ai", "nic", exact("nic", "sriov-nic", 1))
			return state{pods: []*corev1.Pod{pod("ai", "a", nil, "n=nic")}, claims: []*resourcev1.ResourceClaim{allocate(nic, "nic")}}
		}, "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.state()
			c := newCounter(t, static(t, append([]any{gpuClass(), class("sriov-nic", "device.driver == 'sriov.example.com'"), tmpl}, claimsAny(s.claims)...)...))
			u := c.NamespaceUsage("ai", s.pods, s.claims, tc.exclude)
			if u.GPUs != tc.want || len(u.Claims) != tc.claims {
				t.Errorf("usage %v GPUs, %d claims (%+v), want %v and %d", u.GPUs, len(u.Claims), u.Claims, tc.want, tc.claims)
			}
			if u.GPUs != Round(u.FromResources+u.FromClaims) {
				t.Errorf("total %v is not resources %v + claims %v", u.GPUs, u.FromResources, u.FromClaims)
			}
			// The aggregator's way: per-object contributions, summed.
			var uses []PodUse
			for _, p := range s.pods {
				if use := c.PodUse("ai", p); !use.Empty() {
					uses = append(uses, use)
				}
			}
			var states []ClaimState
			for _, cl := range s.claims {
				if st := c.ClaimState(cl); !st.Empty() {
					states = append(states, st)
				}
			}
			if agg := Sum(uses, states, tc.exclude); agg.GPUs != u.GPUs {
				t.Errorf("Sum of kept contributions %v, NamespaceUsage %v", agg.GPUs, u.GPUs)
			}
		})
	}
}

func claimsAny(cs []*resourcev1.ResourceClaim) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

// TestAdds: what the pod under review adds on top of the usage without it.
func TestAdds(t *testing.T) {
	tmpl := template("ai", "single-gpu", exact("gpu", "gpu.nvidia.com", 1))
	shared := allocate(reserve(claim("ai", "shared-8", exact("gpus", "gpu.nvidia.com", 8)), "a"), "gpus", "gpus", "gpus", "gpus", "gpus", "gpus", "gpus", "gpus")
	idle := claim("ai", "idle-4", exact("gpus", "gpu.nvidia.com", 4))
	c := newCounter(t, static(t, gpuClass(), tmpl, shared, idle))
	running := []*corev1.Pod{pod("ai", "a", nil, "g=shared-8")}
	claims := []*resourcev1.ResourceClaim{shared, idle}
	for _, tc := range []struct {
		name     string
		pod      *corev1.Pod
		usage    float64
		adds     float64
		newTotal float64
	}{
		{"joins the shared claim: nothing", pod("ai", "new", nil, "g=shared-8"), 8, 0, 8},
		{"uses the idle claim", pod("ai", "new", nil, "g=idle-4"), 8, 4, 12},
		{"the idle claim twice", pod("ai", "new", nil, "x=idle-4", "y=idle-4"), 8, 4, 12},
		{"its own template claim and a GPU", pod("ai", "new", []corev1.Container{ctr(res("nvidia.com/gpu", "1"), nil)}, "g@single-gpu"), 8, 2, 10},
		{"the running pod under update adds nothing", pod("ai", "a", nil, "g=shared-8"), 8, 0, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := c.NamespaceUsage("ai", running, claims, tc.pod.Name)
			adds := u.Adds(c.PodUse("ai", tc.pod))
			if u.GPUs != tc.usage || adds != tc.adds {
				t.Errorf("usage %v adds %v, want %v and %v", u.GPUs, adds, tc.usage, tc.adds)
			}
			// Adding the pod to the namespace gives usage + adds.
			all := c.NamespaceUsage("ai", append(running[:len(running):len(running)], tc.pod), claims, "")
			if tc.pod.Name == "a" {
				all = c.NamespaceUsage("ai", running, claims, "")
			}
			if all.GPUs != tc.newTotal || Round(u.GPUs+adds) != all.GPUs {
				t.Errorf("with the pod the namespace uses %v, want %v = %v + %v", all.GPUs, tc.newTotal, u.GPUs, adds)
			}
		})
	}
	if u := c.NamespaceUsage("ai", running, claims, ""); !u.Counts("shared-8") || u.Counts("idle-4") {
		t.Errorf("Counts: %+v", u.Claims)
	}
}

// TestSumOrderIndependent: the aggregator keeps maps; the sum must not
// depend on the order it reads them in.
func TestSumOrderIndependent(t *testing.T) {
	var uses []PodUse
	var states []ClaimState
	for i := range 30 {
		uses = append(uses, PodUse{Name: fmt.Sprintf("p%d", i), Resources: 3.0 / 7, Claims: []ClaimRef{{Name: fmt.Sprintf("c%d", i%7), GPUs: 1.0 / 7}}})
		if i < 7 {
			states = append(states, ClaimState{Name: fmt.Sprintf("c%d", i), GPUs: 1.0 / 7})
		}
	}
	want := Sum(uses, states, "").GPUs
	for i := range 10 {
		u2, s2 := append([]PodUse(nil), uses...), append([]ClaimState(nil), states...)
		for j := range u2 {
			k := (j*7 + i) % len(u2)
			u2[j], u2[k] = u2[k], u2[j]
		}
		for j := range s2 {
			k := (j*3 + i) % len(s2)
			s2[j], s2[k] = s2[k], s2[j]
		}
		if got := Sum(u2, s2, "").GPUs; got != want {
			t.Fatalf("order %d: %v, want %v", i, got, want)
		}
	}
	if want != Round(30*3.0/7+1) {
		t.Errorf("Sum = %v, want 30 x 3/7 + 7 x 1/7", want)
	}
}

func TestClaimStateAlias(t *testing.T) {
	c := newCounter(t, static(t, gpuClass()))
	cl := claim("ai", "trainer-0-gpu-x7k9m", exact("gpu", "gpu.nvidia.com", 1))
	cl.Annotations = map[string]string{resourcev1.PodResourceClaimAnnotation: "gpu"}
	cl.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "trainer-0", Controller: new(bool)}}
	if s := c.ClaimState(cl); s.Alias != "" {
		t.Errorf("a non-controller owner gives alias %q", s.Alias)
	}
	*cl.OwnerReferences[0].Controller = true
	if s := c.ClaimState(cl); s.Alias != "trainer-0/gpu" {
		t.Errorf("alias %q", s.Alias)
	}
}

// TestSlicesAddUpToWholeGPUs: seven pods of one 4g.40gb slice each are
// four GPUs, not 4.000003 as six-decimal parts would add up to, so that a
// quota of 4 admits them.
func TestSlicesAddUpToWholeGPUs(t *testing.T) {
	tmpl := template("ai", "4g", exact("mig", "mig.nvidia.com", 1, prof("4g.40gb")))
	c := newCounter(t, static(t, migClass(), tmpl))
	var pods []*corev1.Pod
	for i := range 7 {
		pods = append(pods, pod("ai", fmt.Sprintf("p%d", i), []corev1.Container{ctr(res("nvidia.com/mig-4g.40gb", "1"), nil)}))
		pods = append(pods, pod("ai", fmt.Sprintf("q%d", i), nil, "g@4g"))
	}
	if u := c.NamespaceUsage("ai", pods, nil, ""); u.GPUs != 8 || u.FromResources != 4 || u.FromClaims != 4 {
		t.Errorf("usage %+v, want 4 + 4", u)
	}
}
