package gpus

import (
	"maps"
	"slices"
	"strings"
	"testing"

	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/utils/ptr"
)

const migProfile = "device.attributes['gpu.nvidia.com'].profile == '%s'"

func prof(p string) string { return strings.ReplaceAll(migProfile, "%s", p) }

func TestClaimTemplateCounts(t *testing.T) {
	perProfile := class("mig-1g-10gb.gpu.nvidia.com", "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig' && device.attributes['gpu.nvidia.com'].profile == '1g.10gb'")
	noSelectors := &resourcev1.DeviceClass{}
	noSelectors.Name = "any-device"
	nic := class("sriov-nic", "device.driver == 'sriovnetwork.k8snetworkplumbingwg.io'")
	vfio := class("vfio.gpu.nvidia.com", "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'vfio'")
	off := class("gpu-monitoring", "device.driver == 'gpu.nvidia.com'")
	c := newCounter(t, static(t, gpuClass(), migClass(), perProfile, noSelectors, nic, vfio, off))
	c.cfg.DeviceClasses["gpu-monitoring"] = KindNone
	type want struct {
		gpus, whole float64
		mig         map[string]float64
		all         int
		profiles    []string
		// asks: a GPU request that counts nothing (a bad count).
		asks bool
		// note and problem are substrings that must appear (empty: none
		// may).
		note, problem string
	}
	for _, tc := range []struct {
		name string
		reqs []resourcev1.DeviceRequest
		want want
	}{
		{"count unset is one", []resourcev1.DeviceRequest{exact("gpu", "gpu.nvidia.com", 0)}, want{gpus: 1, whole: 1}},
		{"ExactCount 4", []resourcev1.DeviceRequest{exact("gpus", "gpu.nvidia.com", 4)}, want{gpus: 4, whole: 4}},
		{"explicit mode", func() []resourcev1.DeviceRequest {
			r := exact("gpus", "gpu.nvidia.com", 2)
			r.Exactly.AllocationMode = resourcev1.DeviceAllocationModeExactCount
			return []resourcev1.DeviceRequest{r}
		}(), want{gpus: 2, whole: 2}},
		{"several requests add up", []resourcev1.DeviceRequest{exact("a", "gpu.nvidia.com", 0), exact("b", "gpu.nvidia.com", 2)}, want{gpus: 3, whole: 3}},
		{"All counts one and is flagged", []resourcev1.DeviceRequest{allOf("all", "gpu.nvidia.com")}, want{gpus: 1, whole: 1, all: 1, note: "allocationMode All takes every matching device of gpu.nvidia.com"}},
		{"MIG profile from the request selector", []resourcev1.DeviceRequest{exact("mig", "mig.nvidia.com", 2, prof("3g.40gb"))}, want{gpus: 0.857143, mig: map[string]float64{"3g.40gb": 2}, profiles: []string{"3g.40gb"}}},
		{"MIG fractions add up to GPUs", []resourcev1.DeviceRequest{exact("a", "mig.nvidia.com", 0, prof("3g.40gb")), exact("b", "mig.nvidia.com", 0, prof("4g.40gb"))}, want{gpus: 1, mig: map[string]float64{"3g.40gb": 1, "4g.40gb": 1}, profiles: []string{"3g.40gb", "4g.40gb"}}},
		{"MIG profile from the class", []resourcev1.DeviceRequest{exact("mig", "mig-1g-10gb.gpu.nvidia.com", 7)}, want{gpus: 1, mig: map[string]float64{"1g.10gb": 7}, profiles: []string{"1g.10gb"}, note: "not configured as a GPU class, but its selectors require driver gpu.nvidia.com"}},
		{"MIG without profile is a whole GPU", []resourcev1.DeviceRequest{exact("mig", "mig.nvidia.com", 2)}, want{gpus: 2, whole: 2, note: "no selector names the MIG profile: counted as a whole GPU per device"}},
		{"unparseable selector is a whole GPU", []resourcev1.DeviceRequest{exact("mig", "mig.nvidia.com", 1, "device.attributes['gpu.nvidia.com'].profile == ")}, want{gpus: 1, whole: 1, note: "a selector is not a CEL expression"}},
		{"|| on the profile is a whole GPU", []resourcev1.DeviceRequest{exact("mig", "mig.nvidia.com", 1, prof("1g.10gb")+" || "+prof("2g.20gb"))}, want{gpus: 1, whole: 1, note: "allows several profiles with ||"}},
		{"contradictory profiles are a whole GPU", []resourcev1.DeviceRequest{exact("mig", "mig-1g-10gb.gpu.nvidia.com", 1, prof("3g.40gb"))}, want{gpus: 1, whole: 1, profiles: []string{"1g.10gb", "3g.40gb"}, note: "selectors require MIG profiles 1g.10gb and 3g.40gb at once"}},
		{"profile unknown to the catalog is a whole GPU", []resourcev1.DeviceRequest{exact("mig", "mig.nvidia.com", 1, prof("5g.99gb"))}, want{gpus: 1, mig: map[string]float64{"5g.99gb": 1}, profiles: []string{"5g.99gb"}, note: "MIG profile 5g.99gb is not in the catalog"}},
		{"a profile selector on a whole-GPU class changes nothing", []resourcev1.DeviceRequest{exact("gpu", "gpu.nvidia.com", 1, prof("1g.10gb"))}, want{gpus: 1, whole: 1}},
		{"non-GPU class", []resourcev1.DeviceRequest{exact("nic", "sriov-nic", 2)}, want{}},
		{"class excluded by configuration", []resourcev1.DeviceRequest{exact("mon", "gpu-monitoring", 1)}, want{}},
		{"vfio passthrough GPUs through their driver", []resourcev1.DeviceRequest{exact("vm", "vfio.gpu.nvidia.com", 2)}, want{gpus: 2, whole: 2, note: "require driver gpu.nvidia.com"}},
		{"an empty class with a GPU driver selector in the request", []resourcev1.DeviceRequest{exact("x", "any-device", 3, "device.driver == 'gpu.nvidia.com'")}, want{gpus: 3, whole: 3, note: "DeviceClass any-device is not configured"}},
		{"an empty class, nothing about the driver", []resourcev1.DeviceRequest{exact("x", "any-device", 3)}, want{}},
		{"firstAvailable counts the largest", []resourcev1.DeviceRequest{{Name: "gpu", FirstAvailable: []resourcev1.DeviceSubRequest{
			sub("one-3g", "mig.nvidia.com", 1, prof("3g.40gb")), sub("two-full", "gpu.nvidia.com", 2), sub("nic", "sriov-nic", 8),
		}}}, want{gpus: 2, whole: 2, profiles: []string{"3g.40gb"}, note: "firstAvailable: counted the largest of 3 alternatives, gpu/two-full (2 GPUs)"}},
		{"firstAvailable with All flags it", []resourcev1.DeviceRequest{{Name: "gpu", FirstAvailable: []resourcev1.DeviceSubRequest{
			sub("two", "gpu.nvidia.com", 2), {Name: "all", DeviceClassName: "gpu.nvidia.com", AllocationMode: resourcev1.DeviceAllocationModeAll},
		}}}, want{gpus: 2, whole: 2, all: 1, note: "counted the largest of 2 alternatives, gpu/two"}},
		{"missing class", []resourcev1.DeviceRequest{exact("x", "h100.example.com", 1)}, want{problem: "ResourceClaimTemplate ai/t: spec.spec.devices.requests[0].exactly: DeviceClass h100.example.com does not exist; its devices are not counted"}},
		{"negative count", []resourcev1.DeviceRequest{exact("gpu", "gpu.nvidia.com", -1)}, want{asks: true, problem: "ResourceClaimTemplate ai/t: spec.spec.devices.requests[0].exactly.count: -1 is not a count"}},
		{"absurd count", []resourcev1.DeviceRequest{exact("gpu", "gpu.nvidia.com", 1<<62)}, want{asks: true, problem: "spec.spec.devices.requests[0].exactly.count: 4611686018427387904 is not a count (more than 1000000 devices)"}},
		{"a count no claim gets", []resourcev1.DeviceRequest{exact("gpu", "gpu.nvidia.com", 64)}, want{gpus: 64, whole: 64, note: "64 devices can never be allocated: a claim gets at most 32"}},
		{"unknown mode", func() []resourcev1.DeviceRequest {
			r := exact("gpu", "gpu.nvidia.com", 1)
			r.Exactly.AllocationMode = "Most"
			return []resourcev1.DeviceRequest{r}
		}(), want{asks: true, problem: `spec.spec.devices.requests[0].exactly.allocationMode: "Most" is not ExactCount or All; not counted`}},
		{"neither exactly nor firstAvailable", []resourcev1.DeviceRequest{{Name: "gpu"}}, want{problem: "requests[0]: sets neither exactly nor firstAvailable"}},
		{"empty class name", []resourcev1.DeviceRequest{exact("gpu", "", 1)}, want{problem: "requests[0].exactly.deviceClassName: empty"}},
		{"admin access is counted", func() []resourcev1.DeviceRequest {
			r := exact("gpu", "gpu.nvidia.com", 1)
			r.Exactly.AdminAccess = ptr.To(true)
			return []resourcev1.DeviceRequest{r}
		}(), want{gpus: 1, whole: 1, note: "adminAccess devices are counted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.ClaimTemplate(template("ai", "t", tc.reqs...))
			w := tc.want
			if got.GPUs != w.gpus || got.WholeGPUs != w.whole || !maps.Equal(got.MIG, w.mig) || len(got.All) != w.all {
				t.Errorf("GPUs %v whole %v MIG %v All %v, want %v %v %v %d", got.GPUs, got.WholeGPUs, got.MIG, got.All, w.gpus, w.whole, w.mig, w.all)
			}
			if got.FromClaims != got.GPUs || got.FromResources != 0 {
				t.Errorf("from claims %v, from resources %v", got.FromClaims, got.FromResources)
			}
			if !slices.Equal(got.Profiles, w.profiles) {
				t.Errorf("Profiles %v, want %v", got.Profiles, w.profiles)
			}
			check := func(kind string, list []string, want string) {
				t.Helper()
				if want == "" && len(list) > 0 && kind == "problem" {
					t.Errorf("unexpected problems %q", list)
				}
				if want != "" && !slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, want) }) {
					t.Errorf("no %s contains %q: %q", kind, want, list)
				}
			}
			check("note", got.Notes, w.note)
			check("problem", got.Problems, w.problem)
			if (got.GPUs > 0 || w.all > 0 || w.asks) != got.AsksForGPUs {
				t.Errorf("AsksForGPUs = %v", got.AsksForGPUs)
			}
		})
	}
}

