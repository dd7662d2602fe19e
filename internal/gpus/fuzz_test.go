package gpus

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
)

// FuzzReadSelector reads arbitrary selectors: never a panic, the same
// answer twice, and a profile only from a selector that parses.
func FuzzReadSelector(f *testing.F) {
	for _, s := range []string{
		"device.attributes['gpu.nvidia.com'].profile == '1g.10gb'",
		"device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig' && device.attributes['gpu.nvidia.com'].profile == '1g.12gb'",
		"'3g.40gb' == device.attributes['gpu.nvidia.com']['profile']",
		"device.attributes['gpu.nvidia.com'].profile in ['2g.20gb']",
		"cel.bind(dra, device.attributes['gpu.nvidia.com'], dra.profile == '4g.40gb' && dra.index == 0)",
		"device.attributes['gpu.nvidia.com'].?profile.orValue('') == '1g.10gb'",
		"device.attributes['gpu.nvidia.com'].profile.includes('7g.80gb') || false",
		"device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('40Gi')) >= 0",
		"has(device.attributes['gpu.nvidia.com'].profile) && !(device.attributes['gpu.nvidia.com'].profile == 'x')",
		"device.attributes['gpu.nvidia.com'].profile ==", "((((", "'\\u00ff' == device.driver",
	} {
		f.Add(s)
	}
	profile := parseAttrName(DefaultProfileAttribute)
	f.Fuzz(func(t *testing.T, expr string) {
		a := readSelector(expr, profile)
		b := readSelector(expr, profile)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("two reads differ: %+v / %+v", a, b)
		}
		if a.unreadable != "" && (len(a.profiles) > 0 || len(a.drivers) > 0 || len(a.domains) > 0) {
			t.Fatalf("an unparseable selector names %+v", a)
		}
	})
}

// FuzzCountClaim counts arbitrary claim specs as a claim, a template, an
// allocated claim and through a pod: never a panic, every number finite
// and not negative, and the pod counts what the claim counts.
func FuzzCountClaim(f *testing.F) {
	for _, s := range []string{
		`{"devices":{"requests":[{"name":"gpu","exactly":{"deviceClassName":"gpu.nvidia.com"}}]}}`,
		`{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.nvidia.com","count":8}},{"name":"all","exactly":{"deviceClassName":"gpu.nvidia.com","allocationMode":"All"}}]}}`,
		`{"devices":{"requests":[{"name":"m","exactly":{"deviceClassName":"mig.nvidia.com","selectors":[{"cel":{"expression":"device.attributes['gpu.nvidia.com'].profile == '3g.40gb'"}}]}}]}}`,
		`{"devices":{"requests":[{"name":"p","firstAvailable":[{"name":"a","deviceClassName":"mig.nvidia.com","count":2,"selectors":[{"cel":{"expression":"device.attributes['gpu.nvidia.com'].profile == '1g.10gb'"}}]},{"name":"b","deviceClassName":"gpu.nvidia.com"}]}]}}`,
		`{"devices":{"requests":[{"name":"x","exactly":{"deviceClassName":"gpu.nvidia.com","count":-9223372036854775808,"allocationMode":"Most"}},{"name":"y"}]}}`,
		`{"devices":{"requests":[{"name":"z","exactly":{"deviceClassName":"any","selectors":[{"cel":{"expression":"device.driver == 'gpu.nvidia.com'"}},{}]}}]}}`,
	} {
		f.Add([]byte(s), uint8(3))
	}
	src := static(f, gpuClass(), migClass(), class("any"))
	c := newCounter(f, src)
	f.Fuzz(func(t *testing.T, data []byte, results uint8) {
		var spec resourcev1.ResourceClaimSpec
		if json.Unmarshal(data, &spec) != nil {
			return
		}
		cl := &resourcev1.ResourceClaim{Spec: spec}
		cl.Namespace, cl.Name = "ai", "fuzz"
		tmpl := &resourcev1.ResourceClaimTemplate{Spec: resourcev1.ResourceClaimTemplateSpec{Spec: spec}}
		tmpl.Namespace, tmpl.Name = "ai", "fuzz"
		asClaim, asTemplate := c.Claim(cl), c.ClaimTemplate(tmpl)
		finiteCount(t, asClaim)
		finiteCount(t, asTemplate)
		if asClaim.GPUs != asTemplate.GPUs {
			t.Fatalf("claim %v, template %v", asClaim.GPUs, asTemplate.GPUs)
		}
		// Allocated: results naming the requests (and one that is not).
		alloc := cl.DeepCopy()
		alloc.Status.Allocation = &resourcev1.AllocationResult{}
		for i := range int(results % 40) {
			name := "unknown"
			if rs := spec.Devices.Requests; len(rs) > 0 {
				name = rs[i%len(rs)].Name
				if fa := rs[i%len(rs)].FirstAvailable; len(fa) > 0 {
					name += "/" + fa[i%len(fa)].Name
				}
			}
			alloc.Status.Allocation.Devices.Results = append(alloc.Status.Allocation.Devices.Results, resourcev1.DeviceRequestAllocationResult{Request: name, Driver: "gpu.nvidia.com"})
		}
		if s := c.ClaimState(alloc); !finite(s.GPUs) || s.GPUs > 40 {
			t.Fatalf("allocated claim with %d results counts %v", results%40, s.GPUs)
		}
		local := c.WithSource(static(t, gpuClass(), migClass(), class("any"), cl, tmpl))
		p := pod("ai", "p", nil, "a=fuzz", "b@fuzz")
		got := local.Pod("ai", p)
		finiteCount(t, got)
		if want := 2 * asClaim.GPUs; math.Abs(got.GPUs-want) > 1e-5 {
			t.Fatalf("pod with the claim and the template counts %v, want %v", got.GPUs, want)
		}
		u := local.NamespaceUsage("ai", []*corev1.Pod{p}, []*resourcev1.ResourceClaim{cl}, "")
		if !finite(u.GPUs) || u.GPUs < 0 || math.Abs(u.GPUs-got.GPUs) > 1e-5 {
			t.Fatalf("usage %v, pod %v", u.GPUs, got.GPUs)
		}
	})
}

