package gpus

import (
	"slices"
	"strings"
	"testing"
)

func TestReadSelector(t *testing.T) {
	profile := parseAttrName(DefaultProfileAttribute)
	for _, tc := range []struct {
		expr     string
		profiles []string
		drivers  []string
		domains  []string
		// unreadable and unclear are substrings of the reasons.
		unreadable, unclear string
	}{
		// NVIDIA/k8s-dra-driver-gpu demo/specs/quickstart/v1/gpu-test4.yaml
		{expr: "device.attributes['gpu.nvidia.com'].profile == '1g.5gb'", profiles: []string{"1g.5gb"}, domains: []string{"gpu.nvidia.com"}},
		{expr: `"3g.20gb" == device.attributes["gpu.nvidia.com"].profile`, profiles: []string{"3g.20gb"}, domains: []string{"gpu.nvidia.com"}},
		{expr: "device.attributes['gpu.nvidia.com']['profile'] == '2g.10gb'", profiles: []string{"2g.10gb"}, domains: []string{"gpu.nvidia.com"}},
		{expr: "device.attributes['gpu.nvidia.com'].profile in ['3g.40gb']", profiles: []string{"3g.40gb"}, domains: []string{"gpu.nvidia.com"}},
		{expr: "device.attributes['gpu.nvidia.com'].profile.includes('7g.80gb')", profiles: []string{"7g.80gb"}, domains: []string{"gpu.nvidia.com"}},
		{expr: "device.attributes['gpu.nvidia.com'].?profile.orValue('') == '1g.10gb'", profiles: []string{"1g.10gb"}, domains: []string{"gpu.nvidia.com"}},
		{expr: "device.attributes['gpu.nvidia.com'].?profile.orValue('1g.10gb') == '1g.10gb'"},
		// NVIDIA's per-profile class (demo/specs/extended-resources/mig-1g-12gb.yaml).
		{
			expr:     "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig' && device.attributes['gpu.nvidia.com'].profile == '1g.12gb'",
			profiles: []string{"1g.12gb"}, drivers: []string{"gpu.nvidia.com"}, domains: []string{"gpu.nvidia.com"},
		},
		{
			expr:     "cel.bind(dra, device.attributes['gpu.nvidia.com'], dra.type == 'mig' && dra.profile == '4g.40gb')",
			profiles: []string{"4g.40gb"}, domains: []string{"gpu.nvidia.com"},
		},
		{
			expr:    "(device.attributes['gpu.nvidia.com'].index == 0 || device.attributes['gpu.nvidia.com'].index == 2) && device.attributes['gpu.nvidia.com'].productName.lowerAscii().matches('^.*a100.*$')",
			domains: nil,
		},
		{expr: "device.attributes['gpu.nvidia.com'].profile == '1g.10gb' || device.attributes['gpu.nvidia.com'].profile == '2g.20gb'", unclear: "||"},
		{expr: "device.attributes['gpu.nvidia.com'].profile in ['1g.10gb', '2g.20gb']", unclear: "2 profiles with in"},
		{expr: "device.attributes['gpu.nvidia.com'].profile.startsWith('3g')", unclear: "does not"},
		{expr: "!(device.attributes['gpu.nvidia.com'].profile == '1g.10gb')", unclear: "does not"},
		{expr: "device.attributes['gpu.nvidia.com'].profile == 3", unclear: "other than a string"},
		{expr: "device.attributes['gpu.nvidia.com'].profile != '1g.10gb' && device.attributes['gpu.nvidia.com'].profile == '2g.20gb'", profiles: []string{"2g.20gb"}, domains: []string{"gpu.nvidia.com"}, unclear: "does not"},
		// Another domain's profile is not the MIG profile.
		{expr: "device.attributes['example.com'].profile == 'fast'", domains: []string{"example.com"}},
		{expr: "device.attributes['gpu.nvidia.com'].profile ==", unreadable: "not a CEL expression"},
		{expr: "", unreadable: "not a CEL expression"},
		{expr: strings.Repeat("a", maxExpression+1), unreadable: "exceeds limit"},
	} {
		t.Run(tc.expr[:min(len(tc.expr), 60)], func(t *testing.T) {
			f := readSelector(tc.expr, profile)
			if !slices.Equal(f.profiles, tc.profiles) || !slices.Equal(f.drivers, tc.drivers) || !slices.Equal(f.domains, tc.domains) {
				t.Errorf("profiles %q drivers %q domains %q, want %q %q %q", f.profiles, f.drivers, f.domains, tc.profiles, tc.drivers, tc.domains)
			}
			if tc.unreadable == "" && f.unreadable != "" || !strings.Contains(f.unreadable, tc.unreadable) {
				t.Errorf("unreadable %q, want %q", f.unreadable, tc.unreadable)
			}
			if tc.unclear == "" && f.unclear != "" || !strings.Contains(f.unclear, tc.unclear) {
				t.Errorf("unclear %q, want %q", f.unclear, tc.unclear)
			}
		})
	}
}

func TestSelectorCacheIsBounded(t *testing.T) {
	var c selectorCache
	profile := parseAttrName(DefaultProfileAttribute)
	for i := range maxCachedSelectors + 10 {
		c.read("device.attributes['gpu.nvidia.com'].index == "+strings.Repeat("1", 1+i%5)+" && true || "+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676%26)), profile)
	}
	if n := c.n.Load(); n > maxCachedSelectors {
		t.Errorf("cache holds %d entries, more than %d", n, maxCachedSelectors)
	}
	var long selectorCache
	long.read(strings.Repeat("device.driver == 'gpu.nvidia.com' && ", 40)+"true", profile)
	if n := long.n.Load(); n != 0 {
		t.Errorf("a selector longer than %d bytes was cached", maxCachedLength)
	}
	// A cached answer is the same as a fresh one.
	e := "device.attributes['gpu.nvidia.com'].profile == '1g.10gb'"
	a, b := c.read(e, profile), readSelector(e, profile)
	if !slices.Equal(a.profiles, b.profiles) {
		t.Errorf("cached %v, fresh %v", a.profiles, b.profiles)
	}
}