func TestAllRequestDetails(t *testing.T) {
	c := newCounter(t, static(t, gpuClass(), migClass()))
	got := c.ClaimTemplate(template("ai", "everything", allOf("slices", "mig.nvidia.com", prof("1g.10gb"))))
	want := AllRequest{Class: "mig.nvidia.com", Where: "ResourceClaimTemplate ai/everything: spec.spec.devices.requests[0].exactly", PerDevice: 1.0 / 7, Profile: "1g.10gb"}
	if len(got.All) != 1 || got.All[0] != want {
		t.Errorf("All = %+v, want %+v", got.All, want)
	}
	if got.GPUs != 0.142857 {
		t.Errorf("GPUs = %v, want one 1g.10gb slice", got.GPUs)
	}
}

// TestConfiguredClassThatDoesNotExist: the configured kind still counts,
// and the problem says the class is missing.
func TestConfiguredClassThatDoesNotExist(t *testing.T) {
	c := newCounter(t, nil)
	got := c.ClaimTemplate(template("ai", "t", exact("mig", "mig.nvidia.com", 1, prof("3g.40gb"))))
	if got.GPUs != 0.428571 {
		t.Errorf("GPUs = %v, want 3/7", got.GPUs)
	}
	if len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "DeviceClass mig.nvidia.com does not exist; counted as configured (mig)") {
		t.Errorf("problems %q", got.Problems)
	}
}