// FuzzCountPod counts arbitrary pods: container resources with any
// quantity, and claims that may not exist.
func FuzzCountPod(f *testing.F) {
	for _, s := range []string{
		`{"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"1e70000"}}}]}}`,
		`{"spec":{"initContainers":[{"name":"i","restartPolicy":"Always","resources":{"requests":{"nvidia.com/mig-3g.40gb":"2"}}}],"containers":[{"name":"c","resources":{"requests":{"nvidia.com/gpu":"-1","deviceclass.resource.kubernetes.io/gpu.nvidia.com":"999999"}}}]}}`,
		`{"spec":{"containers":[{"name":"c"}],"resourceClaims":[{"name":"a","resourceClaimTemplateName":"t"},{"name":"b","resourceClaimName":"c"},{"name":"c"}]},"status":{"resourceClaimStatuses":[{"name":"a","resourceClaimName":"gen"}]}}`,
	} {
		f.Add([]byte(s))
	}
	t0 := template("ai", "t", exact("g", "gpu.nvidia.com", 2))
	c := newCounter(f, static(f, gpuClass(), migClass(), t0, claim("ai", "c", allOf("all", "mig.nvidia.com"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p corev1.Pod
		if json.Unmarshal(data, &p) != nil {
			return
		}
		got := c.Pod("ai", &p)
		finiteCount(t, got)
		u := c.NamespaceUsage("ai", []*corev1.Pod{&p}, nil, "")
		if !finite(u.GPUs) || u.GPUs < 0 {
			t.Fatalf("usage %v", u.GPUs)
		}
	})
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func finiteCount(t *testing.T, c Count) {
	t.Helper()
	for _, x := range []float64{c.GPUs, c.WholeGPUs, c.FromResources, c.FromClaims} {
		if !finite(x) || x < 0 {
			t.Fatalf("count %+v has %v", c, x)
		}
	}
	for p, n := range c.MIG {
		if !finite(n) || n < 0 {
			t.Fatalf("MIG %s: %v", p, n)
		}
	}
	if math.Abs(c.GPUs-(c.FromResources+c.FromClaims)) > 1e-5 {
		t.Fatalf("GPUs %v is not resources %v + claims %v", c.GPUs, c.FromResources, c.FromClaims)
	}
}