func TestAllocatedClaimCountsItsDevices(t *testing.T) {
	c := newCounter(t, static(t, gpuClass(), migClass()))
	base := claim("ai", "shared",
		allOf("all", "gpu.nvidia.com"),
		resourcev1.DeviceRequest{Name: "pick", FirstAvailable: []resourcev1.DeviceSubRequest{sub("big", "gpu.nvidia.com", 4), sub("small", "mig.nvidia.com", 1, prof("3g.40gb"))}},
	)
	if spec := c.Claim(base); spec.GPUs != 5 || len(spec.All) != 1 {
		t.Fatalf("spec count %v All %v, want 1 (All) + 4 (largest alternative)", spec.GPUs, spec.All)
	}
	if s := c.ClaimState(base); s.Allocated || !s.Unbounded || s.GPUs != 5 {
		t.Errorf("unallocated state %+v", s)
	}
	// Allocated: All took 8 devices, the scheduler chose the MIG slice.
	results := []string{"all", "all", "all", "all", "all", "all", "all", "all", "pick/small"}
	s := c.ClaimState(allocate(base, results...))
	if !s.Allocated || s.Unbounded || Round(s.GPUs) != Round(8+3.0/7) {
		t.Errorf("allocated state %+v, want 8 + 3/7 GPUs", s)
	}
	s = c.ClaimState(allocate(base, "all", "gone"))
	if s.GPUs != 2 || len(s.Problems) != 1 || !strings.Contains(s.Problems[0], `status.allocation.devices.results[1].request: "gone" is not a request of the claim; counted as a whole GPU of driver gpu.nvidia.com`) {
		t.Errorf("result for an unknown request: %+v", s)
	}
}
